#pragma once

#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta::store {

class Tx;

// Queries on the chunk-server registry (ddbfs.servers), a server's replica
// rows (for inventory reconciliation), and the cluster-wide counters.

// Inserts or updates the server with record.uuid (host, port, label,
// capacity, use, chunk count; last_heartbeat = now); returns its id, the
// same one for the same uuid forever.
Result<int32_t> UpsertServer(Tx& tx, const ServerRecord& record);

// Every registered server.
Result<std::vector<ServerRecord>> LoadServers(Tx& tx);

// Writes the figures of the last heartbeat.
Status FlushServer(Tx& tx, int32_t server, int64_t capacity_bytes, int64_t used_bytes,
                   int64_t chunk_count, int64_t heartbeat_unix_ms);

struct ServerReplica {
  int64_t chunk_id = 0;
  int64_t replica_version = 0;  // recorded version of this server's replica
  int64_t chunk_version = 0;    // the chunk's committed version
};
// The replica rows of `server`.
Result<std::vector<ServerReplica>> ServerReplicas(Tx& tx, int32_t server);

// Deletes replica rows of `server` (their data is gone; nothing to queue).
Status DeleteServerReplicas(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids);

// Sets the recorded version of replicas of `server`.
Status SetServerReplicaVersions(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids,
                                const std::vector<int64_t>& versions);

// Removes queued deletions of `server` for chunks it no longer stores.
Status ForgetDeletionsExcept(Tx& tx, int32_t server, const std::vector<int64_t>& stored);

// Files, directories, bytes, pending deletions, and chunk health, where a
// replica is live when its server is in `alive` and it has the committed
// version.
Result<ClusterCounts> CountCluster(Tx& tx, const std::vector<int32_t>& alive);

}  // namespace ddbfs::meta::store
