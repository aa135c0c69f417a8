#include "metaserver/store/fsck_store.h"

#include <cstdlib>

#include "metaserver/store/row_util.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

// The goal is the file's effective goal (docs/repair.md, "Goals"): one
// index probe of its tags per chunk of the window.
#define DDBFS_FSCK_SELECT                                                       \
  "SELECT c.id, c.inode, c.idx, c.version, c.length, c.lease_id IS NOT NULL,"   \
  "       GREATEST(i.goal, (SELECT max(gr.goal) FROM ddbfs.doc_tags dt"         \
  "                          JOIN ddbfs.goal_rules gr ON gr.tag_id = dt.tag_id" \
  "                         WHERE dt.inode = c.inode)),"                        \
  "       array_to_string(array_agg(r.server_id ORDER BY r.server_id)"          \
  "         FILTER (WHERE r.server_id IS NOT NULL), ','),"                      \
  "       array_to_string(array_agg(r.version ORDER BY r.server_id)"            \
  "         FILTER (WHERE r.server_id IS NOT NULL), ',')"
#define DDBFS_FSCK_GROUP                                                    \
  " JOIN ddbfs.inodes i ON i.id = c.inode"                                  \
  " LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"                        \
  " GROUP BY c.id, c.inode, c.idx, c.version, c.length, c.lease_id, i.goal" \
  " ORDER BY c.id"

constexpr Statement kFsckChunks{
    "fsck_chunks",
    DDBFS_FSCK_SELECT
    " FROM (SELECT * FROM ddbfs.chunks WHERE id > $1 ORDER BY id LIMIT $2) c" DDBFS_FSCK_GROUP,
    false};

constexpr Statement kFsckSubtreeChunks{
    "fsck_subtree_chunks",
    "WITH RECURSIVE sub(inode) AS (SELECT $3::bigint"
    "  UNION SELECT d.inode FROM ddbfs.dentries d JOIN sub ON d.parent = "
    "sub.inode) " DDBFS_FSCK_SELECT
    " FROM (SELECT * FROM ddbfs.chunks WHERE id > $1 AND inode IN (SELECT inode FROM sub)"
    "       ORDER BY id LIMIT $2) c" DDBFS_FSCK_GROUP,
    false};

#undef DDBFS_FSCK_SELECT
#undef DDBFS_FSCK_GROUP

constexpr Statement kPathsOf{
    "fsck_paths_of",
    "WITH RECURSIVE up(parent, path, depth) AS ("
    "  SELECT d.parent, d.name::text, 1 FROM ddbfs.dentries d WHERE d.inode = $1"
    "  UNION ALL"
    "  SELECT d.parent, d.name || '/' || up.path, up.depth + 1"
    "    FROM up JOIN ddbfs.dentries d ON d.inode = up.parent"
    "   WHERE up.parent <> 1 AND up.depth < 4096)"
    " SELECT '/' || path FROM up WHERE parent = 1 ORDER BY 1 LIMIT 8",
    false};

constexpr Statement kQueueOrphans{
    "fsck_queue_orphans",
    "WITH o AS (SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::boolean[])"
    "           AS o(id, version, aged)),"
    " u AS (SELECT o.id, o.version, o.aged FROM o"
    "        WHERE o.id <= $5"
    "          AND NOT EXISTS (SELECT 1 FROM ddbfs.replicas r"
    "                           WHERE r.chunk_id = o.id AND r.server_id = $1)"
    "          AND NOT EXISTS (SELECT 1 FROM ddbfs.gc_queue g"
    "                           WHERE g.chunk_id = o.id AND g.server_id = $1)),"
    " q AS (INSERT INTO ddbfs.gc_queue (server_id, chunk_id, held)"
    "       SELECT $1, u.id, NOT EXISTS (SELECT 1 FROM ddbfs.chunks c WHERE c.id = u.id) FROM u"
    "        WHERE u.aged OR ($6::boolean AND NOT EXISTS (SELECT 1 FROM ddbfs.chunks c"
    "                                     WHERE c.id = u.id AND c.version <= u.version))"
    "       ON CONFLICT DO NOTHING RETURNING chunk_id, held)"
    " SELECT u.id, q.chunk_id IS NOT NULL, COALESCE(q.held, false)"
    " FROM u LEFT JOIN q ON q.chunk_id = u.id ORDER BY u.id",
    true};

constexpr Statement kHeldDeletionsOf{
    "fsck_held_of",
    "SELECT chunk_id FROM ddbfs.gc_queue"
    " WHERE server_id = $1 AND held AND chunk_id = ANY($2::bigint[]) ORDER BY chunk_id",
    false};

}  // namespace

Result<std::vector<int64_t>> HeldDeletionsOf(Tx& tx, int32_t server,
                                             const std::vector<int64_t>& chunk_ids) {
  return Guard(tx, [&]() -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    for (const auto& row : tx.Exec(kHeldDeletionsOf, server, PgArray(chunk_ids))) {
      out.push_back(row[0].as<int64_t>());
    }
    return out;
  });
}

Result<std::vector<FsckChunkRow>> FsckChunks(Tx& tx, int64_t after, int limit, InodeId subtree) {
  return Guard(tx, [&]() -> Result<std::vector<FsckChunkRow>> {
    std::vector<FsckChunkRow> out;
    auto rows = subtree > 0 ? tx.Exec(kFsckSubtreeChunks, after, limit, subtree)
                            : tx.Exec(kFsckChunks, after, limit);
    for (const auto& row : rows) {
      FsckChunkRow c;
      c.id = row[0].as<int64_t>();
      c.inode = row[1].as<int64_t>();
      c.index = row[2].as<int64_t>();
      c.version = row[3].as<int64_t>();
      c.length = row[4].as<int64_t>();
      c.leased = row[5].as<bool>();
      c.goal = row[6].as<int>();
      const std::vector<int64_t> servers = ParseIntList<int64_t>(row[7]);
      const std::vector<int64_t> versions = ParseIntList<int64_t>(row[8]);
      for (size_t i = 0; i < servers.size() && i < versions.size(); ++i) {
        c.replicas.push_back(ReplicaRecord{static_cast<int32_t>(servers[i]), versions[i]});
      }
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<std::vector<std::string>> PathsOf(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    for (const auto& row : tx.Exec(kPathsOf, inode)) out.push_back(row[0].as<std::string>());
    return out;
  });
}

Result<std::vector<OrphanVerdict>> QueueOrphans(Tx& tx, int32_t server,
                                                const std::vector<OrphanEntry>& entries,
                                                int64_t last_chunk_id, bool dead_now) {
  std::vector<int64_t> ids, versions;
  std::string aged = "{";
  for (const OrphanEntry& e : entries) {
    ids.push_back(e.chunk_id);
    versions.push_back(e.version);
    if (aged.size() > 1) aged += ',';
    aged += e.aged ? 't' : 'f';
  }
  aged += '}';
  return Guard(tx, [&]() -> Result<std::vector<OrphanVerdict>> {
    std::vector<OrphanVerdict> out;
    for (const auto& row : tx.Exec(kQueueOrphans, server, PgArray(ids), PgArray(versions), aged,
                                   last_chunk_id, dead_now)) {
      out.push_back(OrphanVerdict{row[0].as<int64_t>(), row[1].as<bool>(), row[2].as<bool>()});
    }
    return out;
  });
}

}  // namespace ddbfs::meta::store
