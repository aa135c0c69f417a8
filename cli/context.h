#pragma once

// What every command runs with: the global options, a lazily connected
// client, and the one way to report a failure (one stderr line, first exit
// code kept).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::cli {

struct GlobalOptions {
  std::string meta;  // --meta; empty: resolve from env / config file
  bool quiet = false;
};

// Thrown by a command for bad usage (exit code 2, "see ddbfs help CMD").
struct UsageError {
  std::string message;
};

// Thread-safe: commands call Fail/Warn/client from worker threads.
class Context {
 public:
  Context(std::string command, GlobalOptions options);
  ~Context();

  const std::string& command() const { return command_; }
  bool quiet() const { return options_.quiet; }

  // The connected client, or nullptr after reporting why not.
  Client* client();

  // Reports that `subject` (a path, usually) failed with `s`:
  //   ddbfs: <command>: <subject>: <what failed> — <hint>
  // `hint` overrides the hint chosen from the error code.
  void Fail(const std::string& subject, const Status& s, const std::string& hint = "");
  // Same, with the exact text (which carries its own hint, if any).
  void FailText(const std::string& subject, ErrorCode code, const std::string& text);
  // Runs fn(client, path) for each DDBFS path in `given`, normalized: one
  // that does not normalize is reported and skipped; stops once aborted().
  // Returns exit_code() (also when no client could be connected).
  int ForEachPath(const std::vector<std::string>& given,
                  const std::function<void(Client&, const std::string&)>& fn);
  // "ddbfs: <command>: warning: <text>" (does not change the exit code).
  void Warn(const std::string& text);
  // Writes a full line to stderr, clearing a progress line first.
  void ErrLine(const std::string& line);

  bool failed() const { return exit_code_.load() != 0; }
  // True once the metaserver was found unreachable (after the client's
  // retry window): multi-path commands stop instead of waiting it out again
  // for every remaining path.
  bool aborted() const { return aborted_.load(); }
  // 0, or the exit code of the first failure.
  int exit_code() const { return exit_code_.load(); }

  // Progress lines share stderr with failures (see progress.h).
  std::mutex& err_mu() { return err_mu_; }
  void set_progress_shown(bool shown) { progress_shown_ = shown; }  // REQUIRES: err_mu() held

 private:
  const std::string command_;
  const GlobalOptions options_;
  std::mutex connect_mu_;
  bool connect_tried_ = false;      // GUARDED_BY(connect_mu_)
  std::unique_ptr<Client> client_;  // GUARDED_BY(connect_mu_) until set
  std::atomic<int> exit_code_{0};
  std::atomic<bool> aborted_{false};
  std::mutex err_mu_;
  bool progress_shown_ = false;  // GUARDED_BY(err_mu_)
};

}  // namespace ddbfs::cli
