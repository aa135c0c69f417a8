#include "ddbfs/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <string>

namespace ddbfs {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_program_mu;
std::string g_program = "ddbfs";  // GUARDED_BY(g_program_mu)
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug")
    *out = LogLevel::kDebug;
  else if (text == "info")
    *out = LogLevel::kInfo;
  else if (text == "warn" || text == "warning")
    *out = LogLevel::kWarn;
  else if (text == "error")
    *out = LogLevel::kError;
  else
    return false;
  return true;
}

void SetLogProgram(std::string_view program) {
  std::lock_guard<std::mutex> lock(g_program_mu);
  g_program = std::string(program);
}

void LogLine(LogLevel level, std::string_view message) {
  if (level < GetLogLevel()) return;
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t secs = system_clock::to_time_t(now);
  int millis = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  std::string line;
  {
    std::lock_guard<std::mutex> lock(g_program_mu);
    line.reserve(message.size() + g_program.size() + 40);
    line.append(stamp).append(" ").push_back(kLetters[static_cast<int>(level)]);
    line.append(" ").append(g_program).append(": ");
  }
  line.append(message).push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace ddbfs
