// FileReader: reads a file piece by piece (kMaxIoSize, aligned) from one
// replica of each chunk, fails over to the next replica on any error, and,
// while the caller reads on sequentially, keeps up to kMaxAhead following
// pieces in flight, each from the next replica in turn. See
// docs/architecture.md, "A read".

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client_impl.h"
#include "ddbfs/constants.h"
#include "ddbfs/log.h"

namespace ddbfs {

namespace {

// Chunks fetched per GetChunks call.
constexpr int kWindow = 16;

// Read-ahead of a sequential reader: after its n-th consecutive piece, n
// following pieces are in flight, at most kMaxAhead (16 MiB). All readers
// of the process together keep at most kMaxAheadBytes in flight beyond the
// first piece ahead of each, so that many streams cannot pile up memory.
constexpr size_t kMaxAhead = 4;
constexpr int64_t kMaxAheadBytes = int64_t{256} << 20;
std::atomic<int64_t> g_ahead_bytes{0};

// Bytes of the process-wide read-ahead budget, given back when destroyed.
class AheadBudget {
 public:
  AheadBudget() = default;
  static AheadBudget Take(int64_t bytes) {
    AheadBudget b;
    if (g_ahead_bytes.fetch_add(bytes) + bytes > kMaxAheadBytes) {
      g_ahead_bytes.fetch_sub(bytes);
      return b;
    }
    b.bytes_ = bytes;
    return b;
  }
  AheadBudget(AheadBudget&& o) noexcept : bytes_(std::exchange(o.bytes_, 0)) {}
  AheadBudget& operator=(AheadBudget&& o) noexcept {
    Release();
    bytes_ = std::exchange(o.bytes_, 0);
    return *this;
  }
  AheadBudget(const AheadBudget&) = delete;
  AheadBudget& operator=(const AheadBudget&) = delete;
  ~AheadBudget() { Release(); }
  bool taken() const { return bytes_ > 0; }

 private:
  void Release() {
    if (bytes_ > 0) g_ahead_bytes.fetch_sub(std::exchange(bytes_, 0));
  }
  int64_t bytes_ = 0;
};

bool IsBadReplica(ErrorCode code) {
  return code == ErrorCode::kChecksumMismatch || code == ErrorCode::kNotFound;
}

// Thread-safety: used by one thread at a time (the owner); a prefetch task
// runs ReadReplicas concurrently, which touches only impl_ (thread-safe),
// its own copy of the chunk info, and failed_ under mu_.
class FileReaderImpl final : public FileReader {
 public:
  FileReaderImpl(Client::Impl* impl, InodeId inode) : impl_(impl), inode_(inode) {}

  ~FileReaderImpl() override {
    for (auto* q : {&ahead_, &dropped_}) {
      for (auto& a : *q) {
        // A deferred zero-fill is not run; a read in flight is waited for.
        if (a.data.wait_for(std::chrono::seconds(0)) != std::future_status::deferred) a.data.wait();
      }
    }
  }

  // Loads the first window of the chunk map (and the size).
  Status Open() { return LoadWindow(0); }

  Result<size_t> Read(uint64_t offset, std::span<char> out) override {
    if (offset >= size_ || out.empty()) return size_t{0};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
    size_t done = 0;
    // A small read that neither continues the previous one nor falls in the
    // cached piece (random access: a database page, an O_DIRECT 4 KiB read)
    // fetches only the bytes it asks for, not the whole 4 MiB piece (the
    // chunk server reads and checks the blocks around them and sends only
    // these).
    const uint64_t start_piece = offset - offset % kMaxIoSize;
    if (want <= kSmallRead && offset + want <= start_piece + kMaxIoSize && offset != last_end_ &&
        !(cache_valid_ && cache_off_ == start_piece) && !Queued(start_piece)) {
      Result<std::string> range = Fetch(offset, want);
      if (!range.ok()) return range.status();
      const size_t n = std::min<size_t>(want, range->size());  // fewer: the file shrank under us
      std::memcpy(out.data(), range->data(), n);
      last_end_ = offset + n;
      return n;
    }
    while (done < want) {
      const uint64_t pos = offset + done;
      const uint64_t piece_off = pos - pos % kMaxIoSize;
      Result<const std::string*> piece = Piece(piece_off);
      if (!piece.ok()) {
        if (done > 0) return done;  // the error comes back on the next call
        return piece.status();
      }
      const std::string& data = **piece;
      const uint64_t in_piece = pos - piece_off;
      if (in_piece >= data.size()) break;  // the file shrank under us
      const size_t n = static_cast<size_t>(std::min<uint64_t>(want - done, data.size() - in_piece));
      std::memcpy(out.data() + done, data.data() + in_piece, n);
      done += n;
    }
    last_end_ = offset + done;
    return done;
  }

  uint64_t size() const override { return size_; }
  const Attr& attr() const override { return attr_; }

 private:
  // The piece at piece_off (whole, zero-filled past each chunk's length),
  // from the cache, the prefetch or the chunk servers.
  Result<const std::string*> Piece(uint64_t piece_off) {
    if (cache_valid_ && cache_off_ == piece_off) return &cache_;
    const bool sequential =
        piece_off == 0 || (cache_valid_ && piece_off == cache_off_ + kMaxIoSize);
    // Pieces read ahead for another position are not waited for: they
    // finish in the background (a few at most, see Drop).
    while (!ahead_.empty() && ahead_.front().off != piece_off) Drop();
    if (!sequential) {
      while (!ahead_.empty()) Drop();
    }
    bool have = false;
    if (!ahead_.empty()) {  // its front is piece_off
      Result<std::string> got = ahead_.front().data.get();
      ahead_.pop_front();
      if (got.ok()) {
        cache_ = std::move(got).value();
        have = true;
      }  // else read it again below, with the failover and waits of Fetch
    }
    if (!have) {
      cache_valid_ = false;
      ASSIGN_OR_RETURN(cache_, Fetch(piece_off, kMaxIoSize));
    }
    cache_off_ = piece_off;
    cache_valid_ = true;
    streak_ = sequential ? streak_ + 1 : 0;
    if (sequential) ReadAhead(piece_off);
    return &cache_;
  }

  bool Queued(uint64_t piece_off) const {
    for (const auto& a : ahead_) {
      if (a.off == piece_off) return true;
    }
    return false;
  }

  // Moves the oldest piece in flight out of the way; past a few of them
  // the oldest is waited for, so that a reader jumping about cannot keep
  // an unbounded number of reads going.
  void Drop() {
    dropped_.push_back(std::move(ahead_.front()));
    ahead_.pop_front();
    std::erase_if(dropped_, [](const Ahead& a) {
      return a.data.wait_for(std::chrono::seconds(0)) != std::future_status::timeout;
    });
    while (dropped_.size() > kMaxAhead) {
      dropped_.front().data.wait();
      dropped_.pop_front();
    }
  }

  // Keeps min(streak_, kMaxAhead) pieces after piece_off in flight; beyond
  // the first, only within the process-wide budget.
  void ReadAhead(uint64_t piece_off) {
    const size_t depth = std::min<size_t>(static_cast<size_t>(streak_), kMaxAhead);
    uint64_t next = ahead_.empty() ? piece_off + kMaxIoSize : ahead_.back().off + kMaxIoSize;
    while (ahead_.size() < depth && next < size_) {
      AheadBudget budget;
      if (!ahead_.empty()) {
        budget = AheadBudget::Take(static_cast<int64_t>(PieceLength(next)));
        if (!budget.taken()) return;
      }
      if (!StartPrefetch(next, std::move(budget))) return;
      next += kMaxIoSize;
    }
  }

  uint64_t PieceLength(uint64_t piece_off) const {
    return std::min<uint64_t>(kMaxIoSize, size_ - piece_off);
  }
  uint64_t RangeLength(uint64_t off, uint64_t want) const {
    return std::min<uint64_t>(want, size_ - off);
  }

  // Reads `want` bytes at piece_off (within one piece; fewer at the end of
  // the file), refreshing the chunk map if every replica fails.
  Result<std::string> Fetch(uint64_t piece_off, uint64_t want) {
    const int64_t index = static_cast<int64_t>(piece_off / kChunkSize);
    RETURN_IF_ERROR(EnsureWindow(index));
    if (piece_off >= size_) return std::string();
    auto it = window_.find(index);
    if (it == window_.end()) return std::string(RangeLength(piece_off, want), '\0');  // hole
    Result<std::string> data = ReadPiece(it->second, piece_off, RangeLength(piece_off, want));
    if (data.ok() || data.status().code() == ErrorCode::kPermissionDenied) return data;
    LOG(kWarn) << data.status().ToString() << "; refreshing the chunk map and retrying";
    // Every replica refusing the committed version means a write to the
    // chunk is in progress (or its writer died and it awaits settling): wait
    // for the commit or the settling, bounded by lease_wait_ms. No replica
    // reachable (their servers down, or not registered yet with a metaserver
    // that just restarted): wait for one, bounded by meta_retry_ms like a
    // metaserver outage.
    const auto start = std::chrono::steady_clock::now();
    const auto stale_deadline = start + std::chrono::milliseconds(impl_->options.lease_wait_ms);
    const auto down_deadline = start + std::chrono::milliseconds(impl_->options.meta_retry_ms);
    auto backoff = std::chrono::milliseconds(20);
    while (true) {
      RETURN_IF_ERROR(LoadWindow(index));
      if (piece_off >= size_) return std::string();
      it = window_.find(index);
      if (it == window_.end()) return std::string(RangeLength(piece_off, want), '\0');
      data = ReadPiece(it->second, piece_off, RangeLength(piece_off, want));
      if (data.ok()) return data;
      const ErrorCode code = data.status().code();
      if (code != ErrorCode::kStaleVersion && code != ErrorCode::kUnavailable) return data;
      const auto deadline = code == ErrorCode::kStaleVersion ? stale_deadline : down_deadline;
      if (std::chrono::steady_clock::now() + backoff >= deadline) {
        return Status(code == ErrorCode::kStaleVersion ? ErrorCode::kTimedOut : code,
                      data.status().message());
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
    }
  }

  // Starts reading the piece at piece_off in the background (a hole is
  // zero-filled when it is taken); false if the chunk map cannot be had.
  bool StartPrefetch(uint64_t piece_off, AheadBudget budget) {
    const int64_t index = static_cast<int64_t>(piece_off / kChunkSize);
    if (!EnsureWindow(index).ok()) return false;
    const uint64_t len = PieceLength(piece_off);
    auto it = window_.find(index);
    Ahead a;
    a.off = piece_off;
    if (it == window_.end()) {
      a.data = std::async(std::launch::deferred,
                          [len]() -> Result<std::string> { return std::string(len, '\0'); });
    } else {
      a.data = std::async(std::launch::async,
                          [this, chunk = it->second, piece_off, len, budget = std::move(budget)] {
                            return ReadPiece(chunk, piece_off, len);
                          });
    }
    ahead_.push_back(std::move(a));
    return true;
  }

  // `len` bytes of `chunk` at piece_off, zero-filled past the chunk's
  // length. Thread-safe (runs as the prefetch).
  Result<std::string> ReadPiece(const rpc::ChunkInfo& chunk, uint64_t piece_off, uint64_t len) {
    const int64_t in_off = static_cast<int64_t>(piece_off % kChunkSize);
    std::string data;
    if (chunk.length > in_off) {
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(len), chunk.length - in_off);
      ASSIGN_OR_RETURN(data, ReadReplicas(chunk, in_off, static_cast<int32_t>(n)));
    }
    data.resize(len, '\0');
    return data;
  }

  // Reads [offset, offset + length) of a chunk from the first replica that
  // answers, trying replicas that failed before last. Consecutive pieces of
  // a chunk start at consecutive replicas, so that a sequential reader's
  // pieces in flight are read by several servers. Thread-safe.
  Result<std::string> ReadReplicas(const rpc::ChunkInfo& chunk, int64_t offset, int32_t length) {
    if (!chunk.__isset.read_cap) {
      return Status(ErrorCode::kPermissionDenied,
                    "no read permission on inode " + std::to_string(inode_) +
                        " (the metaserver issued no read capability)");
    }
    std::vector<rpc::ServerAddress> order;
    std::vector<rpc::ServerAddress> failed_before;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& r : chunk.replicas) {
        bool bad = failed_.count({chunk.chunk_id, r.address.server_id}) > 0;
        (bad ? failed_before : order).push_back(r.address);
      }
    }
    if (!order.empty()) {
      const size_t turn = static_cast<size_t>(offset / kMaxIoSize) % order.size();
      std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(turn), order.end());
    }
    order.insert(order.end(), failed_before.begin(), failed_before.end());
    std::vector<std::pair<rpc::ServerAddress, Status>> failures;
    bool all_stale = !order.empty();
    for (const auto& server : order) {
      rpc::ReadChunkRequest req;
      req.chunk_id = chunk.chunk_id;
      req.version = chunk.version;
      req.offset = offset;
      req.length = length;
      req.__set_cap(chunk.read_cap);
      rpc::ReadChunkResponse resp;
      Status s =
          impl_->Chunk(server).Call([&](rpc::ChunkServiceClient& c) { c.ReadChunk(resp, req); });
      if (s.ok()) s = FromRpc(resp.status);
      if (s.ok()) {
        if (resp.data.size() > static_cast<size_t>(length)) resp.data.resize(length);
        return std::move(resp.data);
      }
      LOG(kWarn) << "read of chunk " << chunk.index << " (id " << chunk.chunk_id << ") of inode "
                 << inode_ << " from server " << server.server_id << " at " << AddressOf(server)
                 << " failed: " << s.ToString() << "; trying the next replica";
      bool first_failure;
      {
        std::lock_guard<std::mutex> lock(mu_);
        first_failure = failed_.insert({chunk.chunk_id, server.server_id}).second;
      }
      if (first_failure && IsBadReplica(s.code())) {
        impl_->ReportBadReplica(chunk.chunk_id, server.server_id, s.code());
      }
      all_stale = all_stale && s.code() == ErrorCode::kStaleVersion;
      failures.emplace_back(server, s);
    }
    bool all_down = true;
    for (const auto& f : failures)
      all_down = all_down && f.second.code() == ErrorCode::kUnavailable;
    if (all_down) {
      return Unavailable("no reachable replica of chunk " + std::to_string(chunk.index) +
                         " of inode " + std::to_string(inode_) +
                         " (tried: " + DescribeFailures(failures) +
                         "; servers down, or not registered yet with a restarted metaserver)");
    }
    if (all_stale) {
      return Status(ErrorCode::kStaleVersion,
                    "every replica of chunk " + std::to_string(chunk.index) + " of inode " +
                        std::to_string(inode_) + " holds another version than the committed " +
                        std::to_string(chunk.version) + " (a write is in progress)");
    }
    return IoError("no readable replica of chunk " + std::to_string(chunk.index) + " of inode " +
                   std::to_string(inode_) + " (tried: " + DescribeFailures(failures) + ")");
  }

  Status EnsureWindow(int64_t index) {
    if (index >= window_first_ && index < window_first_ + kWindow) return Status();
    return LoadWindow(index);
  }

  Status LoadWindow(int64_t first) {
    rpc::GetChunksResponse resp;
    RETURN_IF_ERROR(impl_->GetChunks(inode_, first, kWindow, false, &resp));
    if (resp.attr.type == rpc::FileType::DIRECTORY) {
      return Status(ErrorCode::kIsDir, "inode " + std::to_string(inode_) + " is a directory");
    }
    if (resp.attr.type != rpc::FileType::REGULAR) {
      return InvalidArgument("inode " + std::to_string(inode_) + " is not a regular file");
    }
    size_ = static_cast<uint64_t>(std::max<int64_t>(resp.attr.size, 0));
    attr_ = FromRpc(resp.attr);
    window_first_ = first;
    window_.clear();
    for (auto& c : resp.chunks) window_[c.index] = std::move(c);
    return Status();
  }

  Client::Impl* const impl_;
  const InodeId inode_;
  uint64_t size_ = 0;
  Attr attr_;

  int64_t window_first_ = 0;
  std::map<int64_t, rpc::ChunkInfo> window_;  // chunks of [window_first_, +kWindow)

  // Reads up to this size that do not continue the previous read fetch
  // only the bytes they ask for.
  static constexpr size_t kSmallRead = 256 << 10;
  uint64_t last_end_ = 0;  // where the previous read ended
  std::string cache_;      // the piece at cache_off_
  uint64_t cache_off_ = 0;
  bool cache_valid_ = false;

  std::mutex mu_;
  std::set<std::pair<int64_t, int>> failed_;  // GUARDED_BY(mu_): (chunk id, server id)

  // A piece read ahead (ReadAhead): a background read, or a deferred
  // zero-fill for a hole.
  struct Ahead {
    uint64_t off = 0;
    std::future<Result<std::string>> data;
  };
  int64_t streak_ = 0;         // consecutive pieces read in order
  std::deque<Ahead> ahead_;    // the pieces after cache_off_, in order
  std::deque<Ahead> dropped_;  // read ahead for nothing, still running
  // ahead_ and dropped_ are joined by the destructor, before the members
  // their reads use are destroyed.
};

}  // namespace

Result<std::unique_ptr<FileReader>> NewFileReader(Client::Impl* impl, InodeId inode) {
  auto reader = std::make_unique<FileReaderImpl>(impl, inode);
  RETURN_IF_ERROR(reader->Open());
  return std::unique_ptr<FileReader>(std::move(reader));
}

}  // namespace ddbfs
