#include "metaserver/store/query_store.h"

#include "ddbfs/constants.h"
#include "metaserver/store/row_util.h"

namespace ddbfs::meta::store {

namespace {

// For each inode its first name (lowest parent, then name) at every level
// up to the root; the depth bound is ResolvePath's (paths of at most 4095
// bytes).
constexpr Statement kWaysUp{
    "query_ways_up",
    "WITH RECURSIVE up(doc, id, name, depth) AS ("
    "  SELECT x.doc, d.parent, d.name, 0 FROM unnest($1::bigint[]) AS x(doc) CROSS JOIN LATERAL"
    "   (SELECT parent, name FROM ddbfs.dentries WHERE inode = x.doc"
    "    ORDER BY parent, name LIMIT 1) d"
    "  UNION ALL"
    "  SELECT up.doc, e.parent, e.name, up.depth + 1 FROM up CROSS JOIN LATERAL"
    "   (SELECT parent, name FROM ddbfs.dentries WHERE inode = up.id"
    "    ORDER BY parent, name LIMIT 1) e WHERE up.depth < 2048)"
    " SELECT up.doc, up.name, " DDBFS_ATTR_COLUMNS(
        "p.") " FROM up JOIN ddbfs.inodes p ON p.id = up.id ORDER BY up.doc, up.depth",
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

Result<std::map<InodeId, WayUp>> WaysUpOf(Tx& tx, const std::vector<InodeId>& inodes) {
  return Guard(tx, [&]() -> Result<std::map<InodeId, WayUp>> {
    pqxx::result r = tx.Exec(kWaysUp, PgArray(inodes));
    std::map<InodeId, WayUp> out;
    for (InodeId id : inodes) out[id];
    for (const auto& row : r) {
      out[row[0].as<int64_t>()].steps.push_back(
          PathStep{row[1].as<std::string>(), ParseAttr(row, 2)});
    }
    for (auto& [id, way] : out) {
      way.named =
          way.steps.empty() ? id == kRootInode : way.steps.back().parent.inode == kRootInode;
    }
    return out;
  });
}

}  // namespace ddbfs::meta::store
