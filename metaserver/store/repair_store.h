#pragma once

#include <cstdint>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

// Queries of the repair (metaserver/ops/repairer.h, docs/repair.md): chunks
// below and above their goal, and the chunk-map changes a repair makes. A
// replica is *live* when its server is in the `alive` set the caller passes
// (the registry's view) and it holds the chunk's committed version.
namespace ddbfs::meta::store {

class Tx;

// A committed chunk with fewer live replicas than its file's goal.
struct UnderGoalChunk {
  int64_t id = 0;
  InodeId inode = 0;
  int64_t index = 0;
  int64_t version = 0;  // committed
  int64_t length = 0;
  int goal = 0;
  std::vector<int32_t> live;  // servers with a live replica
  // Servers that must not receive a copy: every server with a replica row
  // of the chunk (any version, alive or not) or a deletion of it queued.
  std::vector<int32_t> holders;
};

// Up to `limit` chunks with at least one and fewer than goal live replicas,
// no write lease, a committed version (> 0), and an id not in `skip` (copies
// in flight); fewest live replicas first, then by id. A full scan of the
// chunk map.
Result<std::vector<UnderGoalChunk>> UnderGoalChunks(Tx& tx, const std::vector<int32_t>& alive,
                                                    const std::vector<int64_t>& skip, int limit);

// A chunk with more live replicas than its goal.
struct OverGoalChunk {
  int64_t id = 0;
  int64_t version = 0;
  int goal = 0;
  std::vector<int32_t> live;  // servers with a live replica
};

// Up to `limit` chunks with more live replicas than goal and no write lease,
// by id. A full scan of the chunk map.
Result<std::vector<OverGoalChunk>> OverGoalChunks(Tx& tx, const std::vector<int32_t>& alive,
                                                  int limit);

// Records a replica copied by the repair: a row (chunk_id, server, version)
// if the chunk still exists at exactly `version` with no write lease and the
// server has no row of it and no deletion of it queued. Returns whether it
// was recorded.
Result<bool> RecordRepairedReplica(Tx& tx, int64_t chunk_id, int32_t server, int64_t version);

// Queues the deletion of `server`'s copy of the chunk (a copy that was not
// recorded), unless the server has a replica row of the chunk.
Status QueueUnrecordedCopy(Tx& tx, int64_t chunk_id, int32_t server);

// Drops the replica rows of `servers` (and queues their deletion) if the
// chunk is still at `version` with no write lease and each row holds that
// version. Returns how many rows went.
Result<int64_t> TrimReplicas(Tx& tx, int64_t chunk_id, int64_t version,
                             const std::vector<int32_t>& servers);

}  // namespace ddbfs::meta::store
