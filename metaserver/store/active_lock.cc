#include "metaserver/store/active_lock.h"

#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

// The row of pg_locks that is the active lock: a bigint key shows its high
// half in classid, its low half in objid, and objsubid 1.
constexpr char kActiveLockRow[] =
    "l.locktype = 'advisory' AND l.objsubid = 1"
    " AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

constexpr Statement kProveActive{"active_prove",
                                 "SELECT epoch FROM ddbfs.active_metaserver FOR SHARE", false};

constexpr Statement kMarkReleased{
    "active_release", "UPDATE ddbfs.active_metaserver SET released = true WHERE epoch = $1", true};

template <typename F>
auto OnConnection(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    return ClassifyDbError(std::current_exception()).status;
  }
}

}  // namespace

Result<bool> TryTakeActiveLock(Connection& conn) {
  return OnConnection([&]() -> Result<bool> {
    pqxx::nontransaction txn(conn.raw());
    return txn.exec_params("SELECT pg_try_advisory_lock($1)", kActiveLockKey)[0][0].as<bool>();
  });
}

Status ShortenLockSessionKeepalives(Connection& conn) {
  return OnConnection([&]() -> Status {
    pqxx::nontransaction txn(conn.raw());
    txn.exec(
        "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1;"
        " SET tcp_keepalives_count = 3; SET tcp_user_timeout = 5000");
    return Status();
  });
}

std::string DescribeActiveHolder(Connection& conn) {
  std::string out;
  try {
    pqxx::nontransaction txn(conn.raw());
    pqxx::result r = txn.exec_params(
        std::string("SELECT l.pid, coalesce(host(a.client_addr), 'a local socket')"
                    " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.granted"
                    " AND ") +
            kActiveLockRow,
        kActiveLockKey);
    if (r.empty()) return "nobody";
    out = "backend pid " + r[0][0].as<std::string>() + " from " + r[0][1].as<std::string>();
  } catch (const std::exception& e) {
    return "unknown (" + FirstLine(e.what()) + ")";
  }
  try {
    // Absent before the first start of this version (sql/017).
    pqxx::nontransaction txn(conn.raw());
    pqxx::result r = txn.exec("SELECT holder FROM ddbfs.active_metaserver");
    if (!r.empty() && !r[0][0].as<std::string>().empty()) {
      out += ", the metaserver " + r[0][0].as<std::string>();
    }
  } catch (const std::exception&) {
  }
  return out;
}

Result<bool> HoldsActiveLock(Connection& conn, int pid) {
  return OnConnection([&]() -> Result<bool> {
    pqxx::nontransaction txn(conn.raw());
    return txn
        .exec_params(std::string("SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE l.granted"
                                 " AND l.pid = $2 AND ") +
                         kActiveLockRow + ")",
                     kActiveLockKey, pid)[0][0]
        .as<bool>();
  });
}

Result<ActiveEpoch> BeginActiveEpoch(Connection& conn, const std::string& holder) {
  return OnConnection([&]() -> Result<ActiveEpoch> {
    pqxx::work txn(conn.raw());
    pqxx::result before =
        txn.exec("SELECT holder, released FROM ddbfs.active_metaserver FOR UPDATE");
    if (before.size() != 1) {
      return Internal("ddbfs.active_metaserver has " + std::to_string(before.size()) +
                      " rows instead of one");
    }
    ActiveEpoch out;
    out.holder = before[0][0].as<std::string>();
    out.released = before[0][1].as<bool>();
    out.epoch = txn.exec_params(
                       "UPDATE ddbfs.active_metaserver SET epoch = epoch + 1, holder = $1,"
                       " since = now(), released = false RETURNING epoch",
                       holder)[0][0]
                    .as<int64_t>();
    txn.commit();
    return out;
  });
}

Result<int64_t> ReadActiveEpoch(Connection& conn) {
  return OnConnection([&]() -> Result<int64_t> {
    pqxx::nontransaction txn(conn.raw());
    return txn.exec("SELECT epoch FROM ddbfs.active_metaserver")[0][0].as<int64_t>();
  });
}

Status ProveActive(Tx& tx, int64_t epoch) {
  return Guard(tx, [&]() -> Status {
    pqxx::result r = tx.Exec(kProveActive);
    const int64_t now = r.empty() ? -1 : r[0][0].as<int64_t>();
    if (now != epoch) {
      return Unavailable("fenced: another metaserver became active (epoch " + std::to_string(now) +
                         ", this one has " + std::to_string(epoch) + ")");
    }
    return Status();
  });
}

Status MarkActiveReleased(Tx& tx, int64_t epoch) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kMarkReleased, epoch);
    return Status();
  });
}

}  // namespace ddbfs::meta::store
