#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

namespace ddbfs::meta::store {

class Tx;

// Queries on ddbfs.client_sessions and ddbfs.orphans (sql/008_client_sessions.sql;
// docs/metadata.md, "Client sessions and orphans"). One function per
// statement; they check nothing the ops layer must check.

struct ClientSessionRecord {
  int64_t id = 0;
  std::string principal;
  std::string description;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

struct OrphanRecord {
  InodeId inode = 0;
  int64_t session_id = 0;
  InodeId parent = 0;  // the directory its last name was removed from
  int64_t orphaned_ms = 0;
};

// A new session (id from ddbfs.client_session_ids); returns its id.
Result<int64_t> InsertClientSession(Tx& tx, const std::string& principal,
                                    const std::string& description, int64_t now_ms,
                                    int64_t expires_ms);
// nullopt if there is no such session.
Result<std::optional<ClientSessionRecord>> GetClientSession(Tx& tx, int64_t id);
// expires_ms of the session becomes `expires_ms`; false if it does not exist.
Result<bool> SetClientSessionExpiry(Tx& tx, int64_t id, int64_t expires_ms);
// Deletes the session row (its orphans must be gone: foreign key).
Status DeleteClientSession(Tx& tx, int64_t id);
// Every session (at metaserver start).
Result<std::vector<ClientSessionRecord>> AllClientSessions(Tx& tx);
// Up to `limit` sessions that expired before now_ms, oldest first.
Result<std::vector<ClientSessionRecord>> ExpiredClientSessions(Tx& tx, int64_t now_ms, int limit);
// Every session expires no earlier than expires_ms (at metaserver start: a
// client could not renew while the metaserver was down).
Status ExtendAllClientSessions(Tx& tx, int64_t expires_ms);

// Records `inode` (nlink 0 already) as an orphan held by each of `sessions`
// (one row each; a row that exists already stays).
Status InsertOrphans(Tx& tx, InodeId inode, const std::vector<int64_t>& sessions, InodeId parent,
                     int64_t now_ms);
// One row of orphan `inode` (any holder); nullopt if it is no orphan.
Result<std::optional<OrphanRecord>> GetOrphan(Tx& tx, InodeId inode);
// nullopt if `session_id` holds no orphan `inode`.
Result<std::optional<OrphanRecord>> GetOrphan(Tx& tx, InodeId inode, int64_t session_id);
// The orphans a session holds.
Result<std::vector<InodeId>> OrphansOf(Tx& tx, int64_t session_id);
// Every (inode, session) row (at metaserver start: few).
Result<std::vector<std::pair<InodeId, int64_t>>> AllOrphanHolders(Tx& tx);
// Deletes the rows of `session_id` for `inodes` (all_but false), or for
// every inode not in `inodes` (all_but true); returns the inodes that no
// session holds any more (the caller deletes them: DeleteInode).
Result<std::vector<InodeId>> DropOrphanRows(Tx& tx, int64_t session_id,
                                            const std::vector<InodeId>& inodes, bool all_but);

}  // namespace ddbfs::meta::store
