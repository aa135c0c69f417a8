#pragma once

// The mount's client session on the metaserver (docs/fuse.md, "Files
// unlinked while open"; docs/metadata.md, "Client sessions and orphans").

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "ddbfs/client.h"

namespace ddbfs::fuse {

// Opened by Start, renewed by a background thread every third of the
// metaserver's session timeout, closed by Stop: the metaserver then deletes
// the orphans (files unlinked while open here) it still holds. A mount that
// dies stops renewing, and the metaserver deletes them after the timeout.
//
// Thread-safe. `client` must outlive the MountSession.
class MountSession {
 public:
  MountSession(Client* client, std::string description)
      : client_(client), description_(std::move(description)) {}
  ~MountSession();  // Stop()
  // How long Stop() tries to close the session with an unreachable metaserver.
  static constexpr int kCloseRetryMs = 2000;

  MountSession(const MountSession&) = delete;
  MountSession& operator=(const MountSession&) = delete;

  // Opens the session and starts renewing it. An error (a read-only export,
  // a metaserver without sessions) leaves the mount without one.
  Status Start();
  // Stops renewing and closes the session (its orphans go). Idempotent.
  void Stop();

  // The session to name in an Unlink or Rename; 0: none.
  int64_t id() const;
  // The metaserver refused session `expired` as expired (it was out of
  // reach for longer than the timeout; the orphans it held are gone):
  // opens a new session unless another thread did already. Returns the
  // current id (0 if none could be opened).
  int64_t Replace(int64_t expired);

 private:
  void Loop();
  // Opens a new session and makes it the current one (mu_ not held).
  Status Open();

  Client* const client_;
  const std::string description_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t id_ = 0;         // GUARDED_BY(mu_)
  int timeout_ms_ = 0;     // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  std::mutex replace_mu_;  // one Replace at a time
};

}  // namespace ddbfs::fuse
