// FileWriter: buffers writes into pieces of up to kMaxIoSize (aligned to
// kMaxIoSize within the file, so never across a chunk), sends them along each
// chunk's replica chain from a background sender thread, and commits the
// chunks to the metaserver when the writer moves to another chunk, on Flush
// and on Sync. See docs/architecture.md, "A write".

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "client_impl.h"
#include "ddbfs/constants.h"
#include "ddbfs/log.h"

namespace ddbfs {

namespace {

// Pieces waiting for the sender besides the one in flight.
constexpr size_t kMaxQueued = 2;
// A buffer that reaches this size is given room for its whole piece.
constexpr size_t kReserveWholePiece = 256 << 10;
// File offsets stay within int64 (the wire type); the metaserver enforces
// its own, smaller maximum file size.
constexpr uint64_t kMaxOffset = static_cast<uint64_t>(INT64_MAX);

struct Task {
  enum Kind { kPiece, kSync, kCommit };
  Kind kind = kPiece;
  uint64_t offset = 0;  // kPiece: file offset of data
  std::string data;     // kPiece
  bool sync = false;    // kPiece: fdatasync on every replica after writing
  bool seal = false;    // kPiece: the last piece before a commit (WriteChunkRequest.seal)
};

using SteadyClock = std::chrono::steady_clock;

// A chunk written in the current generation: prepared, not yet committed.
struct OpenChunk {
  int64_t chunk_id = 0;
  int64_t version = 0;
  int64_t length = 0;                     // committed length at prepare, grown by the pieces
  std::vector<rpc::ServerAddress> chain;  // replicas that took every piece so far
  std::vector<std::pair<rpc::ServerAddress, Status>> failed;
  int64_t lease_id = 0;
  int lease_ms = 0;
  SteadyClock::time_point lease_renewed;  // when the lease was granted or last renewed
  rpc::Capability cap;                    // the chunk servers' permission for this version
  // The replicas' proofs of their SHA-256 from the last sealed write, by
  // server id (docs/content_hash.md); `sealed` while no byte was written
  // since at this version.
  std::map<int32_t, rpc::ChunkHashProof> proofs;
  bool sealed = false;
};

// One chained WriteChunk (data may be empty: only the version moves). The
// hash proofs the replicas answered go to *proofs, by server id.
ChainOutcome SendWrite(Client::Impl* impl, const std::vector<rpc::ServerAddress>& chain,
                       rpc::WriteChunkRequest& req,
                       std::map<int32_t, rpc::ChunkHashProof>* proofs = nullptr) {
  return SendAlongChain(
      impl, chain,
      [&](rpc::ChunkServiceClient& head, const std::vector<rpc::ServerAddress>& rest,
          std::vector<rpc::ReplicaResult>* results, Status* own) {
        req.chain = rest;
        rpc::WriteChunkResponse resp;
        head.WriteChunk(resp, req);
        if (proofs) {
          for (const rpc::ReplicaResult& r : resp.replicas) {
            if (r.__isset.hash) (*proofs)[r.server_id] = r.hash;
          }
        }
        *results = std::move(resp.replicas);
        *own = FromRpc(resp.status);
      });
}

// A zero-length WriteChunk with sync=true: brings a replica to `version`
// (when it holds an older one) and makes it durable.
rpc::WriteChunkRequest SyncRequest(int64_t chunk_id, int64_t version, const rpc::Capability& cap) {
  rpc::WriteChunkRequest req;
  req.chunk_id = chunk_id;
  req.version = version;
  req.offset = 0;
  req.sync = true;
  req.__set_cap(cap);
  return req;
}

// True if there were failures and every one of them is `code`.
bool AllFailedWith(const std::vector<std::pair<rpc::ServerAddress, Status>>& failed,
                   ErrorCode code) {
  if (failed.empty()) return false;
  for (const auto& f : failed) {
    if (f.second.code() != code) return false;
  }
  return true;
}

// A chunk written since the last Sync whose replicas did not fdatasync yet.
struct UnsyncedChunk {
  int64_t chunk_id = 0;
  int64_t version = 0;
  std::vector<rpc::ServerAddress> chain;
  rpc::Capability cap;
};

std::vector<int32_t> IdsOf(const std::vector<rpc::ServerAddress>& servers) {
  std::vector<int32_t> ids;
  for (const auto& s : servers) ids.push_back(s.server_id);
  return ids;
}

// Thread-safety: used by one thread at a time (the owner). The owner's side
// (buf_*, size_, closed_) is touched only by the owner; the sender side
// (prepared_, open_, unsynced_, last_index_, committed_size_, high_water_) only by
// whichever thread runs tasks: the sender thread once it exists, else the
// owner inline. The queue, error_ and mtime_ are guarded by mu_.
class FileWriterImpl final : public FileWriter {
 public:
  // `prepared`: a chunk already prepared by the metaserver (Create's
  // first_chunk), used instead of a PrepareWrite the first time the writer
  // touches that chunk.
  FileWriterImpl(Client::Impl* impl, InodeId inode, uint64_t size,
                 std::optional<rpc::ChunkPlacement> prepared = std::nullopt)
      : impl_(impl),
        inode_(inode),
        size_(size),
        prepared_(std::move(prepared)),
        prepared_at_(SteadyClock::now()),
        committed_size_(size),
        high_water_(size) {}

  ~FileWriterImpl() override {
    if (closed_) return;
    Status s = Close();
    if (!s.ok() && !reported_) {
      LOG(kError) << "closing writer of inode " << inode_ << ": " << s;
    }
  }

  Status Write(uint64_t offset, std::span<const char> data) override {
    if (closed_) return InvalidArgument("write to a closed file");
    RETURN_IF_ERROR(Reported());
    if (offset > kMaxOffset || data.size() > kMaxOffset - offset) {
      return InvalidArgument("write at offset " + std::to_string(offset) + " is out of range");
    }
    while (!data.empty()) {
      if (!buf_.empty() && offset != buf_off_ + buf_.size()) SendBuffer(false, true, false);
      if (buf_.empty()) buf_off_ = offset;
      const uint64_t piece_end = (buf_off_ / kMaxIoSize + 1) * kMaxIoSize;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), piece_end - offset));
      // A large write gets room for its whole piece at once rather than
      // moving the bytes each time the buffer doubles; small files keep
      // small buffers.
      if (buf_.size() + n >= kReserveWholePiece && buf_.capacity() < piece_end - buf_off_) {
        buf_.reserve(static_cast<size_t>(piece_end - buf_off_));
      }
      buf_.append(data.data(), n);
      offset += n;
      data = data.subspan(n);
      size_ = std::max(size_, offset);
      if (buf_off_ + buf_.size() == piece_end) SendBuffer(false, true, false);
    }
    return Reported();
  }

  Status Flush() override {
    if (closed_) return Reported();
    if (!buf_.empty()) SendBuffer(false, false, true);
    Enqueue(Task{Task::kCommit, 0, {}, false, false}, false);
    WaitIdle();
    return Reported();
  }

  Status Sync() override {
    if (closed_) return Reported();
    if (!buf_.empty()) SendBuffer(true, false, true);
    Enqueue(Task{Task::kSync, 0, {}, false, false}, false);
    WaitIdle();
    return Reported();
  }

  Status Close() override {
    if (closed_) return Reported();
    Status s = Flush();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    if (sender_.joinable()) sender_.join();
    // A chunk prepared by Create but never written: give its lease back, so
    // that the next writer of the file does not wait for it to expire.
    ReleasePrepared();
    closed_ = true;
    return s;
  }

  uint64_t size() const override { return size_; }

  bool HasUnsynced() const override { return closed_ && !unsynced_.empty(); }

  Status SyncAfterClose() override {
    if (!closed_) return Sync();
    // The sender thread has stopped: the owner may touch unsynced_. A
    // capability that expired cannot sync any more; such data was written
    // that long ago and left to the chunk servers' own writeback.
    const int64_t now = UnixNowMs();
    for (auto it = unsynced_.begin(); it != unsynced_.end();) {
      if (it->second.cap.expires_ms <= now) {
        LOG(kInfo) << "sync after close of chunk " << it->first << " (id " << it->second.chunk_id
                   << ") of inode " << inode_ << ": its write capability has expired; skipped";
        it = unsynced_.erase(it);
      } else {
        ++it;
      }
    }
    std::map<int64_t, UnsyncedChunk> todo;
    todo.swap(unsynced_);
    for (auto& [index, u] : todo) {
      rpc::WriteChunkRequest req = SyncRequest(u.chunk_id, u.version, u.cap);
      ChainOutcome out = SendWrite(impl_, u.chain, req);
      // A replica at a newer version (a later writer's: its own fsync, or
      // its close, covers the whole chunk file) or gone with the chunk
      // (truncated, removed) has nothing of this writer's left to make
      // durable; one whose server is unreachable is not live.
      bool settled = !out.ok.empty();
      bool only_gone_or_dead = true;
      for (const auto& [server, status] : out.failed) {
        const ErrorCode c = status.code();
        if (c == ErrorCode::kStaleVersion || c == ErrorCode::kNotFound) settled = true;
        if (c != ErrorCode::kStaleVersion && c != ErrorCode::kNotFound &&
            c != ErrorCode::kUnavailable) {
          only_gone_or_dead = false;
        }
      }
      if (settled && only_gone_or_dead) continue;
      return Status(ErrorCode::kIoError,
                    "sync of chunk " + std::to_string(index) + " (id " +
                        std::to_string(u.chunk_id) + ") of inode " + std::to_string(inode_) +
                        " after its close failed: " + DescribeFailures(out.failed));
    }
    return Status();
  }

  void SetMtime(int64_t mtime_ns) override {
    std::lock_guard<std::mutex> lock(mu_);
    mtime_ns_ = mtime_ns;
  }

 private:
  Status FirstError() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  // FirstError() for the owner's calls: remembers that the owner saw it.
  Status Reported() {
    Status s = FirstError();
    if (!s.ok()) reported_ = true;
    return s;
  }

  // `seal`: a commit follows this piece (Flush, Sync).
  void SendBuffer(bool sync, bool spawn, bool seal) {
    Task t;
    t.kind = Task::kPiece;
    t.offset = buf_off_;
    t.data = std::move(buf_);
    t.sync = sync;
    t.seal = seal;
    buf_ = std::string();
    Enqueue(std::move(t), spawn);
  }

  // Hands a task to the sender. Without a sender thread and !spawn the task
  // runs inline (small files never start a thread).
  void Enqueue(Task t, bool spawn) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!sender_.joinable()) {
      if (!spawn) {
        lock.unlock();
        Run(t);
        return;
      }
      sender_ = std::thread([this] { SenderLoop(); });
    }
    space_cv_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
    queue_.push_back(std::move(t));
    work_cv_.notify_one();
  }

  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }

  void SenderLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_
      Task t = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      space_cv_.notify_one();
      lock.unlock();
      Run(t);
      lock.lock();
      busy_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }

  // Runs one task; after the first error every task is dropped.
  void Run(Task& t) {
    if (!FirstError().ok()) return;
    Status s;
    switch (t.kind) {
      case Task::kPiece:
        s = SendPiece(t);
        break;
      case Task::kSync:
        s = SyncChunks();
        if (s.ok()) s = Commit();
        break;
      case Task::kCommit:
        s = Commit();
        // A chunk prepared by Create and still unwritten at a flush (a file
        // closed empty, or written elsewhere): its lease goes back now, so
        // that no other writer of the file waits for it to expire. A later
        // write prepares the chunk again.
        if (s.ok()) ReleasePrepared();
        break;
    }
    if (!s.ok()) {
      ReleaseOpen();
      std::lock_guard<std::mutex> lock(mu_);
      if (error_.ok()) error_ = s;
    }
  }

  Status SendPiece(Task& t) {
    const int64_t index = static_cast<int64_t>(t.offset / kChunkSize);
    const int64_t in_off = static_cast<int64_t>(t.offset % kChunkSize);
    const size_t n = t.data.size();
    if (n == 0) return Status();
    if (last_index_ >= 0 && index != last_index_ && !open_.empty()) RETURN_IF_ERROR(Commit());
    last_index_ = index;
    auto it = open_.find(index);
    if (it == open_.end()) {
      ASSIGN_OR_RETURN(OpenChunk oc, Prepare(index));
      it = open_.emplace(index, std::move(oc)).first;
    }
    RETURN_IF_ERROR(RenewIfDue());
    OpenChunk& c = it->second;
    rpc::WriteChunkRequest req;
    req.chunk_id = c.chunk_id;
    req.version = c.version;
    req.offset = in_off;
    req.data = std::move(t.data);
    req.sync = t.sync;
    req.__set_cap(c.cap);
    if (t.seal) req.__set_seal(true);
    std::map<int32_t, rpc::ChunkHashProof> proofs;
    ChainOutcome out = SendWrite(impl_, c.chain, req, &proofs);
    out = AgainWhileUnreachable(index, c.chain, req, &proofs, std::move(out));
    if (out.ok.empty() && AllFailedWith(out.failed, ErrorCode::kCapabilityExpired)) {
      // The capability's time window passed during a long write: a new
      // version and capability (pipeline recovery with every replica
      // good), then the piece again.
      ChainOutcome all;
      all.ok = c.chain;
      RETURN_IF_ERROR(Recover(index, c, all));
      req.version = c.version;
      req.__set_cap(c.cap);
      out = SendWrite(impl_, c.chain, req);
    }
    for (const auto& [server, status] : out.failed) {
      LOG(kWarn) << "write to chunk " << index << " (id " << c.chunk_id << ") of inode " << inode_
                 << " failed on server " << server.server_id << " at " << AddressOf(server) << ": "
                 << status.ToString() << "; replacing it";
      c.failed.emplace_back(server, status);
    }
    if (out.ok.empty()) {
      Status s = ChunkFailed("write", index, c);
      open_.erase(it);
      unsynced_.erase(index);
      return s;
    }
    // Bytes changed: only this piece's proofs (if it was sealed) hold.
    c.proofs = std::move(proofs);
    c.sealed = t.seal;
    if (out.failed.empty()) {
      c.chain = std::move(out.ok);
    } else {
      RETURN_IF_ERROR(Recover(index, c, out));
    }
    c.length = std::max<int64_t>(c.length, in_off + static_cast<int64_t>(n));
    high_water_ = std::max<uint64_t>(high_water_, t.offset + n);
    if (t.sync) {
      unsynced_.erase(index);  // fdatasync covered the whole chunk file
    } else {
      unsynced_[index] = UnsyncedChunk{c.chunk_id, c.version, c.chain, c.cap};
    }
    return Status();
  }

  // When no replica of chunk `index` could be reached (`out`: their servers
  // restarting, or dead and not yet declared so), sends `req` along the
  // same chain again, with a backoff up to 1 s, for at most
  // options.meta_retry_ms (the mount's io_timeout), as a request waits out a
  // metaserver outage (docs/fuse.md, "Outages"); the leases are renewed
  // meanwhile. Returns the last outcome. Resending is safe: a server that
  // could not be reached took nothing, and one that took the bytes takes
  // the same bytes at the same version again.
  ChainOutcome AgainWhileUnreachable(int64_t index, const std::vector<rpc::ServerAddress>& chain,
                                     rpc::WriteChunkRequest& req,
                                     std::map<int32_t, rpc::ChunkHashProof>* proofs,
                                     ChainOutcome out) {
    auto unreachable = [](const ChainOutcome& o) {
      return o.ok.empty() && AllFailedWith(o.failed, ErrorCode::kUnavailable);
    };
    if (!unreachable(out)) return out;
    const int wait_ms = impl_->options.meta_retry_ms;
    LOG(kWarn) << "no replica of chunk " << index << " (id " << req.chunk_id << ") of inode "
               << inode_ << " can be reached (" << DescribeFailures(out.failed)
               << "); trying again for up to " << wait_ms << " ms";
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(wait_ms);
    auto backoff = std::chrono::milliseconds(50);
    while (SteadyClock::now() + backoff < deadline) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      if (Status renewed = RenewIfDue(); !renewed.ok()) {
        LOG(kWarn) << "stopped waiting for the replicas of chunk " << index << " (id "
                   << req.chunk_id << ") of inode " << inode_ << ": " << renewed;
        return out;
      }
      if (proofs) proofs->clear();
      out = SendWrite(impl_, chain, req, proofs);
      if (!unreachable(out)) return out;
    }
    return out;
  }

  Status ChunkFailed(const char* what, int64_t index, const OpenChunk& c) {
    bool all_full = !c.failed.empty();
    for (const auto& f : c.failed) all_full = all_full && f.second.code() == ErrorCode::kNoSpace;
    return Status(all_full ? ErrorCode::kNoSpace : ErrorCode::kIoError,
                  std::string(what) + " of chunk " + std::to_string(index) + " (id " +
                      std::to_string(c.chunk_id) + ") of inode " + std::to_string(inode_) +
                      " failed on every replica: " + DescribeFailures(c.failed));
  }

  Result<OpenChunk> Prepare(int64_t index) {
    // A lease prepared by Create runs from the create: once half of it has
    // passed unused it is given back and the chunk prepared afresh (it
    // could expire before the commit).
    if (prepared_ &&
        SteadyClock::now() - prepared_at_ > std::chrono::milliseconds(prepared_->lease_ms / 2)) {
      OpenChunk stale;
      stale.chunk_id = prepared_->chunk_id;
      stale.lease_id = prepared_->lease_id;
      Release(stale);
      prepared_.reset();
    }
    if (prepared_ && prepared_->index == index) {
      OpenChunk c;
      c.chunk_id = prepared_->chunk_id;
      c.version = prepared_->version;
      c.length = prepared_->length;
      c.chain = std::move(prepared_->replicas);
      c.lease_id = prepared_->lease_id;
      c.lease_ms = prepared_->lease_ms;
      c.lease_renewed = prepared_at_;  // granted at the create
      c.cap = prepared_->capability;
      prepared_.reset();
      if (!c.chain.empty()) return c;  // else ask PrepareWrite, which says why
    }
    rpc::PrepareWriteResponse resp;
    RETURN_IF_ERROR(PrepareChunkWrite(impl_, inode_, index, &resp));
    OpenChunk c;
    c.chunk_id = resp.chunk_id;
    c.version = resp.version;
    c.length = resp.length;
    c.chain = std::move(resp.replicas);
    c.lease_id = resp.lease_id;
    c.lease_ms = resp.lease_ms;
    c.lease_renewed = SteadyClock::now();
    c.cap = resp.capability;
    if (c.chain.empty()) {
      Release(c);
      return Status(ErrorCode::kNoSpace, "no chunk server can take chunk " + std::to_string(index) +
                                             " of inode " + std::to_string(inode_));
    }
    if (static_cast<int>(c.chain.size()) < resp.goal && c.length > 0) {
      // Some replica was lost: bring the chunk back to its goal (a copy to
      // a replacement) before this write, so that it is acknowledged at goal.
      ChainOutcome all;
      all.ok = c.chain;
      Status s = Recover(index, c, all);
      if (!s.ok()) {
        Release(c);
        return s;
      }
    }
    return c;
  }

  // A zero-length WriteChunk with sync=true along the chain of every chunk
  // written since the last sync, before the commit that acknowledges it.
  Status SyncChunks() {
    std::map<int64_t, UnsyncedChunk> todo;
    todo.swap(unsynced_);
    for (auto& [index, u] : todo) {
      rpc::WriteChunkRequest req = SyncRequest(u.chunk_id, u.version, u.cap);
      // A commit follows: a chunk still open is sealed by its sync.
      auto oc = open_.find(index);
      const bool seal = oc != open_.end() && oc->second.chunk_id == u.chunk_id &&
                        oc->second.version == u.version && !oc->second.sealed;
      if (seal) req.__set_seal(true);
      std::map<int32_t, rpc::ChunkHashProof> proofs;
      ChainOutcome out = SendWrite(impl_, u.chain, req, &proofs);
      out = AgainWhileUnreachable(index, u.chain, req, &proofs, std::move(out));
      if (seal && out.failed.empty()) {
        oc->second.proofs = std::move(proofs);
        oc->second.sealed = true;
      }
      if (out.failed.empty()) continue;
      // fsync means durable on every replica. Replicas that could not
      // fdatasync (their server died since the data went out) are replaced
      // as a failed piece's are: the good ones move to a new version (the
      // bump fdatasyncs them) and replacements copy from them, so the sync
      // succeeds durable on a full chain again.
      auto it = open_.find(index);
      if (!out.ok.empty() && it != open_.end() && it->second.chunk_id == u.chunk_id) {
        LOG(kInfo) << "sync of chunk " << index << " (id " << u.chunk_id << ") of inode " << inode_
                   << " failed on " << DescribeFailures(out.failed) << "; recovering the pipeline";
        RETURN_IF_ERROR(Recover(index, it->second, out));
        continue;
      }
      // Already committed (a commit without a sync released its lease): no
      // new version can be taken for it here. Replicas whose server cannot
      // be reached are not live; the data is durable on every live one
      // that answered, which is what fsync promises. The chunk is under
      // its goal until its server returns or it is repaired. Any other
      // failure (a disk that could not fdatasync) fails the sync.
      if (!out.ok.empty() && AllFailedWith(out.failed, ErrorCode::kUnavailable)) {
        LOG(kWarn) << "sync of committed chunk " << index << " (id " << u.chunk_id << ") of inode "
                   << inode_ << ": " << DescribeFailures(out.failed) << "; durable on "
                   << out.ok.size() << " live replica(s), under its goal";
        continue;
      }
      // No replica took it: the write is not durable anywhere and is not
      // committed.
      return Status(ErrorCode::kIoError, "sync of chunk " + std::to_string(index) + " (id " +
                                             std::to_string(u.chunk_id) + ") of inode " +
                                             std::to_string(inode_) +
                                             " failed: " + DescribeFailures(out.failed));
    }
    return Status();
  }

  // Seals a chunk whose last write was not sealed: a write of no bytes
  // along its chain that asks each replica for its SHA-256 proof. Best
  // effort: without proofs the chunk is committed all the same and its hash
  // is recomputed in the background (docs/content_hash.md).
  void Seal(int64_t index, OpenChunk& c) {
    rpc::WriteChunkRequest req;
    req.chunk_id = c.chunk_id;
    req.version = c.version;
    req.offset = 0;
    req.sync = false;
    req.__set_cap(c.cap);
    req.__set_seal(true);
    c.proofs.clear();
    ChainOutcome out = SendWrite(impl_, c.chain, req, &c.proofs);
    c.sealed = true;
    if (!out.failed.empty()) {
      LOG(kDebug) << "sealing chunk " << index << " (id " << c.chunk_id << ") of inode " << inode_
                  << ": " << DescribeFailures(out.failed) << "; its hash will be recomputed";
    }
  }

  // Makes every open chunk visible and records the file size.
  Status Commit() {
    const uint64_t new_size = std::max(committed_size_, high_water_);
    if (open_.empty() && new_size == committed_size_) return Status();
    rpc::CommitWriteRequest req;
    req.ctx = impl_->Context();
    req.inode = inode_;
    for (auto& [index, c] : open_) {
      if (!c.sealed) Seal(index, c);
      rpc::ChunkCommit cc;
      cc.index = index;
      cc.chunk_id = c.chunk_id;
      cc.version = c.version;
      cc.length = c.length;
      cc.written = IdsOf(c.chain);
      cc.lease_id = c.lease_id;
      std::vector<rpc::ChunkHashProof> hashes;
      for (int32_t id : cc.written) {
        auto p = c.proofs.find(id);
        if (p != c.proofs.end()) hashes.push_back(p->second);
      }
      if (!hashes.empty()) cc.__set_hashes(std::move(hashes));
      req.chunks.push_back(std::move(cc));
    }
    req.size = static_cast<int64_t>(new_size);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (mtime_ns_) req.__set_mtime_ns(*mtime_ns_);
    }
    rpc::CommitWriteResponse resp;
    Status s = impl_->Meta("CommitWrite", &resp,
                           [&](rpc::MetaServiceClient& c, auto& r) { c.CommitWrite(r, req); });
    if (!s.ok()) return s;  // Run() releases the leases still open
    open_.clear();
    committed_size_ = new_size;
    return Status();
  }

  // Renews the leases of every open chunk once half of a lease has passed.
  Status RenewIfDue() {
    if (open_.empty()) return Status();
    const auto now = SteadyClock::now();
    bool due = false;
    for (const auto& [index, c] : open_) {
      due = due || now - c.lease_renewed > std::chrono::milliseconds(c.lease_ms / 2);
    }
    if (!due) return Status();
    rpc::RenewLeaseRequest req;
    req.ctx = impl_->Context();
    req.inode = inode_;
    for (const auto& [index, c] : open_) {
      rpc::LeaseRef l;
      l.chunk_id = c.chunk_id;
      l.lease_id = c.lease_id;
      req.leases.push_back(l);
    }
    rpc::RenewLeaseResponse resp;
    RETURN_IF_ERROR(impl_->Meta("RenewLease", &resp,
                                [&](rpc::MetaServiceClient& c, auto& r) { c.RenewLease(r, req); }));
    for (auto& [index, c] : open_) c.lease_renewed = now;
    return Status();
  }

  // Gives up the lease of `c` (best effort): the metaserver settles the
  // chunk now instead of when the lease would have expired.
  void Release(const OpenChunk& c) {
    if (c.lease_id == 0) return;
    rpc::ReleaseLeaseRequest req;
    req.ctx = impl_->Context();
    req.inode = inode_;
    rpc::LeaseRef l;
    l.chunk_id = c.chunk_id;
    l.lease_id = c.lease_id;
    req.leases.push_back(l);
    rpc::ReleaseLeaseResponse resp;
    Status s = impl_->Meta("ReleaseLease", &resp,
                           [&](rpc::MetaServiceClient& m, auto& r) { m.ReleaseLease(r, req); });
    if (!s.ok()) {
      LOG(kDebug) << "release of the lease on chunk " << c.chunk_id << ": " << s;
    }
  }

  void ReleasePrepared() {
    if (!prepared_) return;
    OpenChunk unused;
    unused.chunk_id = prepared_->chunk_id;
    unused.lease_id = prepared_->lease_id;
    Release(unused);
    prepared_.reset();
  }

  void ReleaseOpen() {
    for (const auto& [index, c] : open_) Release(c);
    open_.clear();
    unsynced_.clear();
  }

  // Pipeline recovery (docs/write_protocol.md): some replicas of `c` failed
  // a piece that `out.ok` took. The metaserver hands out a new version and
  // replacements; the good replicas move to the new version and each
  // replacement copies the chunk from a good one, server to server.
  Status Recover(int64_t index, OpenChunk& c, const ChainOutcome& out) {
    rpc::RecoverWriteRequest req;
    req.ctx = impl_->Context();
    req.inode = inode_;
    req.index = index;
    req.chunk_id = c.chunk_id;
    req.lease_id = c.lease_id;
    req.version = c.version;
    req.good = IdsOf(out.ok);
    for (const auto& f : out.failed) req.failed.push_back(f.first.server_id);
    rpc::RecoverWriteResponse resp;
    RETURN_IF_ERROR(impl_->Meta("RecoverWrite", &resp, [&](rpc::MetaServiceClient& m, auto& r) {
      m.RecoverWrite(r, req);
    }));
    rpc::WriteChunkRequest bump = SyncRequest(c.chunk_id, resp.version, resp.capability);
    ChainOutcome moved = SendWrite(impl_, resp.good, bump);
    if (moved.ok.empty()) {
      c.failed.insert(c.failed.end(), moved.failed.begin(), moved.failed.end());
      return ChunkFailed("write", index, c);
    }
    std::vector<rpc::ServerAddress> chain = moved.ok;
    for (const rpc::ServerAddress& target : resp.added) {
      rpc::ReplicateChunkRequest rreq;
      rreq.chunk_id = c.chunk_id;
      rreq.version = resp.version;
      rreq.source = chain.front();
      rreq.__set_cap(resp.capability);
      rpc::ReplicateChunkResponse rresp;
      Status s = impl_->Chunk(target).Call(
          [&](rpc::ChunkServiceClient& cs) { cs.ReplicateChunk(rresp, rreq); });
      if (s.ok()) s = FromRpc(rresp.status);
      if (s.ok()) {
        chain.push_back(target);
      } else {
        LOG(kWarn) << "replacement replica on server " << target.server_id << " for chunk " << index
                   << " (id " << c.chunk_id << ") failed: " << s
                   << "; the chunk stays under its goal";
      }
    }
    LOG(kInfo) << "chunk " << index << " (id " << c.chunk_id << ") of inode " << inode_
               << " recovered: version " << c.version << " -> " << resp.version << ", "
               << chain.size() << " replica(s)";
    c.version = resp.version;
    c.chain = std::move(chain);
    c.cap = resp.capability;
    c.lease_renewed = SteadyClock::now();
    // Proofs were for the old version: the commit seals the new one.
    c.proofs.clear();
    c.sealed = false;
    return Status();
  }

  Client::Impl* const impl_;
  const InodeId inode_;

  // Owner side.
  std::string buf_;
  uint64_t buf_off_ = 0;
  uint64_t size_;
  bool closed_ = false;
  bool reported_ = false;  // an error was returned to the owner

  // Sender side.
  std::optional<rpc::ChunkPlacement> prepared_;  // not used yet
  SteadyClock::time_point prepared_at_;          // when Create granted its lease
  std::map<int64_t, OpenChunk> open_;
  std::map<int64_t, UnsyncedChunk> unsynced_;
  int64_t last_index_ = -1;
  uint64_t committed_size_;
  uint64_t high_water_;

  std::mutex mu_;
  std::condition_variable work_cv_;   // a task was queued or stop_ set
  std::condition_variable space_cv_;  // the queue has room
  std::condition_variable idle_cv_;   // the queue drained and no task runs
  std::deque<Task> queue_;            // GUARDED_BY(mu_)
  bool busy_ = false;                 // GUARDED_BY(mu_)
  bool stop_ = false;                 // GUARDED_BY(mu_)
  Status error_;                      // GUARDED_BY(mu_): first error
  std::optional<int64_t> mtime_ns_;   // GUARDED_BY(mu_)
  std::thread sender_;
};

}  // namespace

Status PrepareChunkWrite(Client::Impl* impl, InodeId inode, int64_t index,
                         rpc::PrepareWriteResponse* out) {
  rpc::PrepareWriteRequest req;
  req.ctx = impl->Context();
  req.inode = inode;
  req.index = index;
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(impl->options.lease_wait_ms);
  auto backoff = std::chrono::milliseconds(20);
  while (true) {
    Status s = impl->Meta("PrepareWrite", out,
                          [&](rpc::MetaServiceClient& c, auto& r) { c.PrepareWrite(r, req); });
    if (s.code() != ErrorCode::kBusy) return s;
    if (SteadyClock::now() + backoff >= deadline) {
      return Status(ErrorCode::kTimedOut, s.message() + "; gave up after " +
                                              std::to_string(impl->options.lease_wait_ms / 1000) +
                                              " s");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
}

std::unique_ptr<FileWriter> NewCreatedFileWriter(Client::Impl* impl, InodeId inode,
                                                 std::optional<rpc::ChunkPlacement> first_chunk) {
  return std::make_unique<FileWriterImpl>(impl, inode, 0, std::move(first_chunk));
}

Result<std::unique_ptr<FileWriter>> NewFileWriter(Client::Impl* impl, InodeId inode) {
  rpc::GetAttrRequest req;
  req.inode = inode;
  rpc::GetAttrResponse resp;
  RETURN_IF_ERROR(
      impl->Meta("GetAttr", &resp, [&](rpc::MetaServiceClient& c, auto& r) { c.GetAttr(r, req); }));
  if (resp.attr.type == rpc::FileType::DIRECTORY) {
    return Status(ErrorCode::kIsDir, "inode " + std::to_string(inode) + " is a directory");
  }
  if (resp.attr.type != rpc::FileType::REGULAR) {
    return InvalidArgument("inode " + std::to_string(inode) + " is not a regular file");
  }
  return std::unique_ptr<FileWriter>(
      new FileWriterImpl(impl, inode, static_cast<uint64_t>(std::max<int64_t>(resp.attr.size, 0))));
}

}  // namespace ddbfs
