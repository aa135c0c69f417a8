#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/store/goal_store.h"

// Goals per file, directory and tag (goals.cc; docs/repair.md, "Goals").
// The goal the repair keeps for a file's chunks is the highest of the
// file's own goal (set on it, or copied from its directory at creation)
// and the goals of the rules of the tags it carries. Thread-safe.
namespace ddbfs::meta {

inline constexpr int kMinGoal = 1;
inline constexpr int kMaxGoal = 9;  // the inodes.goal CHECK
// Entries one SetGoalChildren call looks at, at most.
inline constexpr int kGoalPage = 1000;
inline constexpr int kMaxGoalRules = 10000;

// kInvalidArgument unless kMinGoal <= goal <= kMaxGoal.
Status ValidateGoal(int goal);

struct GoalInfo {
  int goal = 0;        // effective
  int own_goal = 0;    // inodes.goal
  std::string source;  // "node", "directory", "default" or "tag"
  std::string source_path;
  std::string source_tag;
  int source_goal = 0;
  int tag_goal = 0;
};
Result<GoalInfo> GetGoal(OpContext& ctx, InodeId inode);

// Sets the node's own goal (and marks it set on the node). Needs write
// permission on it (kPermissionDenied). Returns whether it changed.
Result<bool> SetGoal(OpContext& ctx, const Caller& caller, InodeId inode, int goal);

struct GoalChildrenResult {
  int changed = 0;
  int denied = 0;
  std::vector<InodeId> directories;
  std::string last_name;
  bool more = false;
};
// The entries of directory `dir` after `after_name`, at most `limit`
// (clamped to kGoalPage): regular files and directories the caller may
// write get `goal` as inherited (goal_set false); the others with data or
// children are counted in `denied`. Needs read and search permission on
// `dir`.
Result<GoalChildrenResult> SetChildrenGoal(OpContext& ctx, const Caller& caller, InodeId dir,
                                           int goal, const std::string& after_name, int limit);

// Sets (goal 1..9) or removes (goal 0) the rule of `tag`; `admin`: an admin
// connection acting as root (else kNotPermitted). Returns the documents
// carrying the tag.
Result<int64_t> SetGoalRule(OpContext& ctx, bool admin, const std::string& tag, int goal);
Result<std::vector<store::GoalRuleRecord>> ListGoalRules(OpContext& ctx);

}  // namespace ddbfs::meta
