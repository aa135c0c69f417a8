#include "metaserver/ops/content_rehasher.h"

#include <algorithm>
#include <vector>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/content_hash.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/store/content_hash_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

constexpr int kBatch = 100;

// The bytes of the file chunk `index` covers at `size`.
uint64_t RangeOf(int64_t index, uint64_t size) {
  const uint64_t start = static_cast<uint64_t>(index) * kChunkSize;
  return size <= start ? 0 : std::min<uint64_t>(size - start, kChunkSize);
}

}  // namespace

ContentRehasher::ContentRehasher(OpContext& ctx, RehashOptions options)
    : ctx_(ctx), options_(options) {}

ContentRehasher::~ContentRehasher() { Stop(); }

void ContentRehasher::Start() {
  if (options_.interval_ms <= 0) return;
  thread_ = std::thread([this] { Loop(); });
}

void ContentRehasher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ContentRehasher::Kick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

int64_t ContentRehasher::hashed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hashed_;
}

bool ContentRehasher::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void ContentRehasher::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                   [this] { return stopping_ || kicked_; });
      if (stopping_) return;
      kicked_ = false;
    }
    Pass();
  }
}

ContentRehasher::ChunkPool& ContentRehasher::Pool(const std::string& host, int port) {
  const std::string key = host + ":" + std::to_string(port);
  std::lock_guard<std::mutex> lock(pools_mu_);
  auto& pool = pools_[key];
  if (!pool) {
    pool = std::make_unique<ChunkPool>(host, port, options_.rpc_timeout_ms, 4, ctx_.peers);
  }
  return *pool;
}

bool ContentRehasher::Pace(uint64_t bytes) {
  paced_bytes_ += bytes;
  if (options_.bytes_per_s <= 0) return !stopping();
  const auto due =
      pace_start_ +
      std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(paced_bytes_) * 1e6 /
                                                     static_cast<double>(options_.bytes_per_s)));
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, due, [this] { return stopping_; });
  return !stopping_;
}

int ContentRehasher::Pass() {
  std::lock_guard<std::mutex> serial(pass_mu_);
  pace_start_ = std::chrono::steady_clock::now();
  paced_bytes_ = 0;
  int done = 0;
  int failed = 0;
  Status example;  // one reason, for the log
  // Stale chunks, by id.
  for (int64_t after = 0;;) {
    std::vector<store::UnhashedChunk> batch;
    Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(batch, store::UnhashedChunks(tx, after, kBatch));
      return Status();
    });
    if (!s.ok()) {
      LOG(kWarn) << "rehash: cannot list stale chunks: " << s;
      return done;
    }
    for (const store::UnhashedChunk& c : batch) {
      after = c.id;
      Status h = HashChunk(c);
      if (h.ok()) {
        ++done;
        std::lock_guard<std::mutex> lock(mu_);
        ++hashed_;
      } else {
        // Tried again next pass; one line per pass, not per chunk.
        ++failed;
        example = Status(h.code(), "chunk " + std::to_string(c.id) + " (index " +
                                       std::to_string(c.index) + " of inode " +
                                       std::to_string(c.inode) + "): " + h.message());
      }
      if (!Pace(RangeOf(c.index, c.file_size))) return done;
    }
    if (static_cast<int>(batch.size()) < kBatch) break;
  }
  if (failed > 0) {
    LOG(kInfo) << "rehash: " << done << " chunk(s) hashed, " << failed
               << " not yet (tried again next pass), e.g. " << example;
  }
  // Documents whose chunks are all known: their hash only needs putting
  // together (files of more than kInlineHashChunks chunks, holes only,
  // files from before hashes existed).
  for (InodeId after = 0;;) {
    std::vector<InodeId> batch;
    Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(batch, store::DocumentsToAssemble(tx, after, kBatch));
      return Status();
    });
    if (!s.ok()) {
      LOG(kWarn) << "rehash: cannot list documents to put together: " << s;
      return done;
    }
    for (InodeId inode : batch) {
      after = inode;
      if (stopping()) return done;
      Status r = ctx_.writer.Run([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, inode));
        if (!attr) return Status();
        return RefreshDocumentHash(tx, *attr, INT64_MAX);
      });
      if (!r.ok()) {
        LOG(kWarn) << "rehash: inode " << inode << ": " << r;
      }
    }
    if (static_cast<int>(batch.size()) < kBatch) break;
  }
  return done;
}

Status ContentRehasher::HashChunk(const store::UnhashedChunk& c) {
  const uint64_t range = RangeOf(c.index, c.file_size);
  Status last = Unavailable("no live replica holds its committed version");
  for (int32_t id : c.replicas) {
    if (!ctx_.servers.IsAlive(id)) continue;
    const ServerAddr address = ServerAddressOf(ctx_.servers, id);
    rpc::HashChunkRequest req;
    req.chunk_id = c.id;
    req.version = c.version;
    req.length = static_cast<int64_t>(range);
    req.seal_ms = options_.seal_ms;
    rpc::HashChunkResponse resp;
    Status s = Pool(address.host, address.port).Call([&](rpc::ChunkServiceClient& cs) {
      cs.HashChunk(resp, req);
    });
    if (s.ok()) s = FromRpc(resp.status);
    if (s.ok() && resp.sha256.size() != 32) s = Internal("a hash that is not 32 bytes");
    if (!s.ok()) {
      last = Status(s.code(), "server " + std::to_string(id) + ": " + s.message());
      continue;
    }
    // Recorded only if nothing moved meanwhile: the same version, the same
    // range (file size), the hash still stale.
    return ctx_.writer.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(std::optional<Attr> attr, store::GetInode(tx, c.inode));
      if (!attr || RangeOf(c.index, attr->size) != range) return Status();
      ASSIGN_OR_RETURN(bool recorded, store::SetChunkHash(tx, c.id, c.version, resp.sha256,
                                                          static_cast<int64_t>(range)));
      if (!recorded) return Status();
      return RefreshDocumentHash(tx, *attr);
    });
  }
  return last;
}

}  // namespace ddbfs::meta
