#include "metaserver/ops/lease_settler.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/content_hash.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

constexpr int kChunksPerPass = 100;
// Attempts at one chunk within a pass (a late piece of the dead writer can
// move a replica's version under the settler's feet).
constexpr int kAttempts = 3;

// What one live replica reported.
struct ReplicaState {
  ServerAddr address;
  int64_t version = 0;
  int64_t length = 0;
};

std::chrono::milliseconds SweepInterval(const OpContext& ctx) {
  return std::chrono::milliseconds(std::clamp(ctx.leases.lease_ms / 4, 50, 1000));
}

}  // namespace

LeaseSettler::LeaseSettler(OpContext& ctx, int rpc_timeout_ms)
    : ctx_(ctx), rpc_timeout_ms_(rpc_timeout_ms) {}

LeaseSettler::~LeaseSettler() { Stop(); }

void LeaseSettler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LeaseSettler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaseSettler::Kick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

int64_t LeaseSettler::settled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return settled_;
}

void LeaseSettler::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, SweepInterval(ctx_), [this] { return stopping_ || kicked_; });
      if (stopping_) return;
      kicked_ = false;
    }
    SettleExpired();
  }
}

LeaseSettler::ChunkPool& LeaseSettler::Pool(const std::string& host, int port) {
  const std::string key = host + ":" + std::to_string(port);
  std::lock_guard<std::mutex> lock(pools_mu_);
  auto& pool = pools_[key];
  if (!pool) pool = std::make_unique<ChunkPool>(host, port, rpc_timeout_ms_, 16, ctx_.peers);
  return *pool;
}

bool LeaseSettler::SettlingAllowed() {
  if (!ctx_.servers.PlacementReady().ok()) return false;
  const int64_t now = NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  if (ready_at_ms_ == 0) ready_at_ms_ = now;
  return now >= ready_at_ms_ + ctx_.leases.lease_ms;
}

void LeaseSettler::Released(const std::vector<int64_t>& chunk_ids) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (released_.size() + chunk_ids.size() > kMaxReleased) released_.clear();
    released_.insert(chunk_ids.begin(), chunk_ids.end());
  }
  Kick();
}

bool LeaseSettler::ReleasedMayBeSettled() { return ctx_.servers.PlacementReady().ok(); }

int LeaseSettler::SettleExpired() {
  const bool all = SettlingAllowed();
  if (!all && !ReleasedMayBeSettled()) return 0;
  std::vector<int64_t> expired;
  Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(expired, store::ExpiredLeases(tx, NowMs(), kChunksPerPass));
    return Status();
  });
  if (!s.ok()) {
    LOG(kWarn) << "lease settler: cannot list expired leases: " << s;
    return 0;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (all) {
      released_.clear();
    } else {
      // Within the lease time after a start: only what writers gave back.
      std::erase_if(expired, [&](int64_t id) { return released_.count(id) == 0; });
      for (int64_t id : expired) released_.erase(id);
    }
  }
  int done = 0;
  // A settled chunk may be left under goal, and its lease no longer hides it.
  if (!expired.empty()) MarkRepairDirty(ctx_);
  for (int64_t id : expired) {
    Status r = SettleChunk(id);
    if (r.ok()) {
      ++done;
    } else {
      LOG(kWarn) << "lease settler: chunk " << id << " not settled yet: " << r;
    }
  }
  return done;
}

Status LeaseSettler::SettleChunk(int64_t chunk_id) {
  std::lock_guard<std::mutex> serial(settle_mu_);
  // 1. Claim: the expired lease is replaced by the settler's, so the dead
  // (or late) writer can no longer commit.
  store::ChunkRecord chunk;
  int64_t claim = 0;
  int64_t file_size = 0;
  RETURN_IF_ERROR(ctx_.writer.Run([&](store::Tx& tx) -> Status {
    claim = 0;
    ASSIGN_OR_RETURN(std::optional<store::ChunkRecord> c, store::GetChunk(tx, chunk_id));
    if (!c || c->lease_id == 0 || c->lease_expires_ms > NowMs()) return Status();
    chunk = *c;
    ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, chunk.inode));
    file_size = attr ? static_cast<int64_t>(attr->size) : 0;
    ASSIGN_OR_RETURN(
        claim, store::ClaimLease(tx, chunk_id, chunk.lease_id, NowMs() + ctx_.leases.settle_ms));
    return Status();
  }));
  if (claim == 0) return Status();

  Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // 2. What does every live replica hold?
    std::vector<ReplicaState> states;
    for (const store::ReplicaRecord& r : chunk.replicas) {
      if (!ctx_.servers.IsAlive(r.server_id)) continue;
      ReplicaState st;
      st.address = ServerAddressOf(ctx_.servers, r.server_id);
      rpc::ChunkStateRequest req;
      req.chunk_id = chunk_id;
      rpc::ChunkStateResponse resp;
      Status call = Pool(st.address.host, st.address.port).Call([&](rpc::ChunkServiceClient& c) {
        c.ChunkState(resp, req);
      });
      if (call.ok()) call = FromRpc(resp.status);
      if (!call.ok()) {
        LOG(kInfo) << "settling chunk " << chunk_id << ": server " << r.server_id
                   << " has no usable replica (" << call << ")";
        continue;
      }
      st.version = resp.version;
      st.length = resp.length;
      states.push_back(st);
    }
    const int64_t new_version = std::max(chunk.version, chunk.pending_version) + 1;
    int64_t length = 0;
    std::vector<int32_t> settled;
    if (states.empty()) {
      if (chunk.version != 0) {
        // Committed data exists but no copy is reachable: keep the claim and
        // try again on a later pass.
        return Status(ErrorCode::kUnavailable,
                      "no live replica of chunk " + std::to_string(chunk_id) + " answered");
      }
      // Nothing was ever committed: start the chunk over with no replica.
    } else {
      // 3. The source: a replica still at the committed version (the write is
      // rolled back), else the most advanced one.
      auto source = std::find_if(states.begin(), states.end(),
                                 [&](const ReplicaState& s) { return s.version == chunk.version; });
      if (source == states.end()) {
        source = std::max_element(states.begin(), states.end(), [](const auto& a, const auto& b) {
          return std::tie(a.version, a.length) < std::tie(b.version, b.length);
        });
      }
      const bool rollback = source->version == chunk.version;
      length = source->length;
      if (!rollback) {
        // Bytes past the committed file size were never acknowledged: keep
        // the chunk within max(committed length, the file's extent in it).
        const int64_t start = chunk.index * static_cast<int64_t>(kChunkSize);
        const int64_t in_file =
            std::clamp<int64_t>(file_size - start, 0, static_cast<int64_t>(kChunkSize));
        length = std::min(length, std::max(chunk.length, in_file));
      }
      rpc::SetChunkVersionRequest sreq;
      sreq.chunk_id = chunk_id;
      sreq.from_version = source->version;
      sreq.to_version = new_version;
      sreq.length = length == source->length ? -1 : length;
      rpc::SetChunkVersionResponse sresp;
      Status set =
          Pool(source->address.host, source->address.port).Call([&](rpc::ChunkServiceClient& c) {
            c.SetChunkVersion(sresp, sreq);
          });
      if (set.ok()) set = FromRpc(sresp.status);
      if (!set.ok()) {
        last = set;
        continue;  // the replica moved (a late piece): look again
      }
      settled.push_back(source->address.server_id);
      for (const ReplicaState& st : states) {
        if (st.address.server_id == source->address.server_id) continue;
        Status s;
        if (rollback && st.version == chunk.version) {
          // Replicas of a committed version are byte-identical.
          rpc::SetChunkVersionRequest req = sreq;
          req.from_version = st.version;
          rpc::SetChunkVersionResponse resp;
          s = Pool(st.address.host, st.address.port).Call([&](rpc::ChunkServiceClient& c) {
            c.SetChunkVersion(resp, req);
          });
          if (s.ok()) s = FromRpc(resp.status);
        } else {
          rpc::ReplicateChunkRequest req;
          req.chunk_id = chunk_id;
          req.version = new_version;
          req.source.server_id = source->address.server_id;
          req.source.host = source->address.host;
          req.source.port = source->address.port;
          rpc::ReplicateChunkResponse resp;
          s = Pool(st.address.host, st.address.port).Call([&](rpc::ChunkServiceClient& c) {
            c.ReplicateChunk(resp, req);
          });
          if (s.ok()) s = FromRpc(resp.status);
        }
        if (s.ok()) {
          settled.push_back(st.address.server_id);
        } else {
          LOG(kWarn) << "settling chunk " << chunk_id << ": server " << st.address.server_id
                     << " could not take version " << new_version << ": " << s
                     << " (its replica is dropped)";
        }
      }
    }
    // 4. Commit the settled version with the replicas that have it; every
    // other replica row is dropped and queued for deletion.
    bool ours = false;
    RETURN_IF_ERROR(ctx_.writer.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(std::optional<store::ChunkRecord> c, store::GetChunk(tx, chunk_id));
      ours = c && c->lease_id == claim;
      if (!ours) return Status();
      if (chunk.version == 0 && settled.empty()) {
        // Never committed and nothing on any replica (a file created for
        // writing and closed empty, a writer that died before its first
        // piece): the chunk goes; a version with no replica would count
        // as missing and fsck would call the file lost.
        RETURN_IF_ERROR(store::DropChunk(tx, chunk_id));
      } else {
        // The bytes may have changed: the chunk's hash is stale, and so is
        // the file's (docs/content_hash.md).
        RETURN_IF_ERROR(store::CommitChunk(tx, chunk_id, new_version, length, settled));
      }
      ASSIGN_OR_RETURN(std::optional<Attr> file, store::GetInode(tx, chunk.inode));
      return file ? RefreshDocumentHash(tx, *file) : Status();
    }));
    if (!ours) return Internal("lost the settling claim on chunk " + std::to_string(chunk_id));
    if (chunk.version == 0 && settled.empty()) {
      LOG(kInfo) << "settled chunk " << chunk_id << " (index " << chunk.index << " of inode "
                 << chunk.inode << "): never written, dropped";
    } else {
      LOG(kInfo) << "settled chunk " << chunk_id << " (index " << chunk.index << " of inode "
                 << chunk.inode << "): version " << chunk.version << " -> " << new_version
                 << ", length " << length << ", " << settled.size() << " replica(s)";
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++settled_;
    return Status();
  }
  return last;
}

}  // namespace ddbfs::meta
