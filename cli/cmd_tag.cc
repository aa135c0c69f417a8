// ddbfs tag PATH TAG[=VALUE]..., ddbfs untag PATH TAG[=VALUE]...,
// ddbfs tags PATH... and ddbfs query EXPR (docs/tags.md, docs/cli.md).

#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"

namespace ddbfs::cli {

namespace {

// The tags given on the command line, or nullopt after reporting the first
// that is not one.
std::optional<std::vector<Tag>> ParseTags(Context& ctx, const std::vector<std::string>& given) {
  std::vector<Tag> out;
  for (const std::string& text : given) {
    Result<Tag> t = ParseTag(text);
    if (!t.ok()) {
      ctx.FailText("'" + text + "'", t.status().code(),
                   t.status().message() + " — write TAG or TAG=VALUE, e.g. photo or year=2021");
      return std::nullopt;
    }
    out.push_back(std::move(*t));
  }
  return out;
}

int RunTag(Context& ctx, const std::string& path, const std::vector<std::string>& given,
           bool remove) {
  std::optional<std::vector<Tag>> tags = ParseTags(ctx, given);
  if (!tags) return ctx.exit_code();
  return ctx.ForEachPath({path}, [&](Client& c, const std::string& p) {
    auto attr = c.ResolvePath(p);
    if (!attr.ok()) return ctx.Fail(p, attr.status());
    auto after = remove ? c.SetTags(attr->inode, {}, *tags) : c.SetTags(attr->inode, *tags, {});
    if (!after.ok()) ctx.Fail(p, after.status());
  });
}

int RunTags(Context& ctx, const std::vector<std::string>& paths) {
  std::ostringstream out;
  const bool headers = paths.size() > 1;
  int shown = 0;
  ctx.ForEachPath(paths, [&](Client& c, const std::string& p) {
    auto attr = c.ResolvePath(p);
    if (!attr.ok()) return ctx.Fail(p, attr.status());
    auto tags = c.GetTags(attr->inode);
    if (!tags.ok()) return ctx.Fail(p, tags.status());
    if (headers) out << (shown++ ? "\n" : "") << p << ":\n";
    for (const Tag& t : *tags) out << TagText(t) << '\n';
  });
  std::cout << out.str() << std::flush;
  return ctx.exit_code();
}

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

// Paths of the matches, one per line, page after page.
int RunQuery(Context& ctx, const std::string& expr) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  InodeId after = 0;
  for (;;) {
    Result<Client::QueryPage> page = c->Query(expr, after);
    if (!page.ok()) {
      FailQuery(ctx, "", page.status());
      return ctx.exit_code();
    }
    std::string out;
    for (const Client::QueryHit& h : page->hits) out += h.path + '\n';
    std::cout << out << std::flush;
    if (!page->more) return ctx.exit_code();
    after = page->next_after;
  }
}

struct QueryArgs {
  std::vector<std::string> words;  // the expression
  std::string name;                // save, rm, run
};

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
      if (q.name == a.name) return RunQuery(ctx, q.expr);
    }
    ctx.FailText(a.name, ErrorCode::kNotFound,
                 "no saved query of that name — `ddbfs query list` shows them");
    return ctx.exit_code();
  }
  std::string out;
  for (const SavedQuery& q : *list) out += q.name + "\t" + q.expr + '\n';
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
        app->add_option("EXPR", a->words, "the query (words are joined by spaces)");
        auto* save = app->add_subcommand("save", "save EXPR as NAME, for every client");
        save->add_option("NAME", a->name, "its name (also under .query/ in the mount)")->required();
        save->add_option("EXPR", a->words, "the query")->required();
        app->add_subcommand("list", "the saved queries: NAME<tab>EXPR, by name");
        app->add_subcommand("run", "run a saved query")
            ->add_option("NAME", a->name, "its name")
            ->required();
        app->add_subcommand("rm", "remove a saved query (its owner or root)")
            ->add_option("NAME", a->name, "its name")
            ->required();
        return Runner([=](Context& ctx) {
          if (!app->get_subcommands().empty()) return RunSaved(ctx, app, *a);
          if (a->words.empty()) {
            throw UsageError{"give a query (e.g. ddbfs query photo and year>=2020)"};
          }
          return RunQuery(ctx, Joined(a->words));
        });
      }};
}

Command TagCommand() {
  return {"tag",
          {},
          "put tags on a document: tag PATH TAG[=VALUE]... (e.g. tag /a.jpg photo year=2021)",
          [](CLI::App* app) {
            auto path = std::make_shared<std::string>();
            auto tags = std::make_shared<std::vector<std::string>>();
            app->add_option("PATH", *path, "DDBFS path of the document")->required();
            app->add_option("TAG", *tags, "NAME or NAME=VALUE")->required();
            return Runner([=](Context& ctx) { return RunTag(ctx, *path, *tags, false); });
          }};
}

Command UntagCommand() {
  return {"untag",
          {},
          "take tags off a document: untag PATH TAG[=VALUE]... (a NAME alone: all its values)",
          [](CLI::App* app) {
            auto path = std::make_shared<std::string>();
            auto tags = std::make_shared<std::vector<std::string>>();
            app->add_option("PATH", *path, "DDBFS path of the document")->required();
            app->add_option("TAG", *tags, "NAME or NAME=VALUE")->required();
            return Runner([=](Context& ctx) { return RunTag(ctx, *path, *tags, true); });
          }};
}

Command TagsCommand() {
  return {"tags", {}, "the tags of documents, one per line: tags PATH...", [](CLI::App* app) {
            auto paths = std::make_shared<std::vector<std::string>>();
            app->add_option("PATH", *paths, "DDBFS paths")->required();
            return Runner([=](Context& ctx) { return RunTags(ctx, *paths); });
          }};
}

}  // namespace ddbfs::cli
