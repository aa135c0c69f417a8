#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ddbfs::testing {

// A child process started by a test. Its stdout and stderr go to a log file.
// The destructor kills it (SIGKILL) if it still runs. Not thread-safe.
class Process {
 public:
  // Starts `program` with `args`; stdout/stderr appended to `log_path`.
  Process(std::string program, std::vector<std::string> args, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig`; with wait, reaps the process (up to `timeout`, then SIGKILL).
  void Signal(int sig);
  // Waits for exit up to `timeout`; returns the wait status, nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Signal + Wait; SIGKILL if it did not exit in time. Returns the wait status.
  int Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  const std::string& log_path() const { return log_path_; }
  // The whole log so far.
  std::string Log() const;
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

// Result of running a command to completion.
struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv (no shell), feeding `input` to stdin; kills it after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(300),
                         const std::vector<std::string>& extra_env = {});

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();
// True once something accepts connections on 127.0.0.1:port.
bool WaitForPort(int port, std::chrono::milliseconds timeout);
// The same on host:port (an IPv4 address).
bool WaitForPort(const std::string& host, int port, std::chrono::milliseconds timeout);

// Polls `cond` every 20 ms until it is true or `timeout` passes.
template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    struct timespec ts {
      0, 20 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
}

// A fresh empty directory under /tmp, deleted by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ddbfs-test");
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ddbfs::testing
