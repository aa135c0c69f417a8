// Write leases held by clients: renew, release, and pipeline recovery
// (docs/write_protocol.md).

#include <algorithm>
#include <set>

#include "ddbfs/log.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/lease_settler.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

constexpr size_t kMaxLeasesPerCall = 1000;

Status ValidateLeases(InodeId inode, const std::vector<LeaseRef>& leases) {
  RETURN_IF_ERROR(ValidateInode(inode));
  if (leases.size() > kMaxLeasesPerCall) {
    return InvalidArgument("more than " + std::to_string(kMaxLeasesPerCall) +
                           " leases in one call");
  }
  for (const LeaseRef& l : leases) {
    if (l.chunk_id <= 0 || l.lease_id <= 0) {
      return InvalidArgument("bad lease (chunk " + std::to_string(l.chunk_id) + ", lease " +
                             std::to_string(l.lease_id) + ")");
    }
  }
  return Status();
}

Status LeaseLost(int64_t chunk_id) {
  return Status(ErrorCode::kLeaseExpired,
                "the write lease on chunk id " + std::to_string(chunk_id) +
                    " was lost (expired and settled, or taken by another writer)");
}

// Runs RenewLeases with `expires_ms` and reports the first lease not held.
// The caller must still be allowed to write the file (an inode that is gone has no
// leases left: kLeaseExpired, as before).
Status UpdateLeases(OpContext& ctx, const Caller& caller, InodeId inode,
                    const std::vector<LeaseRef>& leases, bool expire_now) {
  RETURN_IF_ERROR(ValidateLeases(inode, leases));
  if (leases.empty()) return Status();
  std::vector<int64_t> chunks, ids;
  for (const LeaseRef& l : leases) {
    chunks.push_back(l.chunk_id);
    ids.push_back(l.lease_id);
  }
  std::vector<int64_t> held;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, inode));
    if (attr) {
      RETURN_IF_ERROR(CheckAccess(*attr, caller, kMayWrite,
                                  expire_now ? "release write leases" : "renew write leases"));
    }
    ASSIGN_OR_RETURN(held,
                     store::RenewLeases(tx, inode, chunks, ids, expire_now ? 0 : LeaseExpiry(ctx)));
    return Status();
  }));
  if (expire_now && ctx.settler && !held.empty()) ctx.settler->Released(held);
  std::set<int64_t> ok(held.begin(), held.end());
  for (int64_t c : chunks) {
    if (!ok.count(c)) return LeaseLost(c);
  }
  return Status();
}

}  // namespace

Result<int> RenewLeases(OpContext& ctx, const Caller& caller, InodeId inode,
                        const std::vector<LeaseRef>& leases) {
  RETURN_IF_ERROR(UpdateLeases(ctx, caller, inode, leases, /*expire_now=*/false));
  return ctx.leases.lease_ms;
}

Status ReleaseLeases(OpContext& ctx, const Caller& caller, InodeId inode,
                     const std::vector<LeaseRef>& leases) {
  Status s = UpdateLeases(ctx, caller, inode, leases, /*expire_now=*/true);
  // A lease already gone needs no release.
  if (s.code() == ErrorCode::kLeaseExpired) return Status();
  return s;
}

Result<RecoverPlan> RecoverWrite(OpContext& ctx, const Caller& caller, const RecoverArgs& a) {
  RETURN_IF_ERROR(ValidateInode(a.inode));
  if (a.chunk_id <= 0 || a.lease_id <= 0 || a.version <= 0) {
    return InvalidArgument("bad chunk, lease or version in RecoverWrite");
  }
  if (a.good.empty()) return InvalidArgument("RecoverWrite needs at least one good replica");
  // `failed` may be empty: a writer whose chunk is below goal asks for
  // replacements before its first piece.
  if (a.good.size() + a.failed.size() > 32) return InvalidArgument("too many replicas listed");
  RecoverPlan plan;
  std::vector<int32_t> added;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    plan = RecoverPlan();
    added.clear();
    ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, a.inode));
    if (!attr) return NotFound("no inode " + std::to_string(a.inode));
    RETURN_IF_ERROR(CheckAccess(*attr, caller, kMayWrite, "recover write"));
    // (A vector rather than GetChunk's optional: g++ 12 warns spuriously on
    // the optional here.)
    ASSIGN_OR_RETURN(std::vector<store::ChunkRecord> found, store::GetChunksById(tx, {a.chunk_id}));
    const store::ChunkRecord* chunk = found.empty() ? nullptr : &found.front();
    if (!chunk) return LeaseLost(a.chunk_id);  // settled unwritten (dropped) or truncated away
    if (chunk->inode != a.inode || chunk->index != a.index) {
      return NotFound("no chunk " + std::to_string(a.chunk_id) + " at index " +
                      std::to_string(a.index) + " of inode " + std::to_string(a.inode));
    }
    if (chunk->lease_id != a.lease_id || chunk->pending_version != a.version) {
      return LeaseLost(a.chunk_id);
    }
    std::set<int32_t> rows;
    for (const auto& r : chunk->replicas) rows.insert(r.server_id);
    for (int32_t g : a.good) {
      if (!rows.count(g)) {
        return InvalidArgument("server " + std::to_string(g) + " holds no replica of chunk " +
                               std::to_string(a.chunk_id));
      }
    }
    std::set<int32_t> exclude = rows;
    exclude.insert(a.failed.begin(), a.failed.end());
    const int want = attr->goal - static_cast<int>(a.good.size());
    // Distinct hosts from the good replicas first.
    const std::set<int32_t> good(a.good.begin(), a.good.end());
    if (want > 0) added = ctx.servers.ChooseServers(want, exclude, good);
    plan.version = chunk->pending_version + 1;
    RETURN_IF_ERROR(
        store::SetPendingVersion(tx, a.chunk_id, a.lease_id, plan.version, LeaseExpiry(ctx)));
    if (!added.empty()) RETURN_IF_ERROR(store::AddReplicas(tx, a.chunk_id, added, 0));
    return Status();
  }));
  for (int32_t id : a.good) plan.good.push_back(ServerAddressOf(ctx.servers, id));
  for (int32_t id : added) plan.added.push_back(ServerAddressOf(ctx.servers, id));
  LOG(kInfo) << "write of chunk " << a.chunk_id << " recovers from " << a.failed.size()
             << " failed replica(s): version " << a.version << " -> " << plan.version << ", "
             << plan.added.size() << " replacement(s)";
  return plan;
}

}  // namespace ddbfs::meta
