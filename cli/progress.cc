#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "format.h"

namespace ddbfs::cli {

Progress::Progress(Context& ctx, uint64_t total_files, uint64_t total_bytes)
    : ctx_(ctx),
      total_files_(total_files),
      total_bytes_(total_bytes),
      start_(std::chrono::steady_clock::now()) {
  if (!ctx.quiet() && ::isatty(STDERR_FILENO)) thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() { Finish(); }

void Progress::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    std::lock_guard<std::mutex> lock(ctx_.err_mu());
    ssize_t ignored = ::write(STDERR_FILENO, "\r\033[K", 4);
    (void)ignored;
    ctx_.set_progress_shown(false);
  }
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

namespace {
std::string Count(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}
}  // namespace

std::string Progress::Summary(uint64_t directories) const {
  double secs = std::max(seconds(), 0.001);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", static_cast<double>(bytes()) / 1e6 / secs);
  char took[32];
  std::snprintf(took, sizeof took, "%.1f", secs);
  return Count(files(), "file", "files") + " and " +
         Count(directories, "directory", "directories") + " (" + HumanBytes(bytes()) + ") in " +
         took + " s (" + rate + " MB/s)";
}

void Progress::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stop_) break;
    lock.unlock();
    Draw();
    lock.lock();
  }
}

void Progress::Draw() {
  const double secs = std::max(seconds(), 0.001);
  const uint64_t bytes = bytes_.load();
  const double rate = static_cast<double>(bytes) / secs;
  std::string eta = "--:--";
  if (rate > 0 && total_bytes_ > bytes) {
    auto left = static_cast<int64_t>(static_cast<double>(total_bytes_ - bytes) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(left / 60),
                  static_cast<long long>(left % 60));
    eta = buf;
  } else if (total_bytes_ <= bytes) {
    eta = "0:00";
  }
  char speed[32];
  std::snprintf(speed, sizeof speed, "%.1f MB/s", rate / 1e6);
  std::string line = "\r\033[K" + std::to_string(files_.load()) + "/" +
                     std::to_string(total_files_) + " files  " + HumanBytes(bytes) + "/" +
                     HumanBytes(total_bytes_) + "  " + speed + "  ETA " + eta;
  std::lock_guard<std::mutex> lock(ctx_.err_mu());
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  ctx_.set_progress_shown(true);
}

}  // namespace ddbfs::cli
