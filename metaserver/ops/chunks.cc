#include <algorithm>
#include <map>
#include <set>

#include "ddbfs/constants.h"
#include "ddbfs/content_hash.h"
#include "ddbfs/log.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/content_hash.h"
#include "metaserver/ops/lease_settler.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/content_hash_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

Status ValidateChunkIndex(int64_t index) {
  if (index < 0 || index > kMaxChunkIndex) {
    return InvalidArgument("chunk index " + std::to_string(index) + " is out of range");
  }
  return Status();
}

// The inode must be a regular file.
Status CheckRegular(const std::optional<Attr>& a, InodeId inode) {
  if (!a) return NotFound("no inode " + std::to_string(inode));
  if (a->type == FileType::kDirectory) {
    return Status(ErrorCode::kIsDir, "inode " + std::to_string(inode) + " is a directory");
  }
  if (a->type != FileType::kRegular) {
    return InvalidArgument("inode " + std::to_string(inode) + " is not a regular file");
  }
  return Status();
}

// Fresh replicas for a chunk: UNAVAILABLE while the servers re-register after
// a metaserver start, NO_SPACE when no server can take one.
Result<std::vector<int32_t>> Place(ServerRegistry& servers, int goal) {
  // Right after a metaserver start, the chunk servers have not registered
  // again yet: placing now would fail or put everything on the first one
  // back (kUnavailable, which clients retry).
  RETURN_IF_ERROR(servers.PlacementReady());
  std::vector<int32_t> chosen = servers.ChooseServers(goal, {});
  if (static_cast<int>(chosen.size()) < goal && !chosen.empty()) {
    // Not silent: the chunk starts under its goal (ddbfs status counts it)
    // until a server with room comes back and repair copies it.
    LOG(kWarn) << "placing a chunk on " << chosen.size() << " of its goal of " << goal
               << " servers: no other alive server with room";
  }
  if (!chosen.empty()) return chosen;
  if (servers.AliveIds().empty()) {
    return Status(ErrorCode::kNoSpace, "no chunk server is alive");
  }
  return Status(ErrorCode::kNoSpace, "no chunk server has room for a chunk (" +
                                         std::to_string(kChunkSize >> 20) + " MiB free)");
}

}  // namespace

ServerAddr ServerAddressOf(const ServerRegistry& servers, int32_t id) {
  ServerAddr out;
  out.server_id = id;
  if (auto s = servers.Get(id)) {
    out.host = s->record.host;
    out.port = s->record.port;
  }
  return out;
}

Result<ChunkMapView> GetChunks(OpContext& ctx, const Caller& caller, InodeId inode,
                               int64_t first_index, int32_t count, bool all_replicas) {
  RETURN_IF_ERROR(ValidateInode(inode));
  RETURN_IF_ERROR(ValidateChunkIndex(first_index));
  if (count < 0) return InvalidArgument("negative chunk count " + std::to_string(count));
  count = std::min(count, kMaxChunksPerCall);
  store::ChunkMap map;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(map, store::GetChunkMap(tx, inode, first_index, first_index + count));
    return Status();
  }));
  if (!map.attr) return NotFound("no inode " + std::to_string(inode));
  if (map.attr->type == FileType::kDirectory) {
    return Status(ErrorCode::kIsDir, "inode " + std::to_string(inode) + " is a directory");
  }
  ChunkMapView out;
  out.attr = *map.attr;
  out.readable = CheckAccess(out.attr, caller, kMayRead, "read").ok();
  for (const store::ChunkRecord& c : map.chunks) {
    ChunkLocation loc{c.index, c.id, c.version, c.length, {}};
    for (const store::ReplicaRecord& r : c.replicas) {
      std::optional<ServerState> s = ctx.servers.Get(r.server_id);
      bool alive = s && s->alive;
      if (!all_replicas && !(alive && r.version == c.version)) continue;
      ReplicaLocation rep;
      rep.address = ServerAddressOf(ctx.servers, r.server_id);
      rep.version = r.version;
      rep.alive = alive;
      if (s) rep.label = s->record.label;
      loc.replicas.push_back(std::move(rep));
    }
    out.chunks.push_back(std::move(loc));
  }
  return out;
}

Result<WritePlan> PlaceNewChunk(OpContext& ctx, store::Tx& tx, InodeId inode, int64_t index,
                                int goal) {
  ASSIGN_OR_RETURN(std::vector<int32_t> servers, Place(ctx.servers, goal));
  WritePlan plan;
  ASSIGN_OR_RETURN(store::NewChunk chunk,
                   store::InsertChunk(tx, inode, index, servers, LeaseExpiry(ctx)));
  plan.chunk_id = chunk.chunk_id;
  plan.lease_id = chunk.lease_id;
  plan.lease_ms = ctx.leases.lease_ms;
  plan.goal = goal;
  plan.version = 1;
  for (int32_t id : servers) plan.replicas.push_back(ServerAddressOf(ctx.servers, id));
  return plan;
}

namespace {

// The goal a writer of `chunk` should bring it back to before writing: its
// goal, unless no alive server outside its replicas could take a copy (then
// what it has), so that a writer does not ask for a replacement that cannot
// exist (a RecoverWrite and a version bump on every write of the chunk).
int ReachableGoal(const ServerRegistry& registry, const store::ChunkRecord& chunk,
                  const std::vector<int32_t>& writable, int goal) {
  if (static_cast<int>(writable.size()) >= goal) return goal;
  std::set<int32_t> holders;
  for (const store::ReplicaRecord& r : chunk.replicas) holders.insert(r.server_id);
  for (int32_t id : registry.AliveIds()) {
    if (!holders.count(id)) return goal;
  }
  return static_cast<int>(writable.size());
}

// Whether committing a write of `chunk` acknowledged by `written` may leave
// it off its goal: a replica row that missed the write (dropped by the
// commit), fewer written replicas than `goal`, or a written replica on a
// server that is dead or being drained (it does not count toward the goal).
bool LeavesOffGoal(const ServerRegistry& registry, const store::ChunkRecord& chunk,
                   const std::vector<int32_t>& written, int goal) {
  int kept = 0;
  for (const store::ReplicaRecord& r : chunk.replicas) {
    if (std::find(written.begin(), written.end(), r.server_id) == written.end()) return true;
    std::optional<ServerState> st = registry.Get(r.server_id);
    if (!st || !st->alive || st->record.draining) return true;
    ++kept;
  }
  return kept < goal;
}

// kBusy while the chunk is under a write lease (live, or expired and not
// settled yet: the settler is woken).
Status CheckNoLease(OpContext& ctx, const store::ChunkRecord& chunk) {
  if (chunk.lease_id == 0) return Status();
  if (chunk.lease_expires_ms > NowMs()) {
    return Status(ErrorCode::kBusy, "chunk " + std::to_string(chunk.index) + " of inode " +
                                        std::to_string(chunk.inode) +
                                        " is being written by another client");
  }
  if (ctx.settler) ctx.settler->Kick();
  return Status(ErrorCode::kBusy, "chunk " + std::to_string(chunk.index) + " of inode " +
                                      std::to_string(chunk.inode) +
                                      " is being settled after its writer's lease expired");
}

}  // namespace

Result<WritePlan> PrepareWrite(OpContext& ctx, const Caller& caller, InodeId inode, int64_t index) {
  RETURN_IF_ERROR(ValidateInode(inode));
  RETURN_IF_ERROR(ValidateChunkIndex(index));
  WritePlan plan;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    plan = WritePlan();
    ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, inode));
    RETURN_IF_ERROR(CheckRegular(attr, inode));
    RETURN_IF_ERROR(CheckAccess(*attr, caller, kMayWrite, "write"));
    ASSIGN_OR_RETURN(std::optional<store::ChunkRecord> chunk, store::GetChunkAt(tx, inode, index));
    if (!chunk) {
      ASSIGN_OR_RETURN(plan, PlaceNewChunk(ctx, tx, inode, index, attr->goal));
      return Status();
    }
    RETURN_IF_ERROR(CheckNoLease(ctx, *chunk));
    std::vector<int32_t> servers;
    for (const store::ReplicaRecord& r : chunk->replicas) {
      if (r.version == chunk->version && ctx.servers.IsAlive(r.server_id)) {
        servers.push_back(r.server_id);
      }
    }
    int current = 0;
    for (const store::ReplicaRecord& r : chunk->replicas) current += r.version == chunk->version;
    if (static_cast<int>(servers.size()) < current) {
      // Replicas that are only down for a metaserver restart come back:
      // writing without them now would drop them.
      RETURN_IF_ERROR(ctx.servers.PlacementReady());
    }
    if (servers.empty()) {
      // Nothing was ever written to it: start over on live servers.
      if (chunk->length != 0) {
        return Status(ErrorCode::kUnavailable,
                      "no live replica of chunk " + std::to_string(chunk->id));
      }
      ASSIGN_OR_RETURN(servers, Place(ctx.servers, attr->goal));
      RETURN_IF_ERROR(store::AddReplicas(tx, chunk->id, servers, chunk->version));
    }
    plan.chunk_id = chunk->id;
    // Every generation gets a version above every one handed out before,
    // so an abandoned generation's bytes never share a version with others.
    plan.version = std::max(chunk->version, chunk->pending_version) + 1;
    plan.length = chunk->length;
    ASSIGN_OR_RETURN(plan.lease_id,
                     store::GrantLease(tx, chunk->id, plan.version, LeaseExpiry(ctx)));
    plan.lease_ms = ctx.leases.lease_ms;
    plan.goal = ReachableGoal(ctx.servers, *chunk, servers, attr->goal);
    for (int32_t id : servers) plan.replicas.push_back(ServerAddressOf(ctx.servers, id));
    return Status();
  }));
  return plan;
}

Result<Attr> CommitWrite(OpContext& ctx, const Caller& caller, InodeId inode,
                         const std::vector<ChunkCommitArgs>& chunks, int64_t size,
                         std::optional<int64_t> mtime_ns, const ReplicaHashes& hashes) {
  RETURN_IF_ERROR(ValidateInode(inode));
  if (size < 0 || static_cast<uint64_t>(size) > kMaxFileSize) {
    return InvalidArgument("file size " + std::to_string(size) + " is out of range");
  }
  std::vector<int64_t> ids;
  std::set<int64_t> seen;
  for (const ChunkCommitArgs& c : chunks) {
    RETURN_IF_ERROR(ValidateChunkIndex(c.index));
    if (c.chunk_id <= 0 || !seen.insert(c.chunk_id).second) {
      return InvalidArgument("bad or repeated chunk id " + std::to_string(c.chunk_id));
    }
    if (c.version <= 0) return InvalidArgument("bad chunk version " + std::to_string(c.version));
    if (c.length < 0 || static_cast<uint64_t>(c.length) > kChunkSize) {
      return InvalidArgument("chunk length " + std::to_string(c.length) + " is out of range");
    }
    if (c.written.empty()) {
      return IoError("no chunk server acknowledged the write of chunk " +
                     std::to_string(c.chunk_id));
    }
    ids.push_back(c.chunk_id);
  }
  Attr out;
  bool off_goal = false;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, inode));
    RETURN_IF_ERROR(CheckRegular(attr, inode));
    RETURN_IF_ERROR(CheckAccess(*attr, caller, kMayWrite, "commit write"));
    int tag_goal = 0;
    ASSIGN_OR_RETURN(std::vector<store::ChunkRecord> records,
                     store::GetChunksWithTagGoal(tx, ids, &tag_goal));
    std::map<int64_t, const store::ChunkRecord*> by_id;
    for (const auto& r : records) by_id[r.id] = &r;
    for (const ChunkCommitArgs& c : chunks) {
      auto it = by_id.find(c.chunk_id);
      if (it == by_id.end()) {
        // Gone with its lease: settled before anything was written to it
        // (it is dropped then), or cut off by a truncate.
        return Status(ErrorCode::kLeaseExpired,
                      "the write lease on chunk " + std::to_string(c.index) + " (id " +
                          std::to_string(c.chunk_id) +
                          ") was lost (the chunk no longer exists): the write is not committed");
      }
      const store::ChunkRecord& r = *it->second;
      if (r.inode != inode || r.index != c.index) {
        return InvalidArgument("chunk " + std::to_string(c.chunk_id) + " is not chunk " +
                               std::to_string(c.index) + " of inode " + std::to_string(inode));
      }
      if (c.lease_id == 0 || r.lease_id != c.lease_id || c.version != r.pending_version) {
        return Status(ErrorCode::kLeaseExpired,
                      "the write lease on chunk " + std::to_string(c.index) + " (id " +
                          std::to_string(c.chunk_id) +
                          ") was lost (it expired and the chunk was settled or taken by another "
                          "writer): the write is not committed");
      }
      bool any = false;
      for (const store::ReplicaRecord& rep : r.replicas) {
        for (int32_t w : c.written) any = any || w == rep.server_id;
      }
      if (!any) {
        return IoError("none of the servers that acknowledged the write holds chunk " +
                       std::to_string(c.chunk_id));
      }
      off_goal =
          off_goal || LeavesOffGoal(ctx.servers, r, c.written, std::max<int>(attr->goal, tag_goal));
    }
    const int64_t now = NowNs();
    // A non-root writer that changes the data drops set-user/group-ID.
    const bool data_changed = !chunks.empty() || static_cast<uint64_t>(size) != attr->size;
    const uint32_t mode = ModeAfterWrite(*attr, caller);
    if (data_changed && mode != attr->mode) {
      AttrChanges kill;
      kill.mode = mode;
      RETURN_IF_ERROR(store::UpdateAttr(tx, inode, kill, now).status());
    }
    // The file's hash, written with its size (docs/content_hash.md). A file
    // of one chunk that this commit proved whole (the common small file):
    // that chunk's hash hashed once more, without reading the chunk list.
    std::optional<std::string> whole;
    for (const ChunkCommitArgs& c : chunks) {
      auto proofs = hashes.find(c.chunk_id);
      std::optional<std::string> sha256 =
          proofs == hashes.end() ? std::nullopt : AgreedHash(ctx.servers, c, proofs->second);
      if (sha256 && chunks.size() == 1 && c.index == 0 && c.length > 0 && c.length == size) {
        whole = Sha256Of(*sha256);
      }
      RETURN_IF_ERROR(store::CommitChunk(tx, c.chunk_id, c.version, c.length, c.written, sha256));
    }
    if (!whole) {
      ASSIGN_OR_RETURN(whole, DocumentHashOf(tx, inode, static_cast<uint64_t>(size)));
    }
    ASSIGN_OR_RETURN(out, store::SetSizeAndTimes(tx, inode, static_cast<uint64_t>(size),
                                                 mtime_ns.value_or(now), now, whole));
    return Status();
  }));
  // A replica that missed the write was dropped, or the chunk was written
  // below its goal; its lease, which hid it from the repair, is gone. A
  // commit that leaves every chunk at its goal, as it was before the write,
  // does not wake the repair: its scans read the whole chunk map.
  if (off_goal) MarkRepairDirty(ctx);
  return out;
}

namespace {

// Drops the replica of `chunk_id` on `server_id` from the chunk map and
// queues its deletion, unless no other live replica at the committed
// version would be left (a partly bad replica still serves its good
// blocks). `version` > 0: only a row at that version or below (a report
// about a replica since replaced by a newer one is stale). *dropped tells.
// REQUIRES: runs inside a writer transaction.
Status DropBadReplica(OpContext& ctx, store::Tx& tx, int64_t chunk_id, int32_t server_id,
                      int64_t version, ErrorCode reason, bool* dropped) {
  *dropped = false;
  ASSIGN_OR_RETURN(std::optional<store::ChunkRecord> chunk, store::GetChunk(tx, chunk_id));
  if (!chunk) return NotFound("no chunk " + std::to_string(chunk_id));
  const store::ReplicaRecord* row = nullptr;
  int others = 0;
  for (const auto& r : chunk->replicas) {
    if (r.server_id == server_id) {
      row = &r;
    } else if (r.version == chunk->version && ctx.servers.IsAlive(r.server_id)) {
      ++others;
    }
  }
  if (row == nullptr) {
    return NotFound("server " + std::to_string(server_id) + " holds no replica of chunk " +
                    std::to_string(chunk_id));
  }
  if (version > 0 && row->version > version) return Status();
  if (others == 0) {
    LOG(kError) << "replica of chunk " << chunk_id << " on server " << server_id
                << " reported bad (" << NameOf(reason)
                << ") but no other live replica of its version is left: keeping it";
    return Status();
  }
  LOG(kWarn) << "dropping replica of chunk " << chunk_id << " on server " << server_id
             << ": reported bad (" << NameOf(reason) << ")";
  RETURN_IF_ERROR(store::DropReplica(tx, chunk_id, server_id));
  *dropped = true;
  return Status();
}

}  // namespace

Status ReportBadReplica(OpContext& ctx, const Caller&, int64_t chunk_id, int32_t server_id,
                        ErrorCode reason) {
  if (chunk_id <= 0) return InvalidArgument("bad chunk id " + std::to_string(chunk_id));
  if (server_id <= 0) return InvalidArgument("bad server id " + std::to_string(server_id));
  bool dropped = false;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    return DropBadReplica(ctx, tx, chunk_id, server_id, 0, reason, &dropped);
  }));
  if (dropped && ctx.repairer) ctx.repairer->Kick();
  return Status();
}

Status DropBadReplicas(OpContext& ctx, int32_t server_id,
                       const std::vector<std::pair<int64_t, int64_t>>& bad) {
  if (bad.empty()) return Status();
  bool any = false;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    any = false;
    for (const auto& [chunk_id, version] : bad) {
      bool dropped = false;
      Status s = DropBadReplica(ctx, tx, chunk_id, server_id, version, ErrorCode::kChecksumMismatch,
                                &dropped);
      // A chunk deleted since, or a replica the map no longer lists: its
      // file goes with the orphan check.
      if (!s.ok() && s.code() != ErrorCode::kNotFound) return s;
      any = any || dropped;
    }
    return Status();
  }));
  if (any && ctx.repairer) ctx.repairer->Kick();
  return Status();
}

}  // namespace ddbfs::meta
