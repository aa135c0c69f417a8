#include "metaserver/store/server_store.h"

#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kUpsertServer{
    "srv_upsert",
    "INSERT INTO ddbfs.servers (uuid, host, port, label, capacity_bytes, used_bytes, chunk_count,"
    "                           last_heartbeat, rack)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8)"
    " ON CONFLICT (uuid) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
    "   label = EXCLUDED.label, rack = EXCLUDED.rack, capacity_bytes = EXCLUDED.capacity_bytes,"
    "   used_bytes = EXCLUDED.used_bytes, chunk_count = EXCLUDED.chunk_count,"
    "   last_heartbeat = EXCLUDED.last_heartbeat"
    " RETURNING id",
    true};

constexpr Statement kLoadServers{
    "srv_load",
    "SELECT id, uuid, host, port, label, capacity_bytes, used_bytes, chunk_count,"
    " (extract(epoch FROM last_heartbeat) * 1000)::bigint, draining, rack"
    " FROM ddbfs.servers ORDER BY id",
    false};

constexpr Statement kFlushServer{
    "srv_flush",
    "UPDATE ddbfs.servers SET capacity_bytes = $2, used_bytes = $3, chunk_count = $4,"
    " last_heartbeat = to_timestamp($5::bigint / 1000.0) WHERE id = $1",
    true};

// Only the entries that need a decision (see InventoryEntryState); the two
// EXISTS run for those alone. Index probes per entry: chunks and replicas
// by primary key.
constexpr Statement kInventoryStates{
    "srv_inventory_states",
    "SELECT i.id, i.version, c.id IS NOT NULL, COALESCE(c.version, 0),"
    "       c.lease_id IS NOT NULL, r.version,"
    "       EXISTS (SELECT 1 FROM ddbfs.gc_queue g WHERE g.server_id = $1 AND g.chunk_id = i.id),"
    "       c.id IS NOT NULL AND EXISTS (SELECT 1 FROM ddbfs.replicas o"
    "         WHERE o.chunk_id = i.id AND o.server_id <> $1 AND o.version = c.version)"
    " FROM unnest($2::bigint[], $3::bigint[]) AS i(id, version)"
    " LEFT JOIN ddbfs.chunks c ON c.id = i.id"
    " LEFT JOIN ddbfs.replicas r ON r.chunk_id = i.id AND r.server_id = $1"
    " WHERE c.id IS NULL OR r.version IS DISTINCT FROM i.version"
    " ORDER BY i.id",
    false};

constexpr Statement kLastChunkId{
    "srv_last_chunk_id",
    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ddbfs.chunk_ids", false};

// EXCEPT (hashed or sorted) rather than NOT (... = ANY(array)), which is
// quadratic for pages of tens of thousands of entries.
constexpr Statement kDropMissingReplicas{
    "srv_drop_missing_replicas",
    "WITH missing AS ("
    "  SELECT chunk_id FROM ddbfs.replicas"
    "   WHERE server_id = $1 AND chunk_id > $2 AND chunk_id <= $3"
    "  EXCEPT SELECT unnest($4::bigint[]))"
    " DELETE FROM ddbfs.replicas r USING missing m, ddbfs.chunks c"
    " WHERE r.server_id = $1 AND r.chunk_id = m.chunk_id AND c.id = r.chunk_id"
    "   AND NOT (r.version = 0 AND c.version = 0)",
    true};

constexpr Statement kUpsertServerReplicas{
    "srv_upsert_replicas",
    "INSERT INTO ddbfs.replicas (chunk_id, server_id, version)"
    " SELECT v.chunk_id, $1, v.version FROM unnest($2::bigint[], $3::bigint[]) AS v(chunk_id, "
    "version)"
    " ON CONFLICT (chunk_id, server_id) DO UPDATE SET version = EXCLUDED.version",
    true};

constexpr Statement kDeleteServerReplicas{
    "srv_delete_replicas",
    "DELETE FROM ddbfs.replicas WHERE server_id = $1 AND chunk_id = ANY($2::bigint[])", true};

constexpr Statement kForgetMissingDeletions{
    "srv_forget_deletions",
    "WITH missing AS ("
    "  SELECT chunk_id FROM ddbfs.gc_queue"
    "   WHERE server_id = $1 AND chunk_id > $2 AND chunk_id <= $3"
    "  EXCEPT SELECT unnest($4::bigint[]))"
    " DELETE FROM ddbfs.gc_queue g USING missing m"
    " WHERE g.server_id = $1 AND g.chunk_id = m.chunk_id",
    true};

// Full scans: fine for the sizes this serves; the health part reads every
// chunk once, grouped with its replicas.
constexpr Statement kCountCluster{
    "srv_count_cluster",
    "SELECT n.files, n.dirs, n.bytes, g.due, h.chunks, h.under, h.missing, h.over,"
    "       g.held, g.held_bytes"
    " FROM (SELECT count(*) FILTER (WHERE type = 1) AS files,"
    "              count(*) FILTER (WHERE type = 2) AS dirs,"
    "              COALESCE(sum(size) FILTER (WHERE type = 1), 0)::bigint AS bytes"
    "       FROM ddbfs.inodes) n,"
    "      (SELECT count(*) AS chunks, count(*) FILTER (WHERE live < goal) AS under,"
    "              count(*) FILTER (WHERE live = 0) AS missing,"
    "              count(*) FILTER (WHERE live > goal) AS over"
    "       FROM (SELECT c.id, GREATEST(i.goal, tg.goal) AS goal,"
    "                    count(r.server_id) FILTER (WHERE r.version = c.version"
    "                      AND r.server_id = ANY($1::integer[])) AS live"
    "             FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode"
    "             LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode"
    "             LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
    "             GROUP BY c.id, i.goal, tg.goal) per_chunk) h,"
    "      (SELECT count(*) FILTER (WHERE NOT held OR queued_at <= cutoff) AS due,"
    "              count(*) FILTER (WHERE held AND queued_at > cutoff) AS held,"
    "              COALESCE(sum(bytes) FILTER (WHERE held AND queued_at > cutoff), 0)::bigint"
    "                AS held_bytes"
    "       FROM ddbfs.gc_queue, (SELECT now() - $2::bigint * interval '1 millisecond') t(cutoff))"
    "      g",
    false};

constexpr Statement kSetDraining{"srv_set_draining",
                                 "UPDATE ddbfs.servers SET draining = $2 WHERE id = $1", true};

// Per server in $1: its replica rows of written chunks (version > 0).
constexpr Statement kReplicaCounts{
    "srv_replica_counts",
    "SELECT r.server_id, count(*) FROM ddbfs.replicas r JOIN ddbfs.chunks c ON c.id = r.chunk_id"
    " WHERE r.server_id = ANY($1::integer[]) AND c.version > 0 GROUP BY r.server_id",
    false};

// The written chunks of which `$1` holds the only current replica on a
// server in $2 (alive; $1 itself counts whatever its state).
constexpr Statement kOnlyCopies{
    "srv_only_copies",
    "SELECT count(*) FROM ddbfs.replicas r JOIN ddbfs.chunks c ON c.id = r.chunk_id"
    " WHERE r.server_id = $1 AND c.version > 0 AND r.version = c.version"
    "   AND NOT EXISTS (SELECT 1 FROM ddbfs.replicas o WHERE o.chunk_id = r.chunk_id"
    "     AND o.server_id <> $1 AND o.version = c.version AND o.server_id = ANY($2::integer[]))",
    false};

// Forgets a server: the rows of never-written chunks it had (no data), its
// queued deletions, its row. Only when it has no row of a written chunk.
constexpr Statement kRemoveServer{
    "srv_remove",
    "WITH blocked AS (SELECT 1 FROM ddbfs.replicas r JOIN ddbfs.chunks c ON c.id = r.chunk_id"
    "                  WHERE r.server_id = $1 AND c.version > 0 LIMIT 1),"
    " r AS (DELETE FROM ddbfs.replicas WHERE server_id = $1"
    "       AND NOT EXISTS (SELECT 1 FROM blocked) RETURNING 1),"
    " g AS (DELETE FROM ddbfs.gc_queue WHERE server_id = $1"
    "       AND NOT EXISTS (SELECT 1 FROM blocked) RETURNING 1)"
    " SELECT NOT EXISTS (SELECT 1 FROM blocked), (SELECT count(*) FROM r), (SELECT count(*) FROM "
    "g)",
    true};

constexpr Statement kDeleteServerRow{"srv_delete_row", "DELETE FROM ddbfs.servers WHERE id = $1",
                                     true};

}  // namespace

Result<bool> SetServerDraining(Tx& tx, int32_t server, bool draining) {
  return Guard(tx, [&]() -> Result<bool> {
    return tx.Exec(kSetDraining, server, draining).affected_rows() == 1;
  });
}

Result<std::map<int32_t, int64_t>> ServerReplicaCounts(Tx& tx,
                                                       const std::vector<int32_t>& servers) {
  return Guard(tx, [&]() -> Result<std::map<int32_t, int64_t>> {
    std::map<int32_t, int64_t> out;
    for (int32_t id : servers) out[id] = 0;
    for (const auto& row : tx.Exec(kReplicaCounts, PgArray(servers))) {
      out[row[0].as<int32_t>()] = row[1].as<int64_t>();
    }
    return out;
  });
}

Result<int64_t> OnlyCopiesOn(Tx& tx, int32_t server, const std::vector<int32_t>& alive) {
  return Guard(tx, [&]() -> Result<int64_t> {
    return tx.Exec(kOnlyCopies, server, PgArray(alive)).at(0)[0].as<int64_t>();
  });
}

Result<bool> RemoveServer(Tx& tx, int32_t server) {
  return Guard(tx, [&]() -> Result<bool> {
    pqxx::row row = tx.Exec(kRemoveServer, server).at(0);
    if (!row[0].as<bool>()) return false;
    tx.Exec(kDeleteServerRow, server);
    return true;
  });
}

Result<int32_t> UpsertServer(Tx& tx, const ServerRecord& s) {
  return Guard(tx, [&]() -> Result<int32_t> {
    return tx
        .Exec(kUpsertServer, s.uuid, s.host, s.port, s.label, s.capacity_bytes, s.used_bytes,
              s.chunk_count, s.rack)
        .at(0)[0]
        .as<int32_t>();
  });
}

Result<std::vector<ServerRecord>> LoadServers(Tx& tx) {
  return Guard(tx, [&]() -> Result<std::vector<ServerRecord>> {
    std::vector<ServerRecord> out;
    for (const auto& row : tx.Exec(kLoadServers)) {
      ServerRecord s;
      s.id = row[0].as<int32_t>();
      s.uuid = row[1].as<std::string>();
      s.host = row[2].as<std::string>();
      s.port = row[3].as<int32_t>();
      s.label = row[4].as<std::string>();
      s.capacity_bytes = row[5].as<int64_t>();
      s.used_bytes = row[6].as<int64_t>();
      s.chunk_count = row[7].as<int64_t>();
      if (!row[8].is_null()) s.last_heartbeat_unix_ms = row[8].as<int64_t>();
      s.draining = row[9].as<bool>();
      s.rack = row[10].as<std::string>();
      out.push_back(std::move(s));
    }
    return out;
  });
}

Status FlushServer(Tx& tx, int32_t server, int64_t capacity_bytes, int64_t used_bytes,
                   int64_t chunk_count, int64_t heartbeat_unix_ms) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kFlushServer, server, capacity_bytes, used_bytes, chunk_count, heartbeat_unix_ms);
    return Status();
  });
}

Result<std::vector<InventoryEntryState>> InventoryStates(Tx& tx, int32_t server,
                                                         const std::vector<int64_t>& chunk_ids,
                                                         const std::vector<int64_t>& versions) {
  return Guard(tx, [&]() -> Result<std::vector<InventoryEntryState>> {
    std::vector<InventoryEntryState> out;
    for (const auto& row :
         tx.Exec(kInventoryStates, server, PgArray(chunk_ids), PgArray(versions))) {
      InventoryEntryState e;
      e.chunk_id = row[0].as<int64_t>();
      e.version = row[1].as<int64_t>();
      e.chunk_exists = row[2].as<bool>();
      e.chunk_version = row[3].as<int64_t>();
      e.lease_open = row[4].as<bool>();
      if (!row[5].is_null()) e.row_version = row[5].as<int64_t>();
      e.deletion_queued = row[6].as<bool>();
      e.current_elsewhere = row[7].as<bool>();
      out.push_back(e);
    }
    return out;
  });
}

Result<int64_t> LastChunkId(Tx& tx) {
  return Guard(tx,
               [&]() -> Result<int64_t> { return tx.Exec(kLastChunkId).at(0)[0].as<int64_t>(); });
}

Result<int64_t> DropMissingReplicas(Tx& tx, int32_t server, int64_t after, int64_t upto,
                                    const std::vector<int64_t>& present) {
  return Guard(tx, [&]() -> Result<int64_t> {
    return static_cast<int64_t>(
        tx.Exec(kDropMissingReplicas, server, after, upto, PgArray(present)).affected_rows());
  });
}

Status UpsertServerReplicas(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids,
                            const std::vector<int64_t>& versions) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kUpsertServerReplicas, server, PgArray(chunk_ids), PgArray(versions));
    return Status();
  });
}

Status DeleteServerReplicas(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDeleteServerReplicas, server, PgArray(chunk_ids));
    return Status();
  });
}

Status ForgetMissingDeletions(Tx& tx, int32_t server, int64_t after, int64_t upto,
                              const std::vector<int64_t>& present) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kForgetMissingDeletions, server, after, upto, PgArray(present));
    return Status();
  });
}

Result<ClusterCounts> CountCluster(Tx& tx, const std::vector<int32_t>& alive,
                                   int64_t retention_ms) {
  return Guard(tx, [&]() -> Result<ClusterCounts> {
    pqxx::row row = tx.Exec(kCountCluster, PgArray(alive), retention_ms).at(0);
    ClusterCounts c;
    c.files = row[0].as<int64_t>();
    c.directories = row[1].as<int64_t>();
    c.logical_bytes = row[2].as<int64_t>();
    c.pending_deletions = row[3].as<int64_t>();
    c.chunks = row[4].as<int64_t>();
    c.chunks_under_goal = row[5].as<int64_t>();
    c.chunks_missing = row[6].as<int64_t>();
    c.chunks_over_goal = row[7].as<int64_t>();
    c.held_replicas = row[8].as<int64_t>();
    c.held_bytes = row[9].as<int64_t>();
    return c;
  });
}

}  // namespace ddbfs::meta::store
