#pragma once

// The chunk server's background scrub (docs/repair.md, "Scrubbing"): one
// thread reads every replica again and again, checking every block's
// CRC32C as a read does, at a limited rate, so that a replica that rots on
// disk is found before a client needs it. A bad one is noted in the store
// (ChunkStore::ScrubChunk); the MetaLink reports it with the next heartbeat
// and the metaserver has it replaced from a good replica.
//
// Thread-safety: Start/Stop from one thread; stats() from any.
// Ownership: shares the store with the ChunkService and the MetaLink.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "chunk_store.h"

namespace ddbfs::chunkserver {

struct ScrubOptions {
  // Pause between the end of one full pass and the start of the next;
  // 0 turns scrubbing off.
  int interval_s = 3600;
  // Bytes read per second at most (0: no limit).
  int64_t bytes_per_s = 16ll << 20;
};

struct ScrubStats {
  int64_t passes = 0;      // full passes finished
  int64_t chunks = 0;      // replicas checked, over every pass
  int64_t bytes = 0;       // bytes read and checked
  int64_t bad = 0;         // bad replicas found
  double last_pass_s = 0;  // duration of the last full pass
  int64_t last_pass_bytes = 0;
};

class Scrubber {
 public:
  Scrubber(std::shared_ptr<ChunkStore> store, ScrubOptions options);
  ~Scrubber();  // Stop()
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Starts the thread (nothing when interval_s is 0).
  void Start();
  void Stop();
  ScrubStats stats() const;

 private:
  void Run();
  // One pass over the inventory; false when stopping.
  bool Pass();
  // Waits until `bytes` more are due at the rate; false when stopping.
  bool Pace(uint64_t bytes);
  bool Sleep(std::chrono::steady_clock::duration d);

  const std::shared_ptr<ChunkStore> store_;
  const ScrubOptions options_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  ScrubStats stats_;       // GUARDED_BY(mu_)

  // Pacing, the thread's only.
  std::chrono::steady_clock::time_point pace_start_{};
  uint64_t paced_bytes_ = 0;
};

}  // namespace ddbfs::chunkserver
