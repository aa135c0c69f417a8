#include "metaserver/store/session_store.h"

#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kInsertSession{
    "ses_insert",
    "INSERT INTO ddbfs.client_sessions (id, principal, description, created_ms, expires_ms)"
    " VALUES (nextval('ddbfs.client_session_ids'), $1, $2, $3, $4) RETURNING id",
    true};

constexpr Statement kGetSession{
    "ses_get",
    "SELECT id, principal, description, created_ms, expires_ms FROM ddbfs.client_sessions"
    " WHERE id = $1",
    false};

constexpr Statement kSetSessionExpiry{
    "ses_set_expiry", "UPDATE ddbfs.client_sessions SET expires_ms = $2 WHERE id = $1 RETURNING id",
    true};

constexpr Statement kDeleteSession{"ses_delete", "DELETE FROM ddbfs.client_sessions WHERE id = $1",
                                   true};

constexpr Statement kExpiredSessions{
    "ses_expired",
    "SELECT id, principal, description, created_ms, expires_ms FROM ddbfs.client_sessions"
    " WHERE expires_ms < $1 ORDER BY expires_ms LIMIT $2",
    false};

constexpr Statement kAllSessions{
    "ses_all",
    "SELECT id, principal, description, created_ms, expires_ms FROM ddbfs.client_sessions"
    " ORDER BY id",
    false};

constexpr Statement kExtendAllSessions{
    "ses_extend_all", "UPDATE ddbfs.client_sessions SET expires_ms = GREATEST(expires_ms, $1)",
    true};

constexpr Statement kInsertOrphans{
    "orph_insert",
    "INSERT INTO ddbfs.orphans (inode, session_id, parent, orphaned_ms)"
    " SELECT $1, s, $3, $4 FROM unnest($2::bigint[]) AS s ON CONFLICT DO NOTHING",
    true};

constexpr Statement kGetOrphan{"orph_get",
                               "SELECT inode, session_id, parent, orphaned_ms FROM ddbfs.orphans"
                               " WHERE inode = $1 AND session_id = $2",
                               false};

constexpr Statement kGetAnyOrphan{
    "orph_get_any",
    "SELECT inode, session_id, parent, orphaned_ms FROM ddbfs.orphans WHERE inode = $1"
    " ORDER BY session_id LIMIT 1",
    false};

constexpr Statement kOrphansOf{
    "orph_of_session", "SELECT inode FROM ddbfs.orphans WHERE session_id = $1 ORDER BY inode",
    false};

constexpr Statement kAllOrphanHolders{
    "orph_all_holders", "SELECT inode, session_id FROM ddbfs.orphans ORDER BY inode, session_id",
    false};

// Drops the session's rows of the given inodes (all = false) or of every
// inode except them (all = true); returns the inodes left with no row.
constexpr Statement kDropOrphanRows{
    "orph_drop_rows",
    "WITH d AS (DELETE FROM ddbfs.orphans WHERE session_id = $1"
    "           AND (inode = ANY($2::bigint[])) <> $3::boolean RETURNING inode)"
    " SELECT DISTINCT d.inode FROM d"
    " WHERE NOT EXISTS (SELECT 1 FROM ddbfs.orphans o"
    "                   WHERE o.inode = d.inode AND o.session_id <> $1)"
    " ORDER BY d.inode",
    true};

ClientSessionRecord ParseSession(const pqxx::row& row) {
  ClientSessionRecord s;
  s.id = row[0].as<int64_t>();
  s.principal = row[1].as<std::string>();
  s.description = row[2].as<std::string>();
  s.created_ms = row[3].as<int64_t>();
  s.expires_ms = row[4].as<int64_t>();
  return s;
}

}  // namespace

Result<int64_t> InsertClientSession(Tx& tx, const std::string& principal,
                                    const std::string& description, int64_t now_ms,
                                    int64_t expires_ms) {
  return Guard(tx, [&]() -> Result<int64_t> {
    return tx.Exec(kInsertSession, principal, description, now_ms, expires_ms)
        .at(0)[0]
        .as<int64_t>();
  });
}

Result<std::optional<ClientSessionRecord>> GetClientSession(Tx& tx, int64_t id) {
  return Guard(tx, [&]() -> Result<std::optional<ClientSessionRecord>> {
    pqxx::result r = tx.Exec(kGetSession, id);
    if (r.empty()) return std::optional<ClientSessionRecord>();
    return std::optional<ClientSessionRecord>(ParseSession(r[0]));
  });
}

Result<bool> SetClientSessionExpiry(Tx& tx, int64_t id, int64_t expires_ms) {
  return Guard(
      tx, [&]() -> Result<bool> { return !tx.Exec(kSetSessionExpiry, id, expires_ms).empty(); });
}

Status DeleteClientSession(Tx& tx, int64_t id) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDeleteSession, id);
    return Status();
  });
}

Result<std::vector<ClientSessionRecord>> ExpiredClientSessions(Tx& tx, int64_t now_ms, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<ClientSessionRecord>> {
    std::vector<ClientSessionRecord> out;
    for (const auto& row : tx.Exec(kExpiredSessions, now_ms, limit)) {
      out.push_back(ParseSession(row));
    }
    return out;
  });
}

Result<std::vector<ClientSessionRecord>> AllClientSessions(Tx& tx) {
  return Guard(tx, [&]() -> Result<std::vector<ClientSessionRecord>> {
    std::vector<ClientSessionRecord> out;
    for (const auto& row : tx.Exec(kAllSessions)) out.push_back(ParseSession(row));
    return out;
  });
}

Status ExtendAllClientSessions(Tx& tx, int64_t expires_ms) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kExtendAllSessions, expires_ms);
    return Status();
  });
}

Status InsertOrphans(Tx& tx, InodeId inode, const std::vector<int64_t>& sessions, InodeId parent,
                     int64_t now_ms) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kInsertOrphans, inode, PgArray(sessions), parent, now_ms);
    return Status();
  });
}

namespace {
std::optional<OrphanRecord> ParseOrphan(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  OrphanRecord o;
  o.inode = r[0][0].as<int64_t>();
  o.session_id = r[0][1].as<int64_t>();
  o.parent = r[0][2].as<int64_t>();
  o.orphaned_ms = r[0][3].as<int64_t>();
  return o;
}
}  // namespace

Result<std::optional<OrphanRecord>> GetOrphan(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::optional<OrphanRecord>> {
    return ParseOrphan(tx.Exec(kGetAnyOrphan, inode));
  });
}

Result<std::optional<OrphanRecord>> GetOrphan(Tx& tx, InodeId inode, int64_t session_id) {
  return Guard(tx, [&]() -> Result<std::optional<OrphanRecord>> {
    return ParseOrphan(tx.Exec(kGetOrphan, inode, session_id));
  });
}

Result<std::vector<InodeId>> OrphansOf(Tx& tx, int64_t session_id) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    std::vector<InodeId> out;
    for (const auto& row : tx.Exec(kOrphansOf, session_id)) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

Result<std::vector<std::pair<InodeId, int64_t>>> AllOrphanHolders(Tx& tx) {
  return Guard(tx, [&]() -> Result<std::vector<std::pair<InodeId, int64_t>>> {
    std::vector<std::pair<InodeId, int64_t>> out;
    for (const auto& row : tx.Exec(kAllOrphanHolders)) {
      out.emplace_back(row[0].as<int64_t>(), row[1].as<int64_t>());
    }
    return out;
  });
}

Result<std::vector<InodeId>> DropOrphanRows(Tx& tx, int64_t session_id,
                                            const std::vector<InodeId>& inodes, bool all_but) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    std::vector<InodeId> out;
    for (const auto& row : tx.Exec(kDropOrphanRows, session_id, PgArray(inodes), all_but)) {
      out.push_back(row[0].as<int64_t>());
    }
    return out;
  });
}

}  // namespace ddbfs::meta::store
