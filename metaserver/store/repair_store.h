#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

// Queries of the repair (metaserver/ops/repairer.h, docs/repair.md): chunks
// below and above their goal, and the chunk-map changes a repair makes. A
// replica is *counted* toward the goal when its server is in the `counted`
// set the caller passes (the registry's view: alive and not being drained)
// and it holds the chunk's committed version; a replica on a live server
// being drained is still *readable* (a copy's source).
namespace ddbfs::meta::store {

class Tx;

// A committed chunk with fewer counted replicas than its file's effective
// goal (its own, or its tags' rules' when higher; docs/repair.md, "Goals").
struct UnderGoalChunk {
  int64_t id = 0;
  InodeId inode = 0;
  int64_t index = 0;
  int64_t version = 0;  // committed
  int64_t length = 0;
  int goal = 0;
  std::vector<int32_t> live;  // servers with a readable replica (drained ones too)
  // Servers that must not receive a copy: every server with a replica row
  // of the chunk (any version, alive or not) or a deletion of it queued.
  std::vector<int32_t> holders;
};

// Up to `limit` chunks with at least one readable replica (committed
// version on a server in `readable`: alive, drained or not) and fewer than
// goal counted ones (on a server in `counted`: alive and not being
// drained), no write lease, a committed version (> 0), and an id not in
// `skip` (copies in flight); fewest counted replicas first, then by id. A
// full scan of the chunk map.
Result<std::vector<UnderGoalChunk>> UnderGoalChunks(Tx& tx, const std::vector<int32_t>& counted,
                                                    const std::vector<int32_t>& readable,
                                                    const std::vector<int64_t>& skip, int limit);

// A chunk with more counted replicas than its goal, or at least its goal
// and replica rows on servers being drained.
struct OverGoalChunk {
  int64_t id = 0;
  int64_t version = 0;
  int goal = 0;
  std::vector<int32_t> live;     // servers in `counted` with a current replica
  std::vector<int32_t> drained;  // servers in `draining` with a row (any version)
};

// Up to `limit` such chunks with no write lease, by id. A full scan of the
// chunk map.
Result<std::vector<OverGoalChunk>> OverGoalChunks(Tx& tx, const std::vector<int32_t>& counted,
                                                  const std::vector<int32_t>& draining, int limit);

// A chunk at its goal whose counted replicas could be spread better
// (docs/repair.md, "Placement by host and rack"): two of them share a host
// while a host with room has none, or share a rack while a rack with room
// has none.
struct MisplacedChunk {
  int64_t id = 0;
  int64_t version = 0;  // committed
  int64_t length = 0;
  std::vector<int32_t> live;     // servers with a counted replica
  std::vector<int32_t> holders;  // as UnderGoalChunk::holders
};

// Where the counted servers are, for MisplacedChunks: server `ids[i]` is
// on host group `hosts[i]` and rack group `racks[i]` (small integers the
// caller assigns: equal numbers, same host or rack). `room_hosts` and
// `room_racks` are the groups with a server that could take a copy.
struct PlacementGroups {
  std::vector<int32_t> ids;
  std::vector<int32_t> hosts;
  std::vector<int32_t> racks;
  std::vector<int32_t> room_hosts;
  std::vector<int32_t> room_racks;
};

// Up to `limit` misplaced chunks with exactly their goal of counted
// replicas (on servers in groups.ids, at the committed version), no write
// lease, an id not in `skip`; by id. A full scan of the chunk map.
Result<std::vector<MisplacedChunk>> MisplacedChunks(Tx& tx, const PlacementGroups& groups,
                                                    const std::vector<int64_t>& skip, int limit);

// Rebalancing (docs/repair.md, "Rebalancing"): the bytes of the current
// replicas (rows at the chunk's committed version) of each of `servers`,
// as (server, bytes) pairs; a server with none is left out. A scan of the
// replica rows joined with the chunk map.
Result<std::vector<std::pair<int32_t, int64_t>>> ServerReplicaBytes(
    Tx& tx, const std::vector<int32_t>& servers);

// Up to `limit` chunks with a current replica on `server` and exactly their
// goal of counted replicas (at the committed version, on servers in
// `counted`), no write lease, an id not in `skip`; the biggest first, then
// by id. Reads the server's replica rows (index replicas_server_chunk),
// not the whole chunk map.
Result<std::vector<MisplacedChunk>> RebalanceChunks(Tx& tx, int32_t server,
                                                    const std::vector<int32_t>& counted,
                                                    const std::vector<int64_t>& skip, int limit);

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
// version, or its server is in `any_version` (being drained). Returns how
// many rows went.
Result<int64_t> TrimReplicas(Tx& tx, int64_t chunk_id, int64_t version,
                             const std::vector<int32_t>& servers,
                             const std::vector<int32_t>& any_version = {});

}  // namespace ddbfs::meta::store
