#include "metaserver/store/goal_store.h"

#include "ddbfs/constants.h"
#include "metaserver/store/row_util.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kNodeGoal{
    "goal_node",
    "SELECT " DDBFS_ATTR_COLUMNS("i.") ", i.goal_set FROM ddbfs.inodes i WHERE i.id = $1", false};

// The chain of first names up to the root: row k is the k-th directory
// above the node (its name in its own parent, and that parent); the root
// has no entry, so the walk stops there (or at 2048 levels).
constexpr Statement kAncestors{
    "goal_ancestors",
    "WITH RECURSIVE up(node, name, parent, depth) AS ("
    "  (SELECT d.inode, d.name, d.parent, 0 FROM ddbfs.dentries d WHERE d.inode = $1"
    "    ORDER BY d.parent, d.name LIMIT 1)"
    "  UNION ALL"
    "  SELECT e.inode, e.name, e.parent, up.depth + 1 FROM up"
    "   CROSS JOIN LATERAL (SELECT d.inode, d.name, d.parent FROM ddbfs.dentries d"
    "                        WHERE d.inode = up.parent ORDER BY d.parent, d.name LIMIT 1) e"
    "   WHERE up.depth < 2048)"
    " SELECT up.depth, up.name, up.parent, p.goal, p.goal_set"
    " FROM up JOIN ddbfs.inodes p ON p.id = up.parent ORDER BY up.depth",
    false};

constexpr Statement kTagGoal{"goal_tag_goal",
                             "SELECT gr.goal, t.name FROM ddbfs.doc_tags dt"
                             " JOIN ddbfs.goal_rules gr ON gr.tag_id = dt.tag_id"
                             " JOIN ddbfs.tags t ON t.id = dt.tag_id"
                             " WHERE dt.inode = $1 ORDER BY gr.goal DESC, t.name LIMIT 1",
                             false};

constexpr Statement kSetNodeGoal{
    "goal_set_node",
    "WITH old AS (SELECT goal FROM ddbfs.inodes WHERE id = $1 FOR UPDATE)"
    " UPDATE ddbfs.inodes i SET goal = $2, goal_set = $3,"
    "   ctime_ns = CASE WHEN i.goal <> $2 THEN $4 ELSE i.ctime_ns END"
    " FROM old WHERE i.id = $1 RETURNING old.goal <> $2",
    true};

constexpr Statement kChildren{"goal_children",
                              "SELECT d.name, " DDBFS_ATTR_COLUMNS("i.")
                              " FROM ddbfs.dentries d JOIN ddbfs.inodes i ON i.id = d.inode"
                              " WHERE d.parent = $1 AND d.name > $2 ORDER BY d.name LIMIT $3",
                              false};

constexpr Statement kSetGoals{
    "goal_set_many",
    "UPDATE ddbfs.inodes SET goal = $2, goal_set = false,"
    "   ctime_ns = CASE WHEN goal <> $2 THEN $3 ELSE ctime_ns END"
    " WHERE id = ANY($1::bigint[]) AND (goal <> $2 OR goal_set) RETURNING id",
    true};

constexpr Statement kSetRule{
    "goal_rule_set",
    "INSERT INTO ddbfs.goal_rules (tag_id, goal, created_ns) VALUES ($1, $2, $3)"
    " ON CONFLICT (tag_id) DO UPDATE SET goal = EXCLUDED.goal",
    true};

constexpr Statement kRemoveRule{"goal_rule_remove",
                                "DELETE FROM ddbfs.goal_rules WHERE tag_id = $1", true};

constexpr Statement kMoveRule{
    "goal_rule_move",
    "INSERT INTO ddbfs.goal_rules (tag_id, goal, created_ns)"
    " SELECT $2, goal, created_ns FROM ddbfs.goal_rules WHERE tag_id = $1"
    " ON CONFLICT (tag_id) DO UPDATE SET goal = GREATEST(ddbfs.goal_rules.goal, EXCLUDED.goal)",
    true};

constexpr Statement kTagDocuments{
    "goal_tag_documents", "SELECT count(DISTINCT inode) FROM ddbfs.doc_tags WHERE tag_id = $1",
    false};

constexpr Statement kAnyRule{"goal_rule_any", "SELECT EXISTS (SELECT 1 FROM ddbfs.goal_rules)",
                             false};

constexpr Statement kListRules{
    "goal_rule_list",
    "SELECT t.name, gr.goal,"
    "       (SELECT count(DISTINCT dt.inode) FROM ddbfs.doc_tags dt WHERE dt.tag_id = gr.tag_id)"
    " FROM ddbfs.goal_rules gr JOIN ddbfs.tags t ON t.id = gr.tag_id ORDER BY t.name LIMIT $1",
    false};

}  // namespace

Result<std::optional<NodeGoal>> GetNodeGoal(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::optional<NodeGoal>> {
    pqxx::result r = tx.Exec(kNodeGoal, inode);
    if (r.empty()) return std::optional<NodeGoal>();
    NodeGoal g;
    g.attr = ParseAttr(r[0], 0);
    g.goal_set = r[0][kAttrColumnCount].as<bool>();
    return std::optional<NodeGoal>(g);
  });
}

Result<std::vector<GoalAncestor>> GoalAncestors(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::vector<GoalAncestor>> {
    struct Level {
      std::string name;  // of the node below `parent`
      InodeId parent = 0;
      int goal = 0;
      bool goal_set = false;
    };
    std::vector<Level> levels;
    for (const auto& row : tx.Exec(kAncestors, inode)) {
      levels.push_back(Level{row[1].as<std::string>(), row[2].as<int64_t>(), row[3].as<int>(),
                             row[4].as<bool>()});
    }
    const bool rooted = !levels.empty() && levels.back().parent == kRootInode;
    // Paths from the root down: the parent of level k is named by the
    // levels above it.
    std::vector<std::string> paths(levels.size());
    std::string path;
    for (size_t k = levels.size(); k-- > 0;) {
      paths[k] = path.empty() ? std::string(1, '/') : path;
      path.append(1, '/').append(levels[k].name);
    }
    std::vector<GoalAncestor> out;
    for (size_t k = 0; k < levels.size(); ++k) {
      GoalAncestor a;
      a.inode = levels[k].parent;
      a.goal = levels[k].goal;
      a.goal_set = levels[k].goal_set;
      if (rooted) a.path = paths[k];
      out.push_back(std::move(a));
    }
    return out;
  });
}

Result<std::optional<TagGoal>> TagGoalOf(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::optional<TagGoal>> {
    pqxx::result r = tx.Exec(kTagGoal, inode);
    if (r.empty()) return std::optional<TagGoal>();
    return std::optional<TagGoal>(TagGoal{r[0][0].as<int>(), r[0][1].as<std::string>()});
  });
}

Result<bool> SetNodeGoal(Tx& tx, InodeId inode, int goal, bool goal_set, int64_t now_ns) {
  return Guard(tx, [&]() -> Result<bool> {
    pqxx::result r = tx.Exec(kSetNodeGoal, inode, goal, goal_set, now_ns);
    tx.ChangedInode(inode);  // goal, ctime (the namespace cache, store/meta_cache.h)
    return !r.empty() && r[0][0].as<bool>();
  });
}

Result<std::vector<GoalChild>> GoalChildren(Tx& tx, InodeId dir, const std::string& after_name,
                                            int limit) {
  return Guard(tx, [&]() -> Result<std::vector<GoalChild>> {
    std::vector<GoalChild> out;
    for (const auto& row : tx.Exec(kChildren, dir, after_name, limit)) {
      out.push_back(GoalChild{row[0].as<std::string>(), ParseAttr(row, 1)});
    }
    return out;
  });
}

Result<std::vector<InodeId>> SetGoals(Tx& tx, const std::vector<int64_t>& inodes, int goal,
                                      int64_t now_ns) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    std::vector<InodeId> out;
    for (const auto& row : tx.Exec(kSetGoals, PgArray(inodes), goal, now_ns)) {
      out.push_back(row[0].as<int64_t>());
      tx.ChangedInode(out.back());  // goal, ctime
    }
    return out;
  });
}

Status SetGoalRule(Tx& tx, int64_t tag_id, int goal, int64_t now_ns) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kSetRule, tag_id, goal, now_ns);
    return Status();
  });
}

Result<bool> RemoveGoalRule(Tx& tx, int64_t tag_id) {
  return Guard(tx,
               [&]() -> Result<bool> { return tx.Exec(kRemoveRule, tag_id).affected_rows() == 1; });
}

Status MoveGoalRule(Tx& tx, int64_t from, int64_t into) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kMoveRule, from, into);
    return Status();
  });
}

Result<int64_t> TagDocuments(Tx& tx, int64_t tag_id) {
  return Guard(tx, [&]() -> Result<int64_t> {
    return tx.Exec(kTagDocuments, tag_id).at(0)[0].as<int64_t>();
  });
}

Result<std::vector<GoalRuleRecord>> ListGoalRules(Tx& tx, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<GoalRuleRecord>> {
    std::vector<GoalRuleRecord> out;
    for (const auto& row : tx.Exec(kListRules, limit)) {
      out.push_back(
          GoalRuleRecord{row[0].as<std::string>(), row[1].as<int>(), row[2].as<int64_t>()});
    }
    return out;
  });
}

Result<bool> AnyGoalRule(Tx& tx) {
  return Guard(tx, [&]() -> Result<bool> { return tx.Exec(kAnyRule).at(0)[0].as<bool>(); });
}

}  // namespace ddbfs::meta::store
