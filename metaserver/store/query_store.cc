#include "metaserver/store/query_store.h"

#include "ddbfs/constants.h"
#include "metaserver/store/row_util.h"

namespace ddbfs::meta::store {

namespace {

// Depth bound as ResolvePath's (paths are at most 4095 bytes).
constexpr Statement kWayUp{
    "query_way_up",
    "WITH RECURSIVE up(id, name, depth) AS ("
    "  SELECT d.parent, d.name, 0 FROM (SELECT parent, name FROM ddbfs.dentries"
    "   WHERE inode = $1 ORDER BY parent, name LIMIT 1) d"
    "  UNION ALL"
    "  SELECT e.parent, e.name, up.depth + 1 FROM up CROSS JOIN LATERAL"
    "   (SELECT parent, name FROM ddbfs.dentries WHERE inode = up.id"
    "    ORDER BY parent, name LIMIT 1) e WHERE up.depth < 2048)"
    " SELECT up.name, " DDBFS_ATTR_COLUMNS("p.") " FROM up JOIN ddbfs.inodes p ON p.id = up.id"
    " ORDER BY up.depth",
    false};

}  // namespace

Result<std::vector<InodeId>> MatchingInodes(Tx& tx, const std::string& where,
                                            const std::vector<std::string>& params, InodeId after,
                                            int limit) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    std::vector<std::string> all = params;
    const std::string a = "$" + std::to_string(all.size() + 1);
    all.push_back(std::to_string(after));
    const std::string l = "$" + std::to_string(all.size() + 1);
    all.push_back(std::to_string(limit));
    pqxx::result r =
        tx.ExecRead("SELECT i.id FROM ddbfs.inodes i WHERE i.id > " + a + "::bigint AND (" + where +
                        ") ORDER BY i.id LIMIT " + l + "::integer",
                    all);
    std::vector<InodeId> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

Result<WayUp> WayUpOf(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<WayUp> {
    pqxx::result r = tx.Exec(kWayUp, inode);
    WayUp out;
    for (const auto& row : r) {
      out.steps.push_back(PathStep{row[0].as<std::string>(), ParseAttr(row, 1)});
    }
    out.named =
        out.steps.empty() ? inode == kRootInode : out.steps.back().parent.inode == kRootInode;
    return out;
  });
}

}  // namespace ddbfs::meta::store
