#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta::store {

class Tx;

// Queries on the chunk-server registry (ddbfs.servers), a server's replica
// rows (for inventory reconciliation), and the cluster-wide counters.

// Inserts or updates the server with record.uuid (host, port, label, rack,
// capacity, use, chunk count; last_heartbeat = now); returns its id, the
// same one for the same uuid forever.
Result<int32_t> UpsertServer(Tx& tx, const ServerRecord& record);

// Every registered server.
Result<std::vector<ServerRecord>> LoadServers(Tx& tx);

// Writes the figures of the last heartbeat.
Status FlushServer(Tx& tx, int32_t server, int64_t capacity_bytes, int64_t used_bytes,
                   int64_t chunk_count, int64_t heartbeat_unix_ms);

// What the metadata says about each entry of an inventory page, for the
// entries that need a decision: the chunk is unknown, or this server has no
// replica row of it, or its row records another version. Entries whose row
// already matches are left out.
struct InventoryEntryState {
  int64_t chunk_id = 0;
  int64_t version = 0;                 // as the server reported it
  bool chunk_exists = false;           // in ddbfs.chunks
  int64_t chunk_version = 0;           // the committed version (if it exists)
  bool lease_open = false;             // a write lease is held on the chunk
  std::optional<int64_t> row_version;  // this server's replica row, if any
  bool deletion_queued = false;        // in gc_queue for this server
  bool current_elsewhere = false;      // another server's row is at chunk_version
};
// `chunk_ids` (strictly increasing) with `versions` as reported by `server`.
Result<std::vector<InventoryEntryState>> InventoryStates(Tx& tx, int32_t server,
                                                         const std::vector<int64_t>& chunk_ids,
                                                         const std::vector<int64_t>& versions);

// The highest chunk id ever handed out (0 if none): a larger id was never
// a chunk of this file system.
Result<int64_t> LastChunkId(Tx& tx);

// Deletes the replica rows of `server` with chunk id in (after, upto] that
// are not in `present` (the server does not hold them), except rows of a
// chunk nothing was ever written to (row and chunk at version 0). Returns
// how many rows went. Nothing is queued: there is no data to delete.
Result<int64_t> DropMissingReplicas(Tx& tx, int32_t server, int64_t after, int64_t upto,
                                    const std::vector<int64_t>& present);

// Inserts or updates replica rows of `server` with these versions.
Status UpsertServerReplicas(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids,
                            const std::vector<int64_t>& versions);

// Deletes replica rows of `server` (the caller orders the data deleted).
Status DeleteServerReplicas(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids);

// Removes queued deletions of `server` with chunk id in (after, upto] that
// are not in `present`: the server no longer has them.
Status ForgetMissingDeletions(Tx& tx, int32_t server, int64_t after, int64_t upto,
                              const std::vector<int64_t>& present);

// Files, directories, bytes, pending deletions, and chunk health, where a
// replica is live when its server is in `alive` and it has the committed
// version. Held deletions queued less than retention_ms ago count as held,
// not pending (docs/backup.md).
Result<ClusterCounts> CountCluster(Tx& tx, const std::vector<int32_t>& alive, int64_t retention_ms);

// Draining (docs/repair.md, "Draining"). Returns whether the server exists.
Result<bool> SetServerDraining(Tx& tx, int32_t server, bool draining);
// Per server: its replica rows of written chunks (version > 0).
Result<std::map<int32_t, int64_t>> ServerReplicaCounts(Tx& tx, const std::vector<int32_t>& servers);
// Written chunks of which `server` holds the only current replica among
// itself and the servers in `alive`.
Result<int64_t> OnlyCopiesOn(Tx& tx, int32_t server, const std::vector<int32_t>& alive);
// Forgets the server (its rows of never-written chunks, queued deletions
// and its row) unless it holds a row of a written chunk: then false and
// nothing changes.
Result<bool> RemoveServer(Tx& tx, int32_t server);

}  // namespace ddbfs::meta::store
