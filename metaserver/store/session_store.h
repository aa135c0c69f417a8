#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
// Up to `limit` sessions that expired before now_ms, oldest first.
Result<std::vector<ClientSessionRecord>> ExpiredClientSessions(Tx& tx, int64_t now_ms, int limit);
// Every session expires no earlier than expires_ms (at metaserver start: a
// client could not renew while the metaserver was down).
Status ExtendAllClientSessions(Tx& tx, int64_t expires_ms);

// Records `inode` (nlink 0 already) as an orphan held by `session_id`.
Status InsertOrphan(Tx& tx, InodeId inode, int64_t session_id, InodeId parent, int64_t now_ms);
// nullopt if the inode is not an orphan.
Result<std::optional<OrphanRecord>> GetOrphan(Tx& tx, InodeId inode);
// The orphans a session holds.
Result<std::vector<InodeId>> OrphansOf(Tx& tx, int64_t session_id);

}  // namespace ddbfs::meta::store
