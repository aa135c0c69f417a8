#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"

namespace ddbfs::meta {

// Client sessions and the orphans they hold (docs/metadata.md, "Client
// sessions and orphans"). A session belongs to `owner`, the principal of the
// connection that opened it (Access::owner): every call naming a session
// checks it, so a session id guessed by another principal gets
// kPermissionDenied. An unknown, closed or expired session is
// kLeaseExpired. Thread-safe: each call is one op of the writer.

// How many open inodes one Unlink or Rename may name.
inline constexpr size_t kMaxOpenInodes = 1024;
inline constexpr size_t kMaxSessionDescription = 1024;

struct OpenedSession {
  int64_t id = 0;
  int timeout_ms = 0;  // ctx.sessions.timeout_ms
};
Result<OpenedSession> OpenClientSession(OpContext& ctx, const std::string& owner,
                                        std::string_view description);
// Moves the expiry to now + timeout; returns the timeout.
Result<int> RenewClientSession(OpContext& ctx, const std::string& owner, int64_t session);
// Deletes every orphan of the session with its data, then the session;
// returns how many orphans. A session that is gone already: 0.
Result<int> CloseClientSession(OpContext& ctx, const std::string& owner, int64_t session);
// The session no longer holds orphan `inode` (its last close); the inode
// goes with its data when no other session holds it. OK and nothing done
// when the session holds no such orphan (released already, its session
// expired, or it is no orphan: an inode with a name is never deleted here).
Status ReleaseOrphan(OpContext& ctx, const std::string& owner, int64_t session, InodeId inode);

// At most this many released inodes in one UpdateOpenFiles.
inline constexpr size_t kMaxReleasedPerCall = 4096;

struct OpenFilesUpdate {
  bool open_set_needed = false;  // the metaserver still lacks the whole set
  int orphans_deleted = 0;
};
// UpdateOpenFiles (docs/metadata.md, "Open files of client sessions"):
// declares `opened` and releases `released` (or, with full_set, makes
// `opened` the whole set); a release of an orphan drops this session's
// hold and deletes it when no other session holds it. The caller has
// checked that the connection may reach every inode of `opened` (as for
// GetChunks). kNotSupported without ctx.open_files.
Result<OpenFilesUpdate> UpdateOpenFiles(OpContext& ctx, const std::string& owner, int64_t session,
                                        const std::vector<InodeId>& opened,
                                        const std::vector<InodeId>& released, bool full_set);
// True when the metaserver keeps open sets and lacks `session`'s whole set
// (after its start, or an unknown session): the client should send it.
bool OpenSetNeeded(OpContext& ctx, int64_t session);
// Deletes the orphans and rows of up to `limit` sessions whose expiry has
// passed (the SessionReaper calls it); returns how many sessions.
Result<int> ReapExpiredSessions(OpContext& ctx, int limit = 100);

// What an Unlink or Rename may keep: an inode of `open_inodes` that loses its
// last name becomes an orphan of `session` instead of being deleted.
struct OrphanHolder {
  int64_t session = 0;
  std::string owner;                 // the connection's principal
  std::vector<InodeId> open_inodes;  // at most kMaxOpenInodes
};

}  // namespace ddbfs::meta
