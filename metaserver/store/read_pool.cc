#include "metaserver/store/read_pool.h"

#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

// Reads only: PostgreSQL refuses any change on a read connection, so every
// commit of the metaserver goes through the writer (the session that holds
// the active lock) or proves the lock itself (docs/ha.md, "Fencing").
Result<std::unique_ptr<Connection>> OpenReadOnly(const std::string& url,
                                                 const SessionLimits& limits) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(url, limits));
  try {
    pqxx::nontransaction txn(conn->raw());
    txn.exec("SET default_transaction_read_only = on");
  } catch (const std::exception& e) {
    return Unavailable("cannot make the session read-only: " + FirstLine(e.what()));
  }
  return conn;
}

}  // namespace

ReadPool::ReadPool(std::string url, size_t size, SessionLimits limits)
    : url_(std::move(url)), size_(size == 0 ? 1 : size), limits_(limits) {}

ReadPool::~ReadPool() = default;

bool ReadPool::Take(Deadline deadline, std::unique_ptr<Connection>* conn) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] { return !idle_.empty() || in_use_ < size_; };
  if (deadline == kNoDeadline) {
    cv_.wait(lock, ready);
  } else if (!cv_.wait_until(lock, deadline, ready)) {
    return false;
  }
  ++in_use_;
  if (idle_.empty()) return true;  // *conn stays null: open a new one
  *conn = std::move(idle_.back());
  idle_.pop_back();
  return true;
}

void ReadPool::Give(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_use_;
    if (conn) idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

Status ReadPool::Run(const Fn& fn) {
  const Deadline deadline = CurrentDeadline();
  if (Clock::now() >= deadline) return DeadlinePassed("read");
  std::unique_ptr<Connection> conn;
  if (!Take(deadline, &conn)) return DeadlinePassed("read (all database connections busy)");
  Status result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn) {
      auto opened = OpenReadOnly(url_, limits_);
      if (!opened.ok()) {
        result =
            Unavailable(std::string(kDatabaseUnavailable) + " (" + opened.status().message() + ")");
        break;
      }
      conn = std::move(opened).value();
    }
    DbError error;
    try {
      pqxx::nontransaction txn(conn->raw());
      Tx tx(*conn, txn);
      tx.set_cache(cache_.load(), /*writer=*/false);
      result = fn(tx);
      if (!tx.failed()) break;
      error.status = tx.failure();
      error.broken = tx.broken();
    } catch (...) {
      error = ClassifyDbError(std::current_exception());
    }
    result = error.status;
    if (!error.broken) break;
    conn.reset();
  }
  Give(std::move(conn));
  return result;
}

}  // namespace ddbfs::meta::store
