#pragma once

// The SQL of metaserver high availability (docs/ha.md): the advisory lock
// that makes one metaserver of a database the active one, and the epoch row
// (sql/017_active_metaserver.sql) that fences commits made outside the
// lock's session.

#include <cstdint>
#include <string>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"

namespace ddbfs::meta::store {

class Tx;

// The key of the session-level advisory lock held by the active metaserver
// ("ddbfs" + 2; the schema migrations use + 1). Advisory locks belong to one
// database: metaservers of different databases never compete.
inline constexpr int64_t kActiveLockKey = 6800682566612;

// pg_try_advisory_lock(kActiveLockKey) on `conn`'s session: true when this
// session holds the lock now (call it once per session: the lock counts).
// kUnavailable when the connection failed.
Result<bool> TryTakeActiveLock(Connection& conn);

// "backend pid 1234 (ddbfs-metaserver on host1 ...)": who holds the lock
// now, for the log of a standby; "nobody" when it is free.
std::string DescribeActiveHolder(Connection& conn);

// Shorter keepalives on the lock's session (about 5 s instead of 11 s), so
// that PostgreSQL releases the lock of a metaserver cut off from it soon
// and a standby takes over within 10 s (docs/ha.md, "Timing"). After
// Connection::SetLimits.
Status ShortenLockSessionKeepalives(Connection& conn);

// Whether backend `pid` holds the lock (granted) now. `conn` is any other
// session of the same database (the liveness check of the lock session).
Result<bool> HoldsActiveLock(Connection& conn, int pid);

// The active metaserver's row.
struct ActiveEpoch {
  int64_t epoch = 0;
  std::string holder;
  bool released = true;  // the previous holder stopped cleanly (or none was)
};

// Right after taking the lock, on its session, before anything is read:
// increments the epoch and names `holder`; returns the new epoch with the
// previous holder and whether it was released. Waits (lock_timeout) for a
// transaction of the previous holder that proved its epoch (ProveActive).
Result<ActiveEpoch> BeginActiveEpoch(Connection& conn, const std::string& holder);

// The current epoch (a lock session taken again after its connection broke
// checks that nobody was active in between).
Result<int64_t> ReadActiveEpoch(Connection& conn);

// Inside a transaction that commits on a connection other than the lock's
// session: OK while `epoch` is the current one, and locks the row (FOR
// SHARE) until that transaction ends, so that no metaserver becomes active
// before it committed or rolled back. kUnavailable "fenced" otherwise.
Status ProveActive(Tx& tx, int64_t epoch);

// At a clean stop, through the lock's session: the successor need not wait
// for this metaserver to notice anything (docs/ha.md, "Taking over").
Status MarkActiveReleased(Tx& tx, int64_t epoch);

}  // namespace ddbfs::meta::store
