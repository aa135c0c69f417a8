#pragma once

// The files each client session has open (docs/metadata.md, "Open files of
// client sessions").

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

namespace ddbfs::meta {

// In memory only: after a metaserver start (or a failover) every session
// found in PostgreSQL is *incomplete* until its client sends its whole open
// set again (the answers to its calls say open_set_needed), and until then
// it counts as holding every file. A session opened by this metaserver is
// complete from the start. So an unlink never frees a file that a live
// session may have open, without a PostgreSQL write per open or close.
//
// Every call naming a session checks its owner (the connection's
// principal): kPermissionDenied for another principal's, kLeaseExpired for
// a session this metaserver does not know (closed, expired, never opened).
// Thread-safe.
class OpenFiles {
 public:
  explicit OpenFiles(size_t max_per_session) : max_per_session_(max_per_session) {}

  OpenFiles(const OpenFiles&) = delete;
  OpenFiles& operator=(const OpenFiles&) = delete;

  // At start: sessions from PostgreSQL (id, owner), each incomplete.
  void LoadIncomplete(const std::vector<std::pair<int64_t, std::string>>& sessions);
  // A session opened now: complete, nothing open.
  void AddSession(int64_t session, const std::string& owner);
  // The session is gone (closed, expired).
  void DropSession(int64_t session);

  // Adds `inodes` to the session's set; returns those that were not in it.
  // kTooManyOpen (nothing added) past the limit.
  Result<std::vector<InodeId>> Declare(int64_t session, const std::string& owner,
                                       const std::vector<InodeId>& inodes);
  // The session's set becomes exactly `inodes`, and complete.
  Status Replace(int64_t session, const std::string& owner, const std::vector<InodeId>& inodes);
  // Removes `inodes` from the session's set.
  Status Release(int64_t session, const std::string& owner, const std::vector<InodeId>& inodes);
  // Whether the session has sent its whole set (false for an unknown one).
  bool Complete(int64_t session) const;
  // Owner and existence, and room for one more file (kTooManyOpen).
  Status CanDeclare(int64_t session, const std::string& owner) const;

  // The sessions that may hold `inode`: those that declared it, and every
  // incomplete one (ascending).
  std::vector<int64_t> Holders(InodeId inode) const;

  // Orphan rows: `sessions` may hold a row of `inode` in ddbfs.orphans (set
  // inside the transaction that inserts them, and at start from the table;
  // a mark whose transaction rolled back only costs a needless statement).
  void MarkHeld(const std::vector<int64_t>& sessions, InodeId inode);
  // Those of `inodes` the session may hold a row of, unmarked: a release
  // of no such inode needs no transaction.
  std::vector<InodeId> TakeHeld(int64_t session, const std::vector<InodeId>& inodes);

  size_t max_per_session() const { return max_per_session_; }

 private:
  struct Session {
    std::string owner;
    bool complete = false;
    std::unordered_set<InodeId> inodes;
    std::unordered_set<InodeId> held;  // MarkHeld
  };
  // REQUIRES: mu_ held.
  Result<Session*> FindLocked(int64_t session, const std::string& owner);

  const size_t max_per_session_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, Session> sessions_;  // GUARDED_BY(mu_)
};

}  // namespace ddbfs::meta
