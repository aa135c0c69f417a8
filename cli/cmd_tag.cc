// ddbfs tag / untag (one document, or -t TAG... PATH... with -r), the tag
// name commands (tag rename|merge|delete|create|imply|unimply|implies),
// ddbfs tags, and the svn-style propset/propget/propdel (docs/tags.md,
// docs/cli.md).

#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "format.h"

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

// Many documents: every PATH (with `recursive`, the non-directories below
// a directory instead of the directory). All paths are resolved first: one
// that fails changes nothing. Then one TagMany, all or nothing (batches of
// Client::kMaxTagManyInodes, each all or nothing, past a million).
class BulkTagger {
 public:
  BulkTagger(Context& ctx, Client& c) : ctx_(ctx), c_(c) {}

  // False (reported) when `p` or something below it cannot be read.
  bool AddPath(const std::string& p, bool recursive) {
    auto attr = c_.ResolvePath(p);
    if (!attr.ok()) return Failed(p, attr.status());
    if (recursive && attr->type == FileType::kDirectory) return Walk(p, attr->inode);
    Add(p, attr->inode);
    return true;
  }

  void Send(const std::vector<Tag>& tags, bool remove) {
    int64_t done = 0;
    for (size_t from = 0; from < inodes_.size(); from += Client::kMaxTagManyInodes) {
      const size_t to = std::min(inodes_.size(), from + Client::kMaxTagManyInodes);
      const std::vector<InodeId> batch(inodes_.begin() + from, inodes_.begin() + to);
      auto r = remove ? c_.TagMany(batch, {}, tags) : c_.TagMany(batch, tags, {});
      if (!r.ok()) {
        const std::string more =
            batch.size() > 1 ? " (and " + std::to_string(batch.size() - 1) + " after it)" : "";
        ctx_.Fail(paths_[from] + more, r.status(),
                  done > 0 ? std::to_string(done) + " documents before them were done" : "");
        return;
      }
      done += static_cast<int64_t>(batch.size());
    }
  }

 private:
  bool Failed(const std::string& p, const Status& s) {
    ctx_.Fail(p, s, "nothing was tagged");
    return false;
  }

  void Add(const std::string& p, InodeId inode) {
    paths_.push_back(p);
    inodes_.push_back(inode);
  }

  bool Walk(const std::string& dir, InodeId inode) {
    auto entries = c_.ListDir(inode);
    if (!entries.ok()) return Failed(dir, entries.status());
    for (const DirEntry& e : *entries) {
      const std::string p = (dir == "/" ? "" : dir) + "/" + e.name;
      if (e.attr.type != FileType::kDirectory) {
        Add(p, e.attr.inode);
      } else if (!Walk(p, e.attr.inode)) {
        return false;
      }
    }
    return true;
  }

  Context& ctx_;
  Client& c_;
  std::vector<std::string> paths_;
  std::vector<InodeId> inodes_;
};

struct TagArgs {
  std::vector<std::string> args;  // PATH TAG... , or PATH... with -t
  std::vector<std::string> tags;  // -t
  bool recursive = false;
  std::vector<std::string> names;  // tag rename|merge|...
  bool json = false;
};

int RunTagArgs(Context& ctx, const TagArgs& a, bool remove) {
  if (a.tags.empty()) {
    if (a.recursive) throw UsageError{"-r needs the tags as -t TAG (tag -r -t TAG PATH...)"};
    if (a.args.size() < 2) {
      throw UsageError{"give a path and tags (tag PATH TAG...), or tag -t TAG... PATH..."};
    }
    return RunTag(ctx, a.args[0], {a.args.begin() + 1, a.args.end()}, remove);
  }
  if (a.args.empty()) throw UsageError{"give the documents' paths (tag -t TAG... PATH...)"};
  std::optional<std::vector<Tag>> tags = ParseTags(ctx, a.tags);
  if (!tags) return ctx.exit_code();
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  BulkTagger bulk(ctx, *c);
  bool all = true;
  ctx.ForEachPath(a.args, [&](Client&, const std::string& p) {
    if (all) all = bulk.AddPath(p, a.recursive);
  });
  if (all && !ctx.failed()) bulk.Send(*tags, remove);
  return ctx.exit_code();
}

int RunTagAdmin(Context& ctx, Client::TagAdminOp op, const std::vector<std::string>& names) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto r = c->TagAdmin(op, names.at(0), names.size() > 1 ? names[1] : "");
  if (!r.ok()) {
    ctx.Fail(names.at(0), r.status());
  } else if (*r > 0 && !ctx.quiet()) {
    std::cerr << *r << " documents changed" << std::endl;
  }
  return ctx.exit_code();
}

int RunImplies(Context& ctx, bool json) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto rules = c->ListImplications();
  if (!rules.ok()) {
    ctx.Fail("", rules.status());
    return ctx.exit_code();
  }
  std::string out;
  for (const auto& [tag, implied] : *rules) {
    if (json) {
      out += (out.empty() ? "[\n  " : ",\n  ") +
             JsonObject().Add("tag", tag).Add("implies", implied).str();
    } else {
      out += Shown(tag) + " -> " + Shown(implied) + '\n';
    }
  }
  if (json) out += out.empty() ? "[]\n" : "\n]\n";
  std::cout << out << std::flush;
  return ctx.exit_code();
}

// Adds the tag name commands under `tag`.
void AddTagAdmin(CLI::App* app, const std::shared_ptr<TagArgs>& a) {
  struct Sub {
    const char* name;
    const char* what;
    int names;
  };
  static const Sub kSubs[] = {
      {"rename", "rename a tag on every document: tag rename OLD NEW (admin)", 2},
      {"merge", "merge tag A into B (its documents get B, A goes): tag merge A B (admin)", 2},
      {"imply", "documents tagged A also match B in queries: tag imply A B (admin)", 2},
      {"unimply", "remove the rule A implies B: tag unimply A B (admin)", 2},
      {"delete", "delete a tag from every document: tag delete NAME (admin)", 1},
      {"create", "create a tag that no document carries yet: tag create NAME", 1}};
  for (const Sub& s : kSubs) {
    app->add_subcommand(s.name, s.what)
        ->add_option("NAMES", a->names, s.names == 2 ? "two tag names" : "a tag name")
        ->expected(s.names)
        ->required();
  }
  app->add_subcommand("implies", "the implication rules, A -> B, by A (--json)")
      ->add_flag("--json", a->json, "a JSON array");
}

std::optional<int> RunTagSubcommand(Context& ctx, CLI::App* app, const TagArgs& a) {
  static const std::pair<const char*, Client::TagAdminOp> kOps[] = {
      {"rename", Client::TagAdminOp::kRename}, {"merge", Client::TagAdminOp::kMerge},
      {"imply", Client::TagAdminOp::kImply},   {"unimply", Client::TagAdminOp::kUnimply},
      {"delete", Client::TagAdminOp::kDelete}, {"create", Client::TagAdminOp::kCreate}};
  for (const auto& [name, op] : kOps) {
    if (app->got_subcommand(name)) return RunTagAdmin(ctx, op, a.names);
  }
  if (app->got_subcommand("implies")) return RunImplies(ctx, a.json);
  return std::nullopt;
}

struct TagsArgs {
  std::vector<std::string> paths;
  bool json = false;
  bool names = false;
  std::string within;
  std::string values;
};

// One document's tags per PATH.
int RunDocumentTags(Context& ctx, const TagsArgs& a) {
  std::string out;
  const bool headers = a.paths.size() > 1 && !a.json;
  int shown = 0;
  ctx.ForEachPath(a.paths, [&](Client& c, const std::string& p) {
    auto attr = c.ResolvePath(p);
    if (!attr.ok()) return ctx.Fail(p, attr.status());
    auto tags = c.GetTags(attr->inode);
    if (!tags.ok()) return ctx.Fail(p, tags.status());
    if (a.json) {
      std::string list;
      for (const Tag& t : *tags) list += (list.empty() ? "" : ", ") + JsonString(TagText(t));
      out += (shown++ ? ",\n  " : "[\n  ") +
             JsonObject().Add("path", p).AddRaw("tags", "[" + list + "]").str();
      return;
    }
    if (headers) out += (shown++ ? "\n" : "") + Shown(p) + ":\n";
    for (const Tag& t : *tags) out += Shown(TagText(t)) + '\n';
  });
  if (a.json) out += shown ? "\n]\n" : "[]\n";
  std::cout << out << std::flush;
  return ctx.exit_code();
}

// Every tag (or the values of one) with its counts.
int RunTagCounts(Context& ctx, const TagsArgs& a) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  std::optional<std::string> within;
  std::optional<std::string> name;
  if (!a.within.empty()) within = a.within;
  if (!a.values.empty()) name = a.values;
  std::string out;
  int64_t shown = 0;
  for (int offset = 0;;) {
    auto page = a.names && !within && !name ? c->ListTagNames(offset, 100000)
                                            : c->ListTags(within, name, offset, 100000);
    if (!page.ok()) {
      ctx.Fail(a.values, page.status(),
               page.status().code() == ErrorCode::kInvalidArgument && within
                   ? "see docs/query_language.md"
                   : "");
      return ctx.exit_code();
    }
    for (const TagCount& t : page->tags) {
      const std::string text = t.value ? "=" + *t.value : t.name;
      if (a.json) {
        JsonObject o;
        o.Add("name", t.name);
        if (t.value) o.Add("value", *t.value);
        o.Add("documents", t.documents).Add("bytes", t.bytes);
        out += (shown ? ",\n  " : "[\n  ") + o.str();
      } else if (a.names) {
        out += Shown(t.value ? *t.value : t.name) + '\n';
      } else {
        char counts[64];
        std::snprintf(counts, sizeof counts, "%9lld %10s  ", static_cast<long long>(t.documents),
                      HumanBytes(static_cast<uint64_t>(t.bytes)).c_str());
        out += counts + Shown(text) + '\n';
      }
      ++shown;
    }
    std::cout << out << std::flush;
    out.clear();
    if (!page->more) break;
    offset += static_cast<int>(page->tags.size());
  }
  if (a.json) std::cout << (shown ? "\n]\n" : "[]\n") << std::flush;
  return ctx.exit_code();
}

// svn propset NAME VALUE PATH... (replaces NAME's values), propdel NAME
// PATH..., propget NAME PATH... (its values, one per line).
struct PropArgs {
  std::string name;
  std::string value;
  std::vector<std::string> paths;
};

int RunProp(Context& ctx, const PropArgs& a, const std::string& verb) {
  std::optional<std::vector<Tag>> parsed =
      ParseTags(ctx, {verb == "propset" ? a.name + "=" + a.value : a.name});
  if (!parsed) return ctx.exit_code();
  const Tag tag = parsed->front();
  const Tag name_only{tag.name, std::nullopt};
  std::string out;
  ctx.ForEachPath(a.paths, [&](Client& c, const std::string& p) {
    auto attr = c.ResolvePath(p);
    if (!attr.ok()) return ctx.Fail(p, attr.status());
    if (verb == "propset" || verb == "propdel") {
      auto r = verb == "propset" ? c.SetTags(attr->inode, {tag}, {name_only})
                                 : c.SetTags(attr->inode, {}, {name_only});
      if (!r.ok()) ctx.Fail(p, r.status());
      return;
    }
    auto tags = c.GetTags(attr->inode);
    if (!tags.ok()) return ctx.Fail(p, tags.status());
    bool found = false;
    for (const Tag& t : *tags) {
      if (t.name != tag.name) continue;
      found = true;
      out += (a.paths.size() > 1 ? Shown(p) + " - " : "") + Shown(t.value.value_or("")) + '\n';
    }
    if (!found) ctx.FailText(p, ErrorCode::kNoData, "carries no tag '" + Shown(tag.name) + "'");
  });
  std::cout << out << std::flush;
  return ctx.exit_code();
}

Command PropCommand(const char* verb, const char* summary, bool with_value) {
  return {verb, {}, summary, [=](CLI::App* app) {
            auto a = std::make_shared<PropArgs>();
            app->add_option("NAME", a->name, "tag name")->required();
            if (with_value) app->add_option("VALUE", a->value, "tag value")->required();
            app->add_option("PATH", a->paths, "DDBFS paths")->required();
            const std::string v = verb;
            return Runner([=](Context& ctx) { return RunProp(ctx, *a, v); });
          }};
}

Command TagOrUntag(bool remove) {
  const char* summary =
      remove ? "take tags off documents: untag PATH TAG[=VALUE]..., or untag -t TAG... [-r] "
               "PATH... (a NAME alone: all its values)"
             : "put tags on documents: tag PATH TAG[=VALUE]..., or tag -t TAG... [-r] PATH...; "
               "tag rename|merge|delete|create|imply|unimply|implies";
  return {remove ? "untag" : "tag", {}, summary, [remove](CLI::App* app) {
            auto a = std::make_shared<TagArgs>();
            app->add_option("ARGS", a->args,
                            "PATH TAG[=VALUE]... (one document), or PATH... with -t");
            app->add_option("-t,--tag", a->tags, "a tag for every PATH (repeat -t for more)")
                ->allow_extra_args(false);
            app->add_flag("-r,--recursive", a->recursive,
                          "with -t: the files below each directory PATH");
            if (!remove) AddTagAdmin(app, a);
            return Runner([=](Context& ctx) {
              if (!remove) {
                if (std::optional<int> r = RunTagSubcommand(ctx, app, *a)) return *r;
              }
              return RunTagArgs(ctx, *a, remove);
            });
          }};
}

}  // namespace

Command TagCommand() { return TagOrUntag(false); }
Command UntagCommand() { return TagOrUntag(true); }

Command TagsCommand() {
  return {"tags",
          {"proplist"},
          "tags PATH...: each document's tags; tags: every tag with its documents and bytes "
          "(--within EXPR, --values NAME, --names, --json)",
          [](CLI::App* app) {
            auto a = std::make_shared<TagsArgs>();
            app->add_option("PATH", a->paths, "DDBFS paths (none: every tag with counts)");
            app->add_flag("--json", a->json, "a JSON array");
            app->add_flag("--names", a->names, "names only, one per line");
            app->add_option("--within", a->within, "count only among the documents EXPR selects");
            app->add_option("--values", a->values, "the values of tag NAME with their counts");
            return Runner([=](Context& ctx) {
              if (a->paths.empty()) return RunTagCounts(ctx, *a);
              if (!a->within.empty() || !a->values.empty() || a->names) {
                throw UsageError{"--within, --values and --names list every tag: give no PATH"};
              }
              return RunDocumentTags(ctx, *a);
            });
          }};
}

Command PropsetCommand() {
  return PropCommand("propset",
                     "svn-style: propset NAME VALUE PATH... (tag NAME=VALUE, in place "
                     "of NAME's other values)",
                     true);
}
Command PropgetCommand() {
  return PropCommand("propget", "svn-style: propget NAME PATH... (the values of tag NAME)", false);
}
Command PropdelCommand() {
  return PropCommand("propdel", "svn-style: propdel NAME PATH... (untag NAME)", false);
}

}  // namespace ddbfs::cli
