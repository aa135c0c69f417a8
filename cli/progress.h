#pragma once

// One updating progress line on stderr for `add` and `get`.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "context.h"
#include "ddbfs/parallel.h"

namespace ddbfs::cli {

// Thread-safe counters; a background thread redraws the line every 200 ms
// when stderr is a TTY and the command is not quiet. Failures printed through
// the Context clear the line first.
class Progress {
 public:
  Progress(Context& ctx, uint64_t total_files, uint64_t total_bytes);
  ~Progress();  // Finish()

  void AddBytes(uint64_t n) { bytes_ += n; }
  void FileDone() { ++files_; }
  // Stops redrawing and clears the line.
  void Finish();

  uint64_t files() const { return files_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  double seconds() const;
  // "12 files and 3 directories (3.4 MiB) in 1.2 s (2.8 MB/s)".
  std::string Summary(uint64_t directories) const;

 private:
  void Loop();
  void Draw();

  Context& ctx_;
  const uint64_t total_files_;
  const uint64_t total_bytes_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> files_{0};
  std::atomic<uint64_t> bytes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

using ddbfs::ParallelFor;  // ddbfs/parallel.h

}  // namespace ddbfs::cli
