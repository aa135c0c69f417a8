// ddbfs goal get|set|rm|list: goals per file, directory and tag
// (docs/repair.md, "Goals"; docs/cli.md).

#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "format.h"

namespace ddbfs::cli {

namespace {

constexpr int kMinGoal = 1;
constexpr int kMaxGoal = 9;

struct GoalArgs {
  std::vector<std::string> args;  // get: PATH...; set: PATH N or N (with --tag)
  std::string tag;
  bool recursive = false;
  bool json = false;
};

// "1".."9", else nullopt after one line saying so.
std::optional<int> ParseGoal(Context& ctx, const std::string& text) {
  if (text.size() == 1 && text[0] >= '0' + kMinGoal && text[0] <= '0' + kMaxGoal) {
    return text[0] - '0';
  }
  ctx.FailText("", ErrorCode::kInvalidArgument,
               "goal '" + text + "' is not a number from " + std::to_string(kMinGoal) + " to " +
                   std::to_string(kMaxGoal) + " — give the number of replicas each chunk keeps");
  return std::nullopt;
}

std::string Describe(const GoalView& g, FileType type) {
  const char* what = type == FileType::kDirectory ? "directory" : "file";
  if (g.source == "tag") {
    return "tag rule '" + g.source_tag + "' (its own goal is " + std::to_string(g.own_goal) + ")";
  }
  if (g.source == "node") return std::string("set on this ") + what;
  if (g.source == "directory") {
    if (g.source_path.empty()) return "inherited from its directory when created";
    std::string out = "inherited from directory " + Shown(g.source_path);
    if (g.source_goal != g.own_goal) {
      out += " when created (" + Shown(g.source_path) + " has " + std::to_string(g.source_goal) +
             " now; goal set -r applies it below)";
    }
    return out;
  }
  return "cluster default";
}

int RunGet(Context& ctx, const GoalArgs& a) {
  if (a.args.empty()) throw UsageError{"goal get needs a PATH"};
  return ctx.ForEachPath(a.args, [&](Client& c, const std::string& p) {
    auto attr = c.ResolvePath(p);
    if (!attr.ok()) return ctx.Fail(p, attr.status());
    auto g = c.GetGoal(attr->inode);
    if (!g.ok()) return ctx.Fail(p, g.status());
    if (a.json) {
      std::cout << JsonObject()
                       .Add("path", p)
                       .Add("goal", g->goal)
                       .Add("own_goal", g->own_goal)
                       .Add("source", g->source)
                       .Add("source_path", g->source_path)
                       .Add("source_tag", g->source_tag)
                       .Add("tag_goal", g->tag_goal)
                       .str()
                << std::endl;
      return;
    }
    std::cout << Shown(p) << ": " << g->goal << " (" << Describe(*g, attr->type) << ")"
              << std::endl;
  });
}

// Every node below `dir` (breadth first, a page of one directory at a
// time): each call changes at most a page, so a big tree never makes one
// long transaction.
void SetBelow(Context& ctx, Client& c, const std::string& p, InodeId dir, int goal) {
  std::deque<InodeId> dirs{dir};
  int64_t changed = 0, denied = 0;
  while (!dirs.empty() && !ctx.aborted()) {
    const InodeId d = dirs.front();
    dirs.pop_front();
    std::string after;
    while (true) {
      auto page = c.SetGoalChildren(d, goal, after);
      if (!page.ok()) {
        // A directory that went away meanwhile is nothing to change.
        if (page.status().code() == ErrorCode::kNotFound) break;
        return ctx.Fail(p, page.status());
      }
      changed += page->changed;
      denied += page->denied;
      for (InodeId sub : page->directories) dirs.push_back(sub);
      if (!page->more) break;
      after = page->last_name;
    }
  }
  if (denied > 0) {
    ctx.FailText(p, ErrorCode::kPermissionDenied,
                 std::to_string(denied) +
                     " files or directories below were left at their goal: no write permission "
                     "on them — run it as their owner or root");
  }
  if (!ctx.quiet()) {
    std::cout << Shown(p) << ": goal " << goal << " on " << changed
              << " files and directories below changed" << std::endl;
  }
}

int RunSet(Context& ctx, const GoalArgs& a) {
  if (!a.tag.empty()) {
    if (a.args.size() != 1) throw UsageError{"goal set --tag TAG N takes one number N"};
    if (a.recursive) throw UsageError{"-r applies to a PATH, not to a tag rule"};
    std::optional<int> goal = ParseGoal(ctx, a.args[0]);
    if (!goal) return ctx.exit_code();
    Client* c = ctx.client();
    if (!c) return ctx.exit_code();
    auto docs = c->SetGoalRule(a.tag, *goal);
    if (!docs.ok()) {
      ctx.Fail("tag " + a.tag, docs.status());
      return ctx.exit_code();
    }
    if (!ctx.quiet()) {
      std::cout << "tag " << Shown(a.tag) << ": goal at least " << *goal << " (" << *docs
                << " documents carry it)" << std::endl;
    }
    return ctx.exit_code();
  }
  if (a.args.size() != 2) throw UsageError{"goal set takes PATH N (or --tag TAG N)"};
  std::optional<int> goal = ParseGoal(ctx, a.args[1]);
  if (!goal) return ctx.exit_code();
  return ctx.ForEachPath({a.args[0]}, [&](Client& c, const std::string& p) {
    auto attr = c.ResolvePath(p);
    if (!attr.ok()) return ctx.Fail(p, attr.status());
    auto changed = c.SetGoal(attr->inode, *goal);
    if (!changed.ok()) return ctx.Fail(p, changed.status());
    if (a.recursive && attr->type == FileType::kDirectory) {
      SetBelow(ctx, c, p, attr->inode, *goal);
    }
  });
}

int RunRemove(Context& ctx, const GoalArgs& a) {
  if (a.tag.empty())
    throw UsageError{"goal rm takes --tag TAG (a path's goal is set, not removed)"};
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto docs = c->RemoveGoalRule(a.tag);
  if (!docs.ok()) {
    ctx.Fail("tag " + a.tag, docs.status());
    return ctx.exit_code();
  }
  if (!ctx.quiet()) {
    std::cout << "tag " << Shown(a.tag) << ": goal rule removed (" << *docs
              << " documents carry it)" << std::endl;
  }
  return ctx.exit_code();
}

int RunList(Context& ctx, const GoalArgs& a) {
  Client* c = ctx.client();
  if (!c) return ctx.exit_code();
  auto rules = c->ListGoalRules();
  if (!rules.ok()) {
    ctx.Fail("", rules.status());
    return ctx.exit_code();
  }
  for (const GoalRuleView& r : *rules) {
    if (a.json) {
      std::cout
          << JsonObject().Add("tag", r.tag).Add("goal", r.goal).Add("documents", r.documents).str()
          << std::endl;
    } else {
      std::cout << Shown(r.tag) << '\t' << r.goal << '\t' << r.documents << " documents"
                << std::endl;
    }
  }
  return ctx.exit_code();
}

}  // namespace

Command GoalCommand() {
  return {"goal",
          {},
          "replicas per chunk: get a path's goal and where it comes from, set it on a file or "
          "directory (-r: everything below), or on documents carrying a tag (--tag, admins)",
          [](CLI::App* app) {
            auto a = std::make_shared<GoalArgs>();
            app->require_subcommand(1);
            auto* get = app->add_subcommand(
                "get",
                "the effective goal of each PATH and its source (the node, a directory, a tag "
                "rule, or the cluster default)");
            get->add_option("PATH", a->args, "DDBFS paths")->required();
            get->add_flag("--json", a->json, "one JSON object per path");
            auto* set = app->add_subcommand(
                "set",
                "PATH N: the goal (1-9) of a file, or of a directory (new entries inherit it); "
                "--tag TAG N: documents carrying TAG get at least N (admins)");
            set->add_option("ARGS", a->args, "PATH N, or N with --tag")->required();
            set->add_option("--tag", a->tag, "a tag rule instead of a path");
            set->add_flag("-r,--recursive", a->recursive,
                          "also every file and directory below PATH (they inherit it from PATH)");
            auto* rm = app->add_subcommand("rm", "--tag TAG: remove the goal rule of TAG (admins)");
            rm->add_option("--tag", a->tag, "the tag")->required();
            auto* list =
                app->add_subcommand("list", "the tag rules: TAG, goal, documents carrying it");
            list->add_flag("--json", a->json, "one JSON object per rule");
            return Runner([=](Context& ctx) {
              if (app->got_subcommand("get")) return RunGet(ctx, *a);
              if (app->got_subcommand("set")) return RunSet(ctx, *a);
              if (app->got_subcommand("rm")) return RunRemove(ctx, *a);
              return RunList(ctx, *a);
            });
          }};
}

}  // namespace ddbfs::cli
