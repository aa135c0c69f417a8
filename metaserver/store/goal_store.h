#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

// Queries of goals per file, directory and tag (metaserver/ops/goals.cc,
// docs/repair.md "Goals"): inodes.goal and goal_set, and the tag rules
// (ddbfs.goal_rules). These write inodes.goal directly: a cache of inodes
// must take the changed ids from SetNodeGoal / SetGoals.
namespace ddbfs::meta::store {

class Tx;

// The node's own goal and whether it was set on it.
struct NodeGoal {
  Attr attr;
  bool goal_set = false;
};
Result<std::optional<NodeGoal>> GetNodeGoal(Tx& tx, InodeId inode);

// The directories above `inode` by first names, nearest first, up to the
// root (inode 1, path "/"), with their goals. Empty for the root; the last
// one is not the root when the node has no name (an orphan).
struct GoalAncestor {
  InodeId inode = 0;
  std::string path;
  int goal = 0;
  bool goal_set = false;
};
Result<std::vector<GoalAncestor>> GoalAncestors(Tx& tx, InodeId inode);

// The highest goal of the rules of the tags `inode` carries, and that tag's
// name (the first by name among equals); nullopt when no rule applies.
struct TagGoal {
  int goal = 0;
  std::string tag;
};
Result<std::optional<TagGoal>> TagGoalOf(Tx& tx, InodeId inode);

// Sets the node's goal and goal_set (ctime too, when the goal changes).
// Returns whether the goal changed.
Result<bool> SetNodeGoal(Tx& tx, InodeId inode, int goal, bool goal_set, int64_t now_ns);

// Up to `limit` entries of directory `dir` after `after_name` (by name):
// name and attributes.
struct GoalChild {
  std::string name;
  Attr attr;
};
Result<std::vector<GoalChild>> GoalChildren(Tx& tx, InodeId dir, const std::string& after_name,
                                            int limit);

// Sets the goal of `inodes` (goal_set false: they inherit it from the
// directory `ddbfs goal set -r` was given); returns the ids whose row
// changed (for a cache of inodes).
Result<std::vector<InodeId>> SetGoals(Tx& tx, const std::vector<int64_t>& inodes, int goal,
                                      int64_t now_ns);

// Tag rules. Set inserts or replaces; Remove returns whether there was one.
Status SetGoalRule(Tx& tx, int64_t tag_id, int goal, int64_t now_ns);
Result<bool> RemoveGoalRule(Tx& tx, int64_t tag_id);
// Gives `from`'s rule, if any, to `into` (the higher goal when both have
// one): tag merge.
Status MoveGoalRule(Tx& tx, int64_t from, int64_t into);
// Documents carrying the tag (any value).
Result<int64_t> TagDocuments(Tx& tx, int64_t tag_id);
struct GoalRuleRecord {
  std::string tag;
  int goal = 0;
  int64_t documents = 0;
};
// Every rule by tag name, at most `limit`.
Result<std::vector<GoalRuleRecord>> ListGoalRules(Tx& tx, int limit);
// Whether any tag has a goal rule.
Result<bool> AnyGoalRule(Tx& tx);

}  // namespace ddbfs::meta::store
