#pragma once

// The mount's client session on the metaserver (docs/fuse.md, "Files
// unlinked while open"; docs/metadata.md, "Client sessions and orphans").

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::fuse {

// Opened by Start, renewed by a background thread every third of the
// metaserver's session timeout, closed by Stop: the metaserver then deletes
// the orphans (files unlinked while open here) it still holds. A mount that
// dies stops renewing, and the metaserver deletes them after the timeout.
//
// It also keeps the metaserver's view of the files open here (docs/fuse.md,
// "Files unlinked while open"): an open declares itself inside a Declaring
// scope (a flag on the GetChunks or Create it sends anyway, or one
// DeclareOne call); last closes are Released and sent in batches by the
// background thread, at most kReleaseDelayMs later; when the metaserver
// asks for it (it restarted, or the session was replaced) the thread sends
// the whole open set. Batches and the whole set are sent while no open is
// between its declaration and its entry in the open set, so a batch never
// releases a file opened again meanwhile.
//
// Thread-safe. `client` must outlive the MountSession; `is_open` and
// `open_set` (the files open on the mount) must stay callable until Stop.
class MountSession {
 public:
  MountSession(Client* client, std::string description,
               std::function<bool(InodeId)> is_open = nullptr,
               std::function<std::vector<InodeId>()> open_set = nullptr)
      : client_(client),
        description_(std::move(description)),
        is_open_(std::move(is_open)),
        open_set_(std::move(open_set)) {}
  // How long a last close waits to be sent with others.
  static constexpr int kReleaseDelayMs = 200;
  // Most releases in one call (the metaserver takes 4096).
  static constexpr size_t kMaxReleaseBatch = 4096;
  static constexpr int kDeclareWaitMs = 200;
  ~MountSession();  // Stop()
  // How long Stop() tries to close the session with an unreachable metaserver.
  static constexpr int kCloseRetryMs = 2000;
  // How long one renewal or batch of declarations of the thread retries an
  // unreachable metaserver: each is tried again at its next turn anyway, and
  // Stop() (at unmount) waits for the call in progress.
  static constexpr int kLoopRetryMs = 2000;

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

  // An open between its declaration and its entry in the mount's open set
  // (FileSystem::Acquire): GetChunks and Create calls of this thread carry
  // the session. session() is 0 when there is none.
  class Declaring {
   public:
    explicit Declaring(MountSession* s);
    ~Declaring();
    Declaring(const Declaring&) = delete;
    Declaring& operator=(const Declaring&) = delete;
    int64_t session() const { return session_; }

   private:
    MountSession* const owner_;
    std::shared_lock<std::shared_timed_mutex> lock_;
    int64_t session_;
    std::optional<Client::DeclaringOpen> scope_;
  };
  // An open that sends neither GetChunks nor Create (write-only): declares
  // `inode` with one call. Inside a Declaring scope.
  Status DeclareOne(const Declaring& d, InodeId inode);
  // The mount's last close of `inode`: sent in the next batch.
  void Released(InodeId inode);
  // The metaserver asked for the whole open set: sent by the thread soon.
  void NeedOpenSet();

 private:
  void Loop();
  // Opens a new session and makes it the current one (mu_ not held).
  Status Open();
  // Sends the queued releases, or with `whole` the whole open set
  // (declare_mu_ taken here, mu_ not held).
  void SendOpenFiles(bool whole);

  Client* const client_;
  const std::string description_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  const std::function<bool(InodeId)> is_open_;
  const std::function<std::vector<InodeId>()> open_set_;

  int64_t id_ = 0;                                     // GUARDED_BY(mu_)
  int timeout_ms_ = 0;                                 // GUARDED_BY(mu_)
  bool stopping_ = false;                              // GUARDED_BY(mu_)
  std::vector<InodeId> released_;                      // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point release_due_;  // GUARDED_BY(mu_)
  bool open_set_needed_ = false;                       // GUARDED_BY(mu_)
  // Shared by an open while it declares itself; exclusive while a batch or
  // the whole set is built and sent. The thread waits for it at most
  // kDeclareWaitMs (a stream of opens must not hold up the renewals): the
  // batch or the set is tried again later.
  std::shared_timed_mutex declare_mu_;
  std::thread thread_;
  std::mutex replace_mu_;  // one Replace at a time
};

}  // namespace ddbfs::fuse
