#include "syslog_forward.h"

#include <syslog.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace ddbfs::fuse {

namespace {

// "2026-11-22T05:33:04.123Z E ddbfs-mount: text": the letter after the
// timestamp is the level.
int PriorityOf(const std::string& line) {
  const size_t space = line.find(' ');
  if (space == std::string::npos || space + 1 >= line.size()) return LOG_INFO;
  switch (line[space + 1]) {
    case 'D':
      return LOG_DEBUG;
    case 'W':
      return LOG_WARNING;
    case 'E':
      return LOG_ERR;
    default:
      return LOG_INFO;
  }
}

// Drops the timestamp (syslog adds its own).
std::string WithoutTimestamp(const std::string& line) {
  const size_t space = line.find(' ');
  if (space == std::string::npos || space + 3 > line.size()) return line;
  return line.substr(space + 3);
}

}  // namespace

bool ForwardStderrToSyslog(const char* ident) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  openlog(ident, LOG_PID, LOG_DAEMON);
  if (::dup2(fds[1], STDERR_FILENO) < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  ::close(fds[1]);
  const int in = fds[0];
  std::thread([in] {
    std::string pending;
    char buf[4096];
    while (true) {
      const ssize_t n = ::read(in, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        const std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty()) syslog(PriorityOf(line), "%s", WithoutTimestamp(line).c_str());
      }
    }
  }).detach();
  return true;
}

}  // namespace ddbfs::fuse
