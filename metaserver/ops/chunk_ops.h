#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/error_code.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

namespace store {
class Tx;
}

// Chunk-map operations (chunks.cc): where a file's data lives, and the
// version protocol of writes (see docs/metadata.md, "Chunk versions").
// Thread-safe.

struct ServerAddr {
  int32_t server_id = 0;
  std::string host;
  int32_t port = 0;
};

class ServerRegistry;

// The address of server `id` as the registry knows it (empty if unknown).
ServerAddr ServerAddressOf(const ServerRegistry& servers, int32_t id);

struct ReplicaLocation {
  ServerAddr address;
  int64_t version = 0;  // recorded version of this replica
  bool alive = false;
  std::string label;
};

struct ChunkLocation {
  int64_t index = 0;
  int64_t chunk_id = 0;
  int64_t version = 0;  // committed version
  int64_t length = 0;
  std::vector<ReplicaLocation> replicas;
};

struct ChunkMapView {
  Attr attr;
  std::vector<ChunkLocation> chunks;  // holes are absent
  // The caller may read the file (CheckAccess r). GetChunks does not fail
  // without it; the service issues read capabilities only when set.
  bool readable = false;
};

inline constexpr int kMaxChunksPerCall = 1000;

// `count` chunks from first_index (capped at 1000). Without all_replicas only
// replicas a reader may use: alive and at the committed version.
Result<ChunkMapView> GetChunks(OpContext& ctx, const Caller& caller, InodeId inode,
                               int64_t first_index, int32_t count, bool all_replicas);

struct WritePlan {
  int64_t chunk_id = 0;
  int64_t version = 0;  // the version the write must carry
  int64_t length = 0;   // current committed length
  std::vector<ServerAddr> replicas;
  int64_t lease_id = 0;  // the write lease this generation runs under
  int lease_ms = 0;      // its duration
  int goal = 0;          // wanted replicas (more than `replicas` when some are lost)
};

// Starts a write of chunk `index` of a regular file: allocates the chunk on
// `goal` alive servers (distinct labels first) if it is a hole, or returns
// its alive up-to-date replicas, and the version to write, under a new write
// lease. kBusy while another writer's lease is live or the chunk awaits
// settling (docs/write_protocol.md). Needs write permission on the file, as
// do RenewLeases, ReleaseLeases, RecoverWrite and CommitWrite
// (kPermissionDenied).
Result<WritePlan> PrepareWrite(OpContext& ctx, const Caller& caller, InodeId inode, int64_t index);

// The new-chunk half of PrepareWrite, inside the caller's writer transaction
// (also used by CreateForWrite for chunk 0): places `goal` replicas, inserts
// chunk `index` of `inode` (which must be a hole) with replica rows at
// version 0, and returns version 1 to write with. Fails with NO_SPACE before
// writing anything when no server can take a replica.
Result<WritePlan> PlaceNewChunk(OpContext& ctx, store::Tx& tx, InodeId inode, int64_t index,
                                int goal);

// A chunk server's proof of its replica's SHA-256 (rpc::ChunkHashProof),
// whose MAC the service layer checked.
struct ReplicaHash {
  int32_t server_id = 0;
  int64_t session = 0;  // the server's registration session when it proved it
  int64_t version = 0;
  int64_t length = 0;
  std::string sha256;  // raw
};

struct ChunkCommitArgs {
  int64_t index = 0;
  int64_t chunk_id = 0;
  int64_t version = 0;
  int64_t length = 0;
  std::vector<int32_t> written;  // servers that acknowledged the write
  int64_t lease_id = 0;          // must still be the chunk's lease
};

// Proofs of the written replicas' SHA-256 by chunk id (docs/content_hash.md):
// a chunk's hash is recorded when all of its `written` prove the same one.
using ReplicaHashes = std::map<int64_t, std::vector<ReplicaHash>>;

struct LeaseRef {
  int64_t chunk_id = 0;
  int64_t lease_id = 0;
};

// Extends the caller's leases on chunks of `inode`; kLeaseExpired if any is
// no longer held. Returns the lease duration.
Result<int> RenewLeases(OpContext& ctx, const Caller& caller, InodeId inode,
                        const std::vector<LeaseRef>& leases);

// Gives leases up without committing: the chunks are settled now.
Status ReleaseLeases(OpContext& ctx, const Caller& caller, InodeId inode,
                     const std::vector<LeaseRef>& leases);

struct RecoverArgs {
  InodeId inode = 0;
  int64_t index = 0;
  int64_t chunk_id = 0;
  int64_t lease_id = 0;
  int64_t version = 0;
  std::vector<int32_t> good;
  std::vector<int32_t> failed;
};
struct RecoverPlan {
  int64_t version = 0;            // for the rest of the write
  std::vector<ServerAddr> good;   // chain order
  std::vector<ServerAddr> added;  // new replicas to fill by copy
};
// Pipeline recovery (see the IDL's RecoverWriteRequest).
Result<RecoverPlan> RecoverWrite(OpContext& ctx, const Caller& caller, const RecoverArgs& args);

// Makes written chunks visible (see the IDL): versions, lengths, stale
// replicas dropped and queued for GC, file size and times, the chunks' and
// the file's content hashes (docs/content_hash.md). All or nothing.
// kLeaseExpired unless every chunk's lease is still the writer's. A commit
// by a non-root caller that changes the data clears S_ISUID, and S_ISGID when
// group-exec is set.
Result<Attr> CommitWrite(OpContext& ctx, const Caller& caller, InodeId inode,
                         const std::vector<ChunkCommitArgs>& chunks, int64_t size,
                         std::optional<int64_t> mtime_ns, const ReplicaHashes& hashes = {});

// A reader found a replica bad: drop it and queue it for GC, unless no other
// live replica of the committed version is left (kept; an error is logged);
// the repair is kicked. No permission check (the
// service decides who may report).
Status ReportBadReplica(OpContext& ctx, const Caller& caller, int64_t chunk_id, int32_t server_id,
                        ErrorCode reason);
// Replicas a chunk server's scrubber found bad (Heartbeat.bad_replicas):
// (chunk id, version it held; 0: unknown). Each is dropped from the chunk
// map and its deletion queued when another live replica of the committed
// version is left; the repair is kicked.
Status DropBadReplicas(OpContext& ctx, int32_t server_id,
                       const std::vector<std::pair<int64_t, int64_t>>& bad);

}  // namespace ddbfs::meta
