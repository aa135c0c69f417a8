#pragma once

#include <sstream>
#include <string_view>

namespace ddbfs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Process-wide threshold; messages below it are dropped. Thread-safe.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug" / "info" / "warn" / "error"; false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* out);
// Prefix of every line, e.g. "metaserver". Call once at start.
void SetLogProgram(std::string_view program);

// Writes one line "2026-11-22T05:33:04.123Z I metaserver: message" to stderr
// atomically (one write(2) per line). Thread-safe.
void LogLine(LogLevel level, std::string_view message);

namespace internal {
class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage() { LogLine(level_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
}  // namespace internal

}  // namespace ddbfs

// LOG(kInfo) << "text " << value;
#define LOG(level)                                         \
  if (::ddbfs::LogLevel::level < ::ddbfs::GetLogLevel()) { \
  } else                                                   \
    ::ddbfs::internal::LogMessage(::ddbfs::LogLevel::level).stream()
