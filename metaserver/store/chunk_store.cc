#include "metaserver/store/chunk_store.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "ddbfs/auth.h"
#include "ddbfs/log.h"
#include "metaserver/store/row_util.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

#define DDBFS_CHUNK_COLUMNS                                                                \
  "c.id, c.inode, c.idx, c.version, c.length, c.pending_version, COALESCE(c.lease_id, 0)," \
  " COALESCE(c.lease_expires_ms, 0), r.server_id, r.version"

constexpr Statement kGetChunkAt{"chk_get_at",
                                "SELECT " DDBFS_CHUNK_COLUMNS
                                " FROM ddbfs.chunks c"
                                " LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
                                " WHERE c.inode = $1 AND c.idx = $2 ORDER BY r.server_id",
                                false};

constexpr Statement kGetChunksById{"chk_get_by_id",
                                   "SELECT " DDBFS_CHUNK_COLUMNS
                                   " FROM ddbfs.chunks c"
                                   " LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
                                   " WHERE c.id = ANY($1::bigint[]) ORDER BY c.id, r.server_id",
                                   false};

constexpr Statement kGetChunksWithTagGoal{
    "chk_get_with_tag_goal",
    "SELECT " DDBFS_CHUNK_COLUMNS
    ", COALESCE((SELECT max(gr.goal) FROM ddbfs.doc_tags dt"
    "            JOIN ddbfs.goal_rules gr ON gr.tag_id = dt.tag_id WHERE dt.inode = c.inode), 0)"
    " FROM ddbfs.chunks c"
    " LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
    " WHERE c.id = ANY($1::bigint[]) ORDER BY c.id, r.server_id",
    false};

constexpr Statement kInsertChunk{
    "chk_insert",
    "WITH c AS (INSERT INTO ddbfs.chunks (id, inode, idx, version, length, pending_version,"
    "                                   lease_id, lease_expires_ms)"
    "           VALUES (nextval('ddbfs.chunk_ids'), $1, $2, 0, 0, 1,"
    "                   nextval('ddbfs.lease_ids'), $4) RETURNING id, lease_id),"
    " r AS (INSERT INTO ddbfs.replicas (chunk_id, server_id, version)"
    "       SELECT c.id, s, 0 FROM c, unnest($3::integer[]) AS s)"
    " SELECT id, lease_id FROM c",
    true};

constexpr Statement kAddReplicas{
    "chk_add_replicas",
    "WITH r AS (INSERT INTO ddbfs.replicas (chunk_id, server_id, version)"
    "           SELECT $1, s, $3 FROM unnest($2::integer[]) AS s"
    "           ON CONFLICT (chunk_id, server_id) DO UPDATE SET version = EXCLUDED.version)"
    " DELETE FROM ddbfs.gc_queue WHERE chunk_id = $1 AND server_id = ANY($2::integer[])",
    true};

// Also moves the file's allocated bytes by the change of the chunk's length.
constexpr Statement kCommitChunk{
    "chk_commit",
    "WITH old AS (SELECT inode, length FROM ddbfs.chunks WHERE id = $1),"
    " ch AS (UPDATE ddbfs.chunks SET version = $2, length = $3,"
    "        pending_version = GREATEST(pending_version, $2),"
    "        lease_id = NULL, lease_expires_ms = NULL,"
    "        sha256 = decode($5::text, 'hex'),"
    "        sha256_len = CASE WHEN $5::text IS NULL THEN NULL ELSE $3::bigint END"
    "        WHERE id = $1),"
    " al AS (UPDATE ddbfs.inodes i SET allocated = i.allocated + $3::bigint - old.length"
    "        FROM old WHERE i.id = old.inode AND old.length <> $3::bigint),"
    " w AS (UPDATE ddbfs.replicas SET version = $2"
    "       WHERE chunk_id = $1 AND server_id = ANY($4::integer[])),"
    " stale AS (DELETE FROM ddbfs.replicas"
    "           WHERE chunk_id = $1 AND NOT (server_id = ANY($4::integer[]))"
    "           RETURNING server_id, chunk_id),"
    " gc AS (INSERT INTO ddbfs.gc_queue (server_id, chunk_id)"
    "        SELECT server_id, chunk_id FROM stale ON CONFLICT DO NOTHING)"
    " SELECT inode FROM old",
    true};

// Also sets the file's allocated bytes to what the chunks left hold. The
// dropped chunks' replicas are held for the retention (docs/backup.md).
constexpr Statement kTruncateChunks{
    "chk_truncate",
    "WITH gone AS (SELECT id, version, length FROM ddbfs.chunks WHERE inode = $1 AND idx >= $2),"
    " al AS (UPDATE ddbfs.inodes SET allocated ="
    "          (SELECT COALESCE(sum(CASE WHEN idx = $3 THEN LEAST(length, $4) ELSE length END), 0)"
    "           FROM ddbfs.chunks WHERE inode = $1 AND idx < $2)"
    "        WHERE id = $1),"
    " rep AS (DELETE FROM ddbfs.replicas WHERE chunk_id IN (SELECT id FROM gone)"
    "         RETURNING server_id, chunk_id),"
    " gc AS (INSERT INTO ddbfs.gc_queue (server_id, chunk_id, held, bytes)"
    "        SELECT rep.server_id, rep.chunk_id, g.version > 0, g.length"
    "        FROM rep JOIN gone g ON g.id = rep.chunk_id ON CONFLICT DO NOTHING),"
    " del AS (DELETE FROM ddbfs.chunks WHERE id IN (SELECT id FROM gone))"
    " UPDATE ddbfs.chunks SET length = LEAST(length, $4) WHERE inode = $1 AND idx = $3",
    true};

constexpr Statement kDropChunk{
    "chk_drop",
    "WITH rep AS (DELETE FROM ddbfs.replicas WHERE chunk_id = $1 RETURNING server_id, chunk_id),"
    " gc AS (INSERT INTO ddbfs.gc_queue (server_id, chunk_id)"
    "        SELECT server_id, chunk_id FROM rep ON CONFLICT DO NOTHING)"
    " DELETE FROM ddbfs.chunks WHERE id = $1",
    true};

constexpr Statement kChunkMap{
    "chk_map",
    "SELECT " DDBFS_ATTR_COLUMNS(
        "i.") ", " DDBFS_CHUNK_COLUMNS
              " FROM ddbfs.inodes i"
              " LEFT JOIN ddbfs.chunks c ON c.inode = i.id AND c.idx >= $2 AND c.idx < $3"
              " LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
              " WHERE i.id = $1 ORDER BY c.idx, r.server_id",
    false};

constexpr Statement kDropReplica{
    "chk_drop_replica",
    "WITH d AS (DELETE FROM ddbfs.replicas WHERE chunk_id = $1 AND server_id = $2"
    "           RETURNING server_id, chunk_id)"
    " INSERT INTO ddbfs.gc_queue (server_id, chunk_id)"
    " SELECT server_id, chunk_id FROM d ON CONFLICT DO NOTHING",
    true};

constexpr Statement kGrantLease{
    "chk_grant_lease",
    "UPDATE ddbfs.chunks SET pending_version = $2, lease_id = nextval('ddbfs.lease_ids'),"
    " lease_expires_ms = $3 WHERE id = $1 RETURNING lease_id",
    true};

constexpr Statement kSetPending{
    "chk_set_pending",
    "UPDATE ddbfs.chunks SET pending_version = $2, lease_expires_ms = $3"
    " WHERE id = $1 AND lease_id = $4",
    true};

constexpr Statement kRenewLeases{
    "chk_renew_leases",
    "UPDATE ddbfs.chunks c SET lease_expires_ms = $3"
    " FROM unnest($1::bigint[], $2::bigint[]) AS l(chunk_id, lease_id)"
    " WHERE c.id = l.chunk_id AND c.lease_id = l.lease_id AND c.inode = $4"
    " RETURNING c.id",
    true};

constexpr Statement kExpireLeases{
    "chk_expire_leases",
    "UPDATE ddbfs.chunks c SET lease_expires_ms = 0"
    " FROM unnest($1::bigint[], $2::bigint[]) AS l(chunk_id, lease_id)"
    " WHERE c.id = l.chunk_id AND c.lease_id = l.lease_id AND c.inode = $3"
    " RETURNING c.id",
    true};

constexpr Statement kClaimLease{
    "chk_claim_lease",
    "UPDATE ddbfs.chunks SET lease_id = nextval('ddbfs.lease_ids'), lease_expires_ms = $3"
    " WHERE id = $1 AND lease_id = $2 RETURNING lease_id",
    true};

constexpr Statement kExtendAllLeases{
    "chk_extend_all_leases",
    "UPDATE ddbfs.chunks SET lease_expires_ms = GREATEST(lease_expires_ms, $1)"
    " WHERE lease_id IS NOT NULL",
    true};

constexpr Statement kClearLease{"chk_clear_lease",
                                "UPDATE ddbfs.chunks SET lease_id = NULL, lease_expires_ms = NULL"
                                " WHERE id = $1 AND lease_id = $2",
                                true};

constexpr Statement kExpiredLeases{"chk_expired_leases",
                                   "SELECT id FROM ddbfs.chunks"
                                   " WHERE lease_id IS NOT NULL AND lease_expires_ms <= $1"
                                   " ORDER BY lease_expires_ms LIMIT $2",
                                   false};

// Deletions due now: the ones not held, and the held ones queued before
// the retention ($3 ms ago; with $4, every held one: the server is short of
// space), oldest first. Two index range scans (gc_queue_due, gc_queue_held).
constexpr Statement kPendingDeletions{
    "gc_pending",
    "SELECT chunk_id, held FROM ("
    "  (SELECT chunk_id, queued_at, false AS held FROM ddbfs.gc_queue"
    "    WHERE server_id = $1 AND NOT held ORDER BY queued_at, chunk_id LIMIT $2)"
    "  UNION ALL"
    "  (SELECT chunk_id, queued_at, true FROM ddbfs.gc_queue"
    "    WHERE server_id = $1 AND held"
    "      AND ($4::boolean OR queued_at <= now() - $3::bigint * interval '1 millisecond')"
    "    ORDER BY queued_at, chunk_id LIMIT $2)) d"
    " ORDER BY queued_at, chunk_id LIMIT $2",
    false};

constexpr Statement kQueueHeld{"gc_queue_held",
                               "INSERT INTO ddbfs.gc_queue (server_id, chunk_id, held)"
                               " SELECT $1, unnest($2::bigint[]), true ON CONFLICT DO NOTHING",
                               true};

constexpr Statement kConfirmDeletions{
    "gc_confirm",
    "DELETE FROM ddbfs.gc_queue WHERE server_id = $1 AND chunk_id = ANY($2::bigint[])", true};

// Rows of DDBFS_CHUNK_COLUMNS starting at `first`, grouped by chunk (rows of
// one chunk are adjacent).
std::vector<ChunkRecord> ParseChunks(const pqxx::result& r, int first) {
  std::vector<ChunkRecord> out;
  for (const auto& row : r) {
    if (row[first].is_null()) continue;
    int64_t id = row[first].as<int64_t>();
    if (out.empty() || out.back().id != id) {
      ChunkRecord c;
      c.id = id;
      c.inode = row[first + 1].as<int64_t>();
      c.index = row[first + 2].as<int64_t>();
      c.version = row[first + 3].as<int64_t>();
      c.length = row[first + 4].as<int64_t>();
      c.pending_version = row[first + 5].as<int64_t>();
      c.lease_id = row[first + 6].as<int64_t>();
      c.lease_expires_ms = row[first + 7].as<int64_t>();
      out.push_back(std::move(c));
    }
    if (!row[first + 8].is_null()) {
      out.back().replicas.push_back(
          ReplicaRecord{row[first + 8].as<int32_t>(), row[first + 9].as<int64_t>()});
    }
  }
  return out;
}

}  // namespace

Result<std::optional<ChunkRecord>> GetChunkAt(Tx& tx, InodeId inode, int64_t index) {
  return Guard(tx, [&]() -> Result<std::optional<ChunkRecord>> {
    std::vector<ChunkRecord> chunks = ParseChunks(tx.Exec(kGetChunkAt, inode, index), 0);
    if (chunks.empty()) return std::optional<ChunkRecord>();
    return std::optional<ChunkRecord>(std::move(chunks[0]));
  });
}

Result<std::vector<ChunkRecord>> GetChunksById(Tx& tx, const std::vector<int64_t>& ids) {
  return Guard(tx, [&]() -> Result<std::vector<ChunkRecord>> {
    return ParseChunks(tx.Exec(kGetChunksById, PgArray(ids)), 0);
  });
}

Result<std::vector<ChunkRecord>> GetChunksWithTagGoal(Tx& tx, const std::vector<int64_t>& ids,
                                                      int* tag_goal) {
  return Guard(tx, [&]() -> Result<std::vector<ChunkRecord>> {
    pqxx::result r = tx.Exec(kGetChunksWithTagGoal, PgArray(ids));
    *tag_goal = 0;
    for (const auto& row : r) *tag_goal = std::max(*tag_goal, row[10].as<int>());
    return ParseChunks(r, 0);
  });
}

Result<std::optional<ChunkRecord>> GetChunk(Tx& tx, int64_t chunk_id) {
  ASSIGN_OR_RETURN(std::vector<ChunkRecord> chunks, GetChunksById(tx, {chunk_id}));
  if (chunks.empty()) return std::optional<ChunkRecord>();
  return std::optional<ChunkRecord>(std::move(chunks[0]));
}

Result<NewChunk> InsertChunk(Tx& tx, InodeId inode, int64_t index,
                             const std::vector<int32_t>& servers, int64_t lease_expires_ms) {
  return Guard(tx, [&]() -> Result<NewChunk> {
    pqxx::row row = tx.Exec(kInsertChunk, inode, index, PgArray(servers), lease_expires_ms).at(0);
    return NewChunk{row[0].as<int64_t>(), row[1].as<int64_t>()};
  });
}

Result<int64_t> GrantLease(Tx& tx, int64_t chunk_id, int64_t version, int64_t expires_ms) {
  return Guard(tx, [&]() -> Result<int64_t> {
    return tx.Exec(kGrantLease, chunk_id, version, expires_ms).at(0)[0].as<int64_t>();
  });
}

Status SetPendingVersion(Tx& tx, int64_t chunk_id, int64_t lease_id, int64_t version,
                         int64_t expires_ms) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kSetPending, chunk_id, version, expires_ms, lease_id);
    return Status();
  });
}

Result<std::vector<int64_t>> RenewLeases(Tx& tx, InodeId inode, const std::vector<int64_t>& chunks,
                                         const std::vector<int64_t>& leases, int64_t expires_ms) {
  return Guard(tx, [&]() -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    const Statement& st = expires_ms > 0 ? kRenewLeases : kExpireLeases;
    pqxx::result r = expires_ms > 0
                         ? tx.Exec(st, PgArray(chunks), PgArray(leases), expires_ms, inode)
                         : tx.Exec(st, PgArray(chunks), PgArray(leases), inode);
    for (const auto& row : r) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

Result<int64_t> ClaimLease(Tx& tx, int64_t chunk_id, int64_t lease_id, int64_t expires_ms) {
  return Guard(tx, [&]() -> Result<int64_t> {
    pqxx::result r = tx.Exec(kClaimLease, chunk_id, lease_id, expires_ms);
    return r.empty() ? int64_t{0} : r[0][0].as<int64_t>();
  });
}

Status ExtendAllLeases(Tx& tx, int64_t expires_ms) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kExtendAllLeases, expires_ms);
    return Status();
  });
}

Status ClearLease(Tx& tx, int64_t chunk_id, int64_t lease_id) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kClearLease, chunk_id, lease_id);
    return Status();
  });
}

Result<std::vector<int64_t>> ExpiredLeases(Tx& tx, int64_t now_ms, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<int64_t>> {
    std::vector<int64_t> out;
    for (const auto& row : tx.Exec(kExpiredLeases, now_ms, limit)) {
      out.push_back(row[0].as<int64_t>());
    }
    return out;
  });
}

Status AddReplicas(Tx& tx, int64_t chunk_id, const std::vector<int32_t>& servers, int64_t version) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kAddReplicas, chunk_id, PgArray(servers), version);
    return Status();
  });
}

Status CommitChunk(Tx& tx, int64_t chunk_id, int64_t version, int64_t length,
                   const std::vector<int32_t>& written, const std::optional<std::string>& sha256) {
  return Guard(tx, [&]() -> Status {
    const std::string hex = sha256 ? ToHex(*sha256) : std::string();
    // A null `const char*` is SQL NULL.
    pqxx::result r = tx.Exec(kCommitChunk, chunk_id, version, length, PgArray(written),
                             sha256 ? hex.c_str() : nullptr);
    if (!r.empty()) tx.ChangedInode(r[0][0].as<int64_t>());  // its allocated bytes
    return Status();
  });
}

Status TruncateChunks(Tx& tx, InodeId inode, int64_t first_dropped, int64_t last_index,
                      int64_t last_length) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kTruncateChunks, inode, first_dropped, last_index, last_length);
    tx.ChangedInode(inode);  // its allocated bytes
    return Status();
  });
}

Status DropChunk(Tx& tx, int64_t chunk_id) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDropChunk, chunk_id);
    return Status();
  });
}

namespace {

Result<ChunkMap> ReadChunkMap(Tx& tx, InodeId inode, int64_t first, int64_t end) {
  return Guard(tx, [&]() -> Result<ChunkMap> {
    pqxx::result r = tx.Exec(kChunkMap, inode, first, end);
    ChunkMap out;
    if (r.empty()) return out;
    out.attr = ParseAttr(r[0], 0);
    out.chunks = ParseChunks(r, kAttrColumnCount);
    return out;
  });
}

bool SameChunks(const std::vector<ChunkRecord>& a, const std::vector<ChunkRecord>& b) {
  auto same_replicas = [](const std::vector<ReplicaRecord>& x,
                          const std::vector<ReplicaRecord>& y) {
    return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                      [](const ReplicaRecord& p, const ReplicaRecord& q) {
                        return p.server_id == q.server_id && p.version == q.version;
                      });
  };
  return std::equal(
      a.begin(), a.end(), b.begin(), b.end(), [&](const ChunkRecord& x, const ChunkRecord& y) {
        return x.id == y.id && x.inode == y.inode && x.index == y.index && x.version == y.version &&
               x.length == y.length && x.pending_version == y.pending_version &&
               x.lease_id == y.lease_id && x.lease_expires_ms == y.lease_expires_ms &&
               same_replicas(x.replicas, y.replicas);
      });
}

bool SameMap(const MetaCache::ChunkMapHit& hit, const ChunkMap& read) {
  return read.attr && SameAttr(hit.attr, *read.attr) && SameChunks(hit.chunks, read.chunks);
}

// --meta-cache-verify: a chunk map answered from memory is read from
// PostgreSQL too. A read may see a commit that the cache learns a moment
// later (its transaction's end drops the maps), so a difference stops the
// process only when it outlasts that: the same map still cached a while
// later, and PostgreSQL still saying otherwise.
Status VerifyChunkMapHit(Tx& tx, InodeId inode, int64_t first, int64_t end,
                         const MetaCache::ChunkMapHit& hit) {
  ASSIGN_OR_RETURN(ChunkMap read, ReadChunkMap(tx, inode, first, end));
  if (SameMap(hit, read)) return Status();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::optional<MetaCache::ChunkMapHit> again = tx.cache()->ChunkMap(inode, first, end);
  if (!again || !SameAttr(again->attr, hit.attr) || !SameChunks(again->chunks, hit.chunks)) {
    return Status();
  }
  ASSIGN_OR_RETURN(read, ReadChunkMap(tx, inode, first, end));
  if (SameMap(hit, read)) return Status();
  LOG(kError) << "chunk map cache out of date for inode " << inode << " [" << first << ", " << end
              << "): cached " << hit.chunks.size() << " chunks, database "
              << (read.attr ? std::to_string(read.chunks.size()) + " chunks" : "no inode");
  std::abort();
}

}  // namespace

Result<ChunkMap> GetChunkMap(Tx& tx, InodeId inode, int64_t first, int64_t end) {
  MetaCache* cache = tx.cache();
  if (cache == nullptr) return ReadChunkMap(tx, inode, first, end);
  if (std::optional<MetaCache::ChunkMapHit> hit = cache->ChunkMap(inode, first, end)) {
    cache->CountHit();
    if (cache->verify()) RETURN_IF_ERROR(VerifyChunkMapHit(tx, inode, first, end, *hit));
    return ChunkMap{std::move(hit->attr), std::move(hit->chunks)};
  }
  cache->CountMiss();
  const uint64_t epoch = cache->epoch();
  ASSIGN_OR_RETURN(ChunkMap out, ReadChunkMap(tx, inode, first, end));
  if (out.attr) {
    cache->FillInode(epoch, *out.attr);
    cache->FillChunkMap(epoch, inode, first, end, out.chunks);
  }
  return out;
}

Status DropReplica(Tx& tx, int64_t chunk_id, int32_t server_id) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDropReplica, chunk_id, server_id);
    return Status();
  });
}

Result<PendingDeletionList> PendingDeletions(Tx& tx, int32_t server, int limit,
                                             int64_t retention_ms, bool release_held) {
  return Guard(tx, [&]() -> Result<PendingDeletionList> {
    PendingDeletionList out;
    for (const auto& row : tx.Exec(kPendingDeletions, server, limit, retention_ms, release_held)) {
      out.chunk_ids.push_back(row[0].as<int64_t>());
      out.held += row[1].as<bool>() ? 1 : 0;
    }
    return out;
  });
}

Status QueueHeldDeletions(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kQueueHeld, server, PgArray(chunk_ids));
    return Status();
  });
}

Status ConfirmDeletions(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kConfirmDeletions, server, PgArray(chunk_ids));
    return Status();
  });
}

}  // namespace ddbfs::meta::store
