#pragma once

#include <optional>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta::store {

class Tx;

// Queries on the chunk map (ddbfs.chunks, ddbfs.replicas) and the garbage
// collection queue (ddbfs.gc_queue). Every replica row that is deleted is
// queued for deletion on its server in the same statement.

// The chunk at (inode, index) with its replica rows, nullopt if it is a hole.
Result<std::optional<ChunkRecord>> GetChunkAt(Tx& tx, InodeId inode, int64_t index);

// The chunks with these ids (those that exist), with their replica rows.
Result<std::vector<ChunkRecord>> GetChunksById(Tx& tx, const std::vector<int64_t>& ids);

// The chunk with this id, nullopt if it does not exist.
Result<std::optional<ChunkRecord>> GetChunk(Tx& tx, int64_t chunk_id);

// GetChunksById for chunks of one file, and the highest goal of the tag
// rules matching a tag the file carries (0: none) in *tag_goal, in the same
// statement (a commit's check of whether it leaves a chunk below goal).
Result<std::vector<ChunkRecord>> GetChunksWithTagGoal(Tx& tx, const std::vector<int64_t>& ids,
                                                      int* tag_goal);

struct NewChunk {
  int64_t chunk_id = 0;
  int64_t lease_id = 0;
};
// Allocates an id from ddbfs.chunk_ids and inserts the chunk (version 0,
// length 0, pending version 1 under a new write lease that expires at
// lease_expires_ms) with a replica row at version 0 on each server.
Result<NewChunk> InsertChunk(Tx& tx, InodeId inode, int64_t index,
                             const std::vector<int32_t>& servers, int64_t lease_expires_ms);

// Opens a write generation: pending_version = version and a new lease
// (id from ddbfs.lease_ids) expiring at expires_ms. Returns the lease id.
Result<int64_t> GrantLease(Tx& tx, int64_t chunk_id, int64_t version, int64_t expires_ms);

// Moves the open generation of lease `lease_id` to `version` (pipeline
// recovery) and extends the lease. No-op if the lease is not the chunk's.
Status SetPendingVersion(Tx& tx, int64_t chunk_id, int64_t lease_id, int64_t version,
                         int64_t expires_ms);

// Extends (expires_ms > 0) or expires now (expires_ms == 0) the leases
// (chunks[i], leases[i]) held on chunks of `inode`; returns the chunk ids
// whose lease matched.
Result<std::vector<int64_t>> RenewLeases(Tx& tx, InodeId inode, const std::vector<int64_t>& chunks,
                                         const std::vector<int64_t>& leases, int64_t expires_ms);

// Replaces lease `lease_id` by a new one expiring at expires_ms (the
// settler's claim on a chunk whose writer's lease expired). Returns the new
// lease id, or 0 if `lease_id` is no longer the chunk's lease.
Result<int64_t> ClaimLease(Tx& tx, int64_t chunk_id, int64_t lease_id, int64_t expires_ms);

// Every lease expires no earlier than expires_ms (at metaserver start:
// writers must not lose their leases because the metaserver was down).
Status ExtendAllLeases(Tx& tx, int64_t expires_ms);

// Ends lease `lease_id` on the chunk (no-op if it is not the chunk's).
Status ClearLease(Tx& tx, int64_t chunk_id, int64_t lease_id);

// Up to `limit` chunks whose lease expired at or before now_ms, oldest first.
Result<std::vector<int64_t>> ExpiredLeases(Tx& tx, int64_t now_ms, int limit);

// Adds replica rows at `version` (or resets existing ones to it) and cancels
// pending deletions of the chunk on those servers.
Status AddReplicas(Tx& tx, int64_t chunk_id, const std::vector<int32_t>& servers, int64_t version);

// Records a committed write: the chunk's version and length, `written`
// replicas at `version`, every other replica row deleted and queued for GC,
// the write lease ended, and the chunk's SHA-256 (raw, over `length`
// bytes; nullopt: stale, docs/content_hash.md).
Status CommitChunk(Tx& tx, int64_t chunk_id, int64_t version, int64_t length,
                   const std::vector<int32_t>& written,
                   const std::optional<std::string>& sha256 = std::nullopt);

// Drops the chunks of `inode` with index >= first_dropped (queueing their
// replicas for GC, held for the retention: docs/backup.md) and caps the
// length of chunk `last_index` at `last_length`.
Status TruncateChunks(Tx& tx, InodeId inode, int64_t first_dropped, int64_t last_index,
                      int64_t last_length);

// Deletes a chunk that never held committed data (version 0, length 0):
// its row, and its replica rows, queued for GC. What is left reads as a
// hole, as before the chunk was placed.
Status DropChunk(Tx& tx, int64_t chunk_id);

struct ChunkMap {
  std::optional<Attr> attr;  // nullopt: no such inode
  std::vector<ChunkRecord> chunks;
};
// The inode's attributes and its chunks with index in [first, end), one query.
Result<ChunkMap> GetChunkMap(Tx& tx, InodeId inode, int64_t first, int64_t end);

// Deletes one replica row and queues it for GC.
Status DropReplica(Tx& tx, int64_t chunk_id, int32_t server_id);

struct PendingDeletionList {
  std::vector<int64_t> chunk_ids;
  int64_t held = 0;  // of them, held deletions (their retention passed, or released)
};
// Up to `limit` chunk ids queued for deletion on `server` that are due,
// oldest first: those not held, and the held ones (ddbfs.gc_queue.held,
// docs/backup.md) queued more than retention_ms ago - or all of them with
// release_held (the server is short of space).
Result<PendingDeletionList> PendingDeletions(Tx& tx, int32_t server, int limit,
                                             int64_t retention_ms, bool release_held);
// Queues held deletions of these chunks on `server` (chunks the metadata
// does not have, reported by the server); a queued one stays as it is.
Status QueueHeldDeletions(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids);
// The server deleted these: remove them from the queue.
Status ConfirmDeletions(Tx& tx, int32_t server, const std::vector<int64_t>& chunk_ids);

}  // namespace ddbfs::meta::store
