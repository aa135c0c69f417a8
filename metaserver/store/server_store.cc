#include "metaserver/store/server_store.h"

#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kUpsertServer{
    "srv_upsert",
    "INSERT INTO ddbfs.servers (uuid, host, port, label, capacity_bytes, used_bytes, chunk_count,"
    "                           last_heartbeat)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, now())"
    " ON CONFLICT (uuid) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
    "   label = EXCLUDED.label, capacity_bytes = EXCLUDED.capacity_bytes,"
    "   used_bytes = EXCLUDED.used_bytes, chunk_count = EXCLUDED.chunk_count,"
    "   last_heartbeat = EXCLUDED.last_heartbeat"
    " RETURNING id",
    true};

constexpr Statement kLoadServers{
    "srv_load",
    "SELECT id, uuid, host, port, label, capacity_bytes, used_bytes, chunk_count,"
    " (extract(epoch FROM last_heartbeat) * 1000)::bigint"
    " FROM ddbfs.servers ORDER BY id",
    false};

constexpr Statement kFlushServer{
    "srv_flush",
    "UPDATE ddbfs.servers SET capacity_bytes = $2, used_bytes = $3, chunk_count = $4,"
    " last_heartbeat = to_timestamp($5::bigint / 1000.0) WHERE id = $1",
    true};

constexpr Statement kServerReplicas{
    "srv_replicas",
    "SELECT r.chunk_id, r.version, c.version FROM ddbfs.replicas r"
    " JOIN ddbfs.chunks c ON c.id = r.chunk_id WHERE r.server_id = $1",
    false};

constexpr Statement kDeleteServerReplicas{
    "srv_delete_replicas",
    "DELETE FROM ddbfs.replicas WHERE server_id = $1 AND chunk_id = ANY($2::bigint[])", true};

constexpr Statement kSetServerReplicaVersions{
    "srv_set_replica_versions",
    "UPDATE ddbfs.replicas r SET version = v.version"
    " FROM unnest($2::bigint[], $3::bigint[]) AS v(chunk_id, version)"
    " WHERE r.server_id = $1 AND r.chunk_id = v.chunk_id",
    true};

constexpr Statement kForgetDeletionsExcept{
    "srv_forget_deletions",
    "DELETE FROM ddbfs.gc_queue WHERE server_id = $1 AND NOT (chunk_id = ANY($2::bigint[]))", true};

// Full scans: fine for the sizes this serves; the health part reads every
// chunk once, grouped with its replicas.
constexpr Statement kCountCluster{
    "srv_count_cluster",
    "SELECT n.files, n.dirs, n.bytes, (SELECT count(*) FROM ddbfs.gc_queue),"
    "       h.chunks, h.under, h.missing"
    " FROM (SELECT count(*) FILTER (WHERE type = 1) AS files,"
    "              count(*) FILTER (WHERE type = 2) AS dirs,"
    "              COALESCE(sum(size) FILTER (WHERE type = 1), 0)::bigint AS bytes"
    "       FROM ddbfs.inodes) n,"
    "      (SELECT count(*) AS chunks, count(*) FILTER (WHERE live < goal) AS under,"
    "              count(*) FILTER (WHERE live = 0) AS missing"
    "       FROM (SELECT c.id, i.goal,"
    "                    count(r.server_id) FILTER (WHERE r.version = c.version"
    "                      AND r.server_id = ANY($1::integer[])) AS live"
    "             FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode"
    "             LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
    "             GROUP BY c.id, i.goal) per_chunk) h",
    false};

}  // namespace

Result<int32_t> UpsertServer(Tx& tx, const ServerRecord& s) {
  return Guard(tx, [&]() -> Result<int32_t> {
    return tx
        .Exec(kUpsertServer, s.uuid, s.host, s.port, s.label, s.capacity_bytes, s.used_bytes,
              s.chunk_count)
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

Result<std::vector<ServerReplica>> ServerReplicas(Tx& tx, int32_t server) {
  return Guard(tx, [&]() -> Result<std::vector<ServerReplica>> {
    std::vector<ServerReplica> out;
    for (const auto& row : tx.Exec(kServerReplicas, server)) {
      out.push_back(
          ServerReplica{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<int64_t>()});
    }
    return out;
  });
}

Status DeleteServerReplicas(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDeleteServerReplicas, server, PgArray(chunk_ids));
    return Status();
  });
}

Status SetServerReplicaVersions(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids,
                                const std::vector<int64_t>& versions) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kSetServerReplicaVersions, server, PgArray(chunk_ids), PgArray(versions));
    return Status();
  });
}

Status ForgetDeletionsExcept(Tx& tx, int32_t server, const std::vector<int64_t>& stored) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kForgetDeletionsExcept, server, PgArray(stored));
    return Status();
  });
}

Result<ClusterCounts> CountCluster(Tx& tx, const std::vector<int32_t>& alive) {
  return Guard(tx, [&]() -> Result<ClusterCounts> {
    pqxx::row row = tx.Exec(kCountCluster, PgArray(alive)).at(0);
    ClusterCounts c;
    c.files = row[0].as<int64_t>();
    c.directories = row[1].as<int64_t>();
    c.logical_bytes = row[2].as<int64_t>();
    c.pending_deletions = row[3].as<int64_t>();
    c.chunks = row[4].as<int64_t>();
    c.chunks_under_goal = row[5].as<int64_t>();
    c.chunks_missing = row[6].as<int64_t>();
    return c;
  });
}

}  // namespace ddbfs::meta::store
