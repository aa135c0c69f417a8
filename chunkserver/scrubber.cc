#include "scrubber.h"

#include <sstream>

#include "ddbfs/log.h"

namespace ddbfs::chunkserver {

namespace {
// The pacing window restarts after this long (and at every pass), so that
// a pause does not let the scrub burst for long.
constexpr auto kPaceWindow = std::chrono::seconds(10);
}  // namespace

Scrubber::Scrubber(std::shared_ptr<ChunkStore> store, ScrubOptions options)
    : store_(std::move(store)), options_(options) {}

Scrubber::~Scrubber() { Stop(); }

void Scrubber::Start() {
  if (options_.interval_s <= 0) {
    LOG(kInfo) << "scrub: off (--scrub-interval-s 0)";
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void Scrubber::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ScrubStats Scrubber::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Scrubber::Sleep(std::chrono::steady_clock::duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

bool Scrubber::Pace(uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
  }
  if (options_.bytes_per_s <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - pace_start_ > kPaceWindow) {
    pace_start_ = now;
    paced_bytes_ = 0;
  }
  paced_bytes_ += bytes;
  const auto due =
      pace_start_ +
      std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(paced_bytes_) * 1e6 /
                                                     static_cast<double>(options_.bytes_per_s)));
  if (due > now) return Sleep(due - now);
  return true;
}

bool Scrubber::Pass() {
  const auto start = std::chrono::steady_clock::now();
  // Each pass paces from its own start: the pause before it is no credit.
  pace_start_ = start;
  paced_bytes_ = 0;
  const std::vector<ChunkReplica> inventory = store_->Inventory();
  int64_t chunks = 0, bytes = 0, bad = 0;
  for (const ChunkReplica& r : inventory) {
    uint64_t read = 0;
    const ScrubResult result = store_->ScrubChunk(r.chunk_id, [&](uint64_t n) {
      read += n;
      return Pace(n);
    });
    bytes += static_cast<int64_t>(read);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.bytes += static_cast<int64_t>(read);
      if (result == ScrubResult::kGood || result == ScrubResult::kBad) ++stats_.chunks;
      if (result == ScrubResult::kBad) ++stats_.bad;
    }
    if (result == ScrubResult::kStopped) return false;
    if (result == ScrubResult::kGood || result == ScrubResult::kBad) ++chunks;
    if (result == ScrubResult::kBad) ++bad;
    // Also between chunks, so that a pass over many empty ones can stop.
    if (!Pace(0)) return false;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.passes;
    stats_.last_pass_s = seconds;
    stats_.last_pass_bytes = bytes;
  }
  const double mib = static_cast<double>(bytes) / (1 << 20);
  std::ostringstream line;
  line << "scrub: pass done, " << chunks << " replicas, " << mib << " MiB in " << seconds << " s ("
       << (seconds > 0 ? mib / seconds : 0.0) << " MiB/s), " << bad << " bad";
  if (bad > 0) {
    LOG(kWarn) << line.str();
  } else {
    LOG(kInfo) << line.str();
  }
  return true;
}

void Scrubber::Run() {
  LOG(kInfo) << "scrub: every replica, " << options_.bytes_per_s / (1 << 20) << " MiB/s at most, "
             << options_.interval_s << " s between passes";
  while (Pass()) {
    if (!Sleep(std::chrono::seconds(options_.interval_s))) break;
  }
}

}  // namespace ddbfs::chunkserver
