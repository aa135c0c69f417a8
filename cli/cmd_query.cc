// ddbfs query EXPR [-l] [--count] [--sort name|size|mtime] [--limit N]
// [--print0] [--json], and query save|list|run|rm (docs/query_language.md,
// docs/cli.md).

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "format.h"

namespace ddbfs::cli {

namespace {

std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

void FailQuery(Context& ctx, const std::string& subject, const Status& s) {
  ctx.FailText(subject, s.code(),
               s.code() == ErrorCode::kInvalidArgument
                   ? s.message() + " — see docs/query_language.md"
                   : s.message());
}

struct QueryArgs {
  std::vector<std::string> words;  // the expression
  std::string name;                // save, rm, run
  bool long_format = false;
  bool count = false;
  std::string sort;   // "", name, size, mtime
  int64_t limit = 0;  // 0: all
  bool print0 = false;
  bool json = false;
};

// Prints the matches as they come (or, with --sort, all of them at the end).
class QueryPrinter {
 public:
  explicit QueryPrinter(const QueryArgs& a) : a_(a) {}

  // False once --limit is reached.
  bool Add(std::vector<Client::QueryHit>& hits) {
    for (Client::QueryHit& h : hits) {
      if (a_.limit > 0 && seen_ >= a_.limit && a_.sort.empty()) return false;
      ++seen_;
      if (a_.count) continue;
      if (a_.sort.empty()) {
        Print(h);
      } else {
        kept_.push_back(std::move(h));
      }
    }
    std::cout << out_ << std::flush;
    out_.clear();
    return a_.limit == 0 || seen_ < a_.limit || !a_.sort.empty();
  }

  void Finish() {
    if (a_.count) {
      std::cout << seen_ << std::endl;
      return;
    }
    if (!a_.sort.empty()) {
      auto by = [&](const Client::QueryHit& x, const Client::QueryHit& y) {
        if (a_.sort == "size" && x.attr.size != y.attr.size) return x.attr.size > y.attr.size;
        if (a_.sort == "mtime" && x.attr.mtime_ns != y.attr.mtime_ns) {
          return x.attr.mtime_ns > y.attr.mtime_ns;
        }
        return x.path < y.path;
      };
      std::sort(kept_.begin(), kept_.end(), by);
      if (a_.limit > 0 && static_cast<int64_t>(kept_.size()) > a_.limit) kept_.resize(a_.limit);
      for (const Client::QueryHit& h : kept_) Print(h);
    }
    if (a_.json) out_ += printed_ ? "\n]\n" : "[]\n";
    std::cout << out_ << std::flush;
  }

 private:
  void Print(const Client::QueryHit& h) {
    if (a_.json) {
      const size_t slash = h.path.rfind('/');
      const std::string name = slash == std::string::npos ? h.path : h.path.substr(slash + 1);
      out_ += (printed_ ? ",\n  " : "[\n  ") + EntryJson(name, h.path, h.attr, nullptr);
    } else if (a_.print0) {
      out_ += h.path;
      out_ += '\0';
    } else if (a_.long_format) {
      out_ += ModeString(h.attr.type, h.attr.mode) + " " + std::to_string(h.attr.size) + " " +
              ShortTime(h.attr.mtime_ns) + " " + Shown(h.path) + '\n';
    } else {
      out_ += Shown(h.path) + '\n';
    }
    ++printed_;
  }

  const QueryArgs& a_;
  int64_t seen_ = 0;
  int64_t printed_ = 0;
  std::vector<Client::QueryHit> kept_;
  std::string out_;
};

// The matches, page after page.
int RunQuery(Context& ctx, const std::string& expr, const QueryArgs& a) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  QueryPrinter printer(a);
  InodeId after = 0;
  for (;;) {
    Result<Client::QueryPage> page = c->Query(expr, after);
    if (!page.ok()) {
      FailQuery(ctx, "", page.status());
      return ctx.exit_code();
    }
    if (!printer.Add(page->hits) || !page->more) break;
    after = page->next_after;
  }
  printer.Finish();
  return ctx.exit_code();
}

int RunSaved(Context& ctx, CLI::App* app, const QueryArgs& a) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  if (app->got_subcommand("save")) {
    if (Status s = c->SaveQuery(a.name, Joined(a.words)); !s.ok()) FailQuery(ctx, a.name, s);
    return ctx.exit_code();
  }
  if (app->got_subcommand("rm")) {
    if (Status s = c->DeleteQuery(a.name); !s.ok()) ctx.Fail(a.name, s);
    return ctx.exit_code();
  }
  auto list = c->ListQueries();
  if (!list.ok()) {
    ctx.Fail("", list.status());
    return ctx.exit_code();
  }
  if (app->got_subcommand("run")) {
    for (const SavedQuery& q : *list) {
      if (q.name == a.name) return RunQuery(ctx, q.expr, a);
    }
    ctx.FailText(a.name, ErrorCode::kNotFound,
                 "no saved query of that name — `ddbfs query list` shows them");
    return ctx.exit_code();
  }
  std::string out;
  if (a.json) {
    for (const SavedQuery& q : *list) {
      out +=
          (out.empty() ? "[\n  " : ",\n  ") +
          JsonObject().Add("name", q.name).Add("expr", q.expr).Add("owner_uid", q.owner_uid).str();
    }
    out += out.empty() ? "[]\n" : "\n]\n";
  } else {
    for (const SavedQuery& q : *list) out += Shown(q.name) + "\t" + Shown(q.expr) + '\n';
  }
  std::cout << out << std::flush;
  return ctx.exit_code();
}

}  // namespace

Command QueryCommand() {
  return {
      "query",
      {"find"},
      "documents a query selects, one path per line: query EXPR (e.g. photo and "
      "year>=2020); query save NAME EXPR | list | run NAME | rm NAME",
      [](CLI::App* app) {
        auto a = std::make_shared<QueryArgs>();
        app->fallthrough();  // query run NAME -l: the listing options are the parent's
        app->add_option("EXPR", a->words, "the query (words are joined by spaces)");
        app->add_flag("-l", a->long_format, "mode, size, modification time and path");
        app->add_flag("--count", a->count, "only how many documents match");
        app->add_option("--sort", a->sort,
                        "name (path), size (largest first), mtime (newest first)")
            ->check(CLI::IsMember({"name", "size", "mtime"}));
        app->add_option("--limit", a->limit, "at most N documents")->check(CLI::PositiveNumber);
        app->add_flag("--print0", a->print0, "paths ended by NUL, for xargs -0");
        app->add_flag("--json", a->json, "a JSON array of entries, as ls --json");
        auto* save = app->add_subcommand("save", "save EXPR as NAME, for every client");
        save->add_option("NAME", a->name, "its name (also under .query/ in the mount)")->required();
        save->add_option("EXPR", a->words, "the query")->required();
        app->add_subcommand("list", "the saved queries: NAME<tab>EXPR, by name (--json)")
            ->add_flag("--json", a->json, "a JSON array");
        auto* run = app->add_subcommand("run", "run a saved query (the listing options apply)");
        run->add_option("NAME", a->name, "its name")->required();
        app->add_subcommand("rm", "remove a saved query (its owner or root)")
            ->add_option("NAME", a->name, "its name")
            ->required();
        return Runner([=](Context& ctx) {
          if (!app->get_subcommands().empty()) return RunSaved(ctx, app, *a);
          if (a->words.empty()) {
            throw UsageError{"give a query (e.g. ddbfs query photo and year>=2020)"};
          }
          return RunQuery(ctx, Joined(a->words), *a);
        });
      }};
}

}  // namespace ddbfs::cli
