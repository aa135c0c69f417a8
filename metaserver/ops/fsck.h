#pragma once

// The orphan check and fsck (docs/repair.md, "Orphans" and "fsck").
// Thread-safe (like every op: state lives in the store and the registry).

#include <cstdint>
#include <string>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

struct ReplicaAgeItem {
  int64_t chunk_id = 0;
  int64_t version = 0;
  int64_t age_ms = 0;
};

struct CheckReplicasResult {
  int64_t unknown = 0;  // entries the metadata does not know
  int64_t queued = 0;   // of them, queued for deletion now
};

// One page of a chunk server's orphan check: queues for deletion every
// listed replica the metadata does not know that is older than
// ctx.orphan_grace_ms. kNotFound when `session` is not the server's
// current registration session; at most kMaxInventoryPage entries.
Result<CheckReplicasResult> CheckReplicas(OpContext& ctx, int32_t server_id, int64_t session,
                                          const std::vector<ReplicaAgeItem>& entries);

// Most chunks of the metadata one Fsck call looks at, and orphans it lists.
inline constexpr int kMaxFsckChunks = 5000;
inline constexpr size_t kMaxFsckOrphans = 10000;

struct FsckArgs {
  std::string path;  // "" or "/": everything
  bool repair = false;
  int64_t after_chunk_id = 0;
  int limit = 1000;
};

struct FsckReplicaView {
  int32_t server_id = 0;
  std::string address;
  bool alive = false;
  int64_t row_version = -1;   // -1: no row
  int64_t disk_version = -1;  // -1: not on the server's disk (or not asked)
  int64_t disk_length = 0;
  bool corrupt = false;
  std::string state;  // good, corrupt, absent, stale, dead, unrecorded, newer, unchecked
};

struct FsckChunkView {
  int64_t chunk_id = 0;
  int64_t inode = 0;
  int64_t index = 0;
  int64_t version = 0;
  int64_t length = 0;
  int goal = 0;
  int good = 0;
  std::vector<std::string> paths;
  std::vector<std::string> problems;  // missing, corrupt, stale, under_goal, over_goal
  std::vector<FsckReplicaView> replicas;
};

struct FsckOrphanView {
  int32_t server_id = 0;
  int64_t chunk_id = 0;
  int64_t version = 0;
  int64_t length = 0;
  int64_t age_ms = 0;
  bool known_chunk = false;
  bool queued = false;
  bool held = false;  // queued, but held for the retention (docs/backup.md)
};

struct FsckPage {
  std::vector<FsckChunkView> chunks;  // with a problem
  std::vector<FsckOrphanView> orphans;
  int64_t chunks_checked = 0;
  int64_t orphans_not_listed = 0;
  std::vector<int32_t> servers_not_checked;
  int64_t next_after_chunk_id = 0;
  bool more = false;
  int64_t repair_actions = 0;
};

// One window of fsck: the chunks after args.after_chunk_id (at most
// args.limit, capped at kMaxFsckChunks) compared with the inventory of every
// live chunk server (ChunkService.ListReplicas, cluster key). With
// args.repair: bad, absent and stale rows of chunks that keep a good replica
// are dropped and their deletion queued, orphans that can never be a
// replica (or older than the grace) are queued for deletion, and the repair
// is kicked. The caller checks that it is an admin.
Result<FsckPage> Fsck(OpContext& ctx, const FsckArgs& args);

}  // namespace ddbfs::meta
