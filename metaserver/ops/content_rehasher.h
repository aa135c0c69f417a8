#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ChunkService.h"
#include "ddbfs/rpc.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

namespace store {
struct UnhashedChunk;
}

struct RehashOptions {
  // Pause between two passes (0: no background rehash).
  int interval_ms = 10000;
  // Bytes hashed per second at most, over all chunk servers.
  int64_t bytes_per_s = 64 << 20;
  // How long a hashed replica keeps its bytes at that version (HashChunk's
  // seal_ms): the lifetime of a write capability (--capability-ms).
  int seal_ms = 10 * 60 * 1000;
  int rpc_timeout_ms = 30000;
};

// The background rehash (docs/content_hash.md): a metaserver thread that
// asks a chunk server holding a current replica of each stale chunk for its
// SHA-256 (HashChunk: the server reads the replica, checking every block's
// CRC), records it, and puts together the hash of every document whose
// chunks are all known again. Paced to RehashOptions::bytes_per_s. A pass
// every interval_ms and when woken by Kick().
//
// Thread-safe.
class ContentRehasher {
 public:
  ContentRehasher(OpContext& ctx, RehashOptions options);
  ~ContentRehasher();  // Stop()

  void Start();
  void Stop();
  void Kick();

  // One pass over every stale chunk and document; returns how many chunks
  // were hashed.
  int Pass();
  // Chunks hashed since start (for tests and logs).
  int64_t hashed() const;

 private:
  using ChunkPool = RpcPool<rpc::ChunkServiceClient>;
  void Loop();
  // Hashes one chunk on one of its live replicas and records the hash.
  Status HashChunk(const store::UnhashedChunk& chunk);
  // Sleeps as long as `bytes` more must take at the paced rate; false when
  // stopping.
  bool Pace(uint64_t bytes);
  bool stopping() const;
  ChunkPool& Pool(const std::string& host, int port);

  OpContext& ctx_;
  const RehashOptions options_;

  std::mutex pools_mu_;
  std::map<std::string, std::unique_ptr<ChunkPool>> pools_;  // GUARDED_BY(pools_mu_)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;    // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  int64_t hashed_ = 0;     // GUARDED_BY(mu_)
  // Pacing: bytes hashed since pace_start_ (used by the pass's thread only).
  std::chrono::steady_clock::time_point pace_start_;
  uint64_t paced_bytes_ = 0;
  std::mutex pass_mu_;  // serializes passes (the thread, tests)
  std::thread thread_;
};

}  // namespace ddbfs::meta
