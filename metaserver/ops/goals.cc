#include <algorithm>

#include "ddbfs/query.h"
#include "metaserver/ops/goal_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/goal_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/tag_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

// A changed goal is acted on by the next repair pass; kick it now.
void KickRepair(OpContext& ctx) {
  if (ctx.repairer) ctx.repairer->Kick();
}

}  // namespace

Status ValidateGoal(int goal) {
  if (goal >= kMinGoal && goal <= kMaxGoal) return Status();
  return InvalidArgument("goal " + std::to_string(goal) + " is not between " +
                         std::to_string(kMinGoal) + " and " + std::to_string(kMaxGoal));
}

Result<GoalInfo> GetGoal(OpContext& ctx, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  GoalInfo out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    out = GoalInfo();
    ASSIGN_OR_RETURN(std::optional<store::NodeGoal> node, store::GetNodeGoal(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    ASSIGN_OR_RETURN(std::optional<store::TagGoal> tag, store::TagGoalOf(tx, inode));
    out.own_goal = node->attr.goal;
    out.goal = out.own_goal;
    if (tag) {
      out.tag_goal = tag->goal;
      if (tag->goal > out.own_goal) {
        out.goal = tag->goal;
        out.source = "tag";
        out.source_tag = tag->tag;
        return Status();
      }
    }
    if (node->goal_set) {
      out.source = "node";
      return Status();
    }
    ASSIGN_OR_RETURN(std::vector<store::GoalAncestor> up, store::GoalAncestors(tx, inode));
    out.source = "default";
    for (const store::GoalAncestor& a : up) {
      if (!a.goal_set) continue;
      out.source = "directory";
      out.source_path = a.path;
      out.source_goal = a.goal;
      break;
    }
    return Status();
  }));
  return out;
}

Result<bool> SetGoal(OpContext& ctx, const Caller& caller, InodeId inode, int goal) {
  RETURN_IF_ERROR(ValidateInode(inode));
  RETURN_IF_ERROR(ValidateGoal(goal));
  bool changed = false;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<store::NodeGoal> node, store::GetNodeGoal(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    RETURN_IF_ERROR(CheckAccess(node->attr, caller, kMayWrite, "set goal"));
    ASSIGN_OR_RETURN(changed, store::SetNodeGoal(tx, inode, goal, /*goal_set=*/true, NowNs()));
    return Status();
  }));
  if (changed) KickRepair(ctx);
  return changed;
}

Result<GoalChildrenResult> SetChildrenGoal(OpContext& ctx, const Caller& caller, InodeId dir,
                                           int goal, const std::string& after_name, int limit) {
  RETURN_IF_ERROR(ValidateInode(dir));
  RETURN_IF_ERROR(ValidateGoal(goal));
  if (!after_name.empty()) RETURN_IF_ERROR(ValidateName(after_name));
  if (limit <= 0 || limit > kGoalPage) limit = kGoalPage;
  GoalChildrenResult out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    out = GoalChildrenResult();
    ASSIGN_OR_RETURN(std::optional<store::NodeGoal> node, store::GetNodeGoal(tx, dir));
    if (!node) return NotFound("no inode " + std::to_string(dir));
    if (node->attr.type != FileType::kDirectory) {
      return Status(ErrorCode::kNotDir, "inode " + std::to_string(dir) + " is not a directory");
    }
    RETURN_IF_ERROR(CheckAccess(node->attr, caller, kMayRead | kMayExec, "list for goal set -r"));
    // One more than the page: whether more follow.
    ASSIGN_OR_RETURN(std::vector<store::GoalChild> children,
                     store::GoalChildren(tx, dir, after_name, limit + 1));
    out.more = static_cast<int>(children.size()) > limit;
    if (out.more) children.resize(static_cast<size_t>(limit));
    std::vector<int64_t> ids;
    for (const store::GoalChild& c : children) {
      const FileType t = c.attr.type;
      if (t != FileType::kRegular && t != FileType::kDirectory) continue;
      if (!CheckAccess(c.attr, caller, kMayWrite, "set goal").ok()) {
        ++out.denied;
        continue;
      }
      ids.push_back(c.attr.inode);
      if (t == FileType::kDirectory) out.directories.push_back(c.attr.inode);
    }
    if (!children.empty()) out.last_name = children.back().name;
    if (ids.empty()) return Status();
    ASSIGN_OR_RETURN(std::vector<InodeId> changed, store::SetGoals(tx, ids, goal, NowNs()));
    out.changed = static_cast<int>(changed.size());
    return Status();
  }));
  if (out.changed > 0) KickRepair(ctx);
  return out;
}

Result<int64_t> SetGoalRule(OpContext& ctx, bool admin, const std::string& tag, int goal) {
  RETURN_IF_ERROR(query::ValidateTagName(tag));
  if (goal != 0) RETURN_IF_ERROR(ValidateGoal(goal));
  if (!admin) {
    return Status(ErrorCode::kNotPermitted,
                  "goal rules need an admin acting as root — run it as root on the metaserver's "
                  "host, or with an admin key whose root maps to 0 (docs/security.md)");
  }
  int64_t documents = 0;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    if (goal == 0) {
      ASSIGN_OR_RETURN(std::optional<int64_t> id, store::TagId(tx, tag));
      bool removed = false;
      if (id) {
        ASSIGN_OR_RETURN(removed, store::RemoveGoalRule(tx, *id));
      }
      if (!removed)
        return NotFound("no goal rule for tag '" + tag + "' — ddbfs goal list shows them");
      ASSIGN_OR_RETURN(documents, store::TagDocuments(tx, *id));
      return Status();
    }
    RETURN_IF_ERROR(store::CreateTagName(tx, tag, NowNs()).status());
    ASSIGN_OR_RETURN(std::optional<int64_t> id, store::TagId(tx, tag));
    if (!id) return Internal("tag '" + tag + "' vanished while its goal rule was set");
    RETURN_IF_ERROR(store::SetGoalRule(tx, *id, goal, NowNs()));
    ASSIGN_OR_RETURN(documents, store::TagDocuments(tx, *id));
    return Status();
  }));
  KickRepair(ctx);
  return documents;
}

Result<std::vector<store::GoalRuleRecord>> ListGoalRules(OpContext& ctx) {
  std::vector<store::GoalRuleRecord> out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(out, store::ListGoalRules(tx, kMaxGoalRules));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
