#pragma once

// Small helpers for the chunk server tests: temporary folders, child
// processes and free loopback ports. Not thread-safe.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ddbfs::chunkserver::testing {

// A fresh folder under /tmp, removed with its contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process with stdout and stderr in `log_path`. The destructor
// kills it (SIGKILL) if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool Running();
  // Sends `sig` and waits up to `timeout`; SIGKILL after that. Returns the
  // wait status (-1 if it could not be reaped).
  int Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The whole log, for failure messages.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
  std::string log_path_;
};

// Exit code and output of a command run to completion (stdin is /dev/null).
struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
CommandOutput RunToCompletion(const std::string& program, const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A port on 127.0.0.1 that was free a moment ago (bound with port 0).
int FreePort();
// Polls `cond` every 10 ms until true or `timeout`; returns the last value.
bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout);
// True once 127.0.0.1:port accepts a connection (within `timeout`).
bool WaitForPort(int port, std::chrono::milliseconds timeout);

}  // namespace ddbfs::chunkserver::testing
