#pragma once

#include <map>
#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "ddbfs/status.h"

namespace ddbfs::meta::store {

// A named SQL statement, prepared once per connection on first use. Every
// query of the store is one of these (defined next to the function that runs
// it). `writes` marks statements that change data (see Tx::wrote()).
struct Statement {
  const char* name;
  const char* sql;
  bool writes;
};

// Bounds set on every session of the metaserver, so that a stalled
// PostgreSQL (a lock held by someone else, a stuck statement, a transaction
// left open) makes a request fail instead of blocking the writer for ever.
// 0 leaves PostgreSQL's default (no limit). The defaults are for request
// serving; migrations connect without limits.
struct SessionLimits {
  int statement_timeout_ms = 10000;
  int lock_timeout_ms = 5000;
  int idle_in_transaction_timeout_ms = 60000;

  static SessionLimits None() { return SessionLimits{0, 0, 0}; }
};

// `url` with libpq's connect_timeout, keepalives_* and tcp_user_timeout
// added unless it sets them: a dead or cut-off PostgreSQL is noticed within
// seconds, not the kernel's two hours. A libpq URL or "key=value" string.
std::string WithLivenessParams(std::string url);

// One libpqxx connection and the statements prepared on it.
// Not thread-safe: used by one thread at a time (the writer, or a reader
// that borrowed it from the ReadPool).
class Connection {
 public:
  // Connects to `url` (a libpq URL, e.g. postgresql://postgres@127.0.0.1/ddbfs).
  // kUnavailable with libpq's reason if the server cannot be reached.
  static Result<std::unique_ptr<Connection>> Open(const std::string& url);
  // ... and sets `limits` on the session (statement_timeout, lock_timeout,
  // idle_in_transaction_session_timeout).
  static Result<std::unique_ptr<Connection>> Open(const std::string& url,
                                                  const SessionLimits& limits);

  pqxx::connection& raw() { return *conn_; }

  // Sets `limits` on the session (what Open(url, limits) does after
  // connecting). kUnavailable if the connection failed meanwhile.
  Status SetLimits(const SessionLimits& limits);

  // Prepares `s` on this connection unless done already. Throws pqxx errors
  // (callers run inside Guard()).
  void Prepare(const Statement& s);

 private:
  explicit Connection(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}

  std::unique_ptr<pqxx::connection> conn_;
  std::map<std::string, const char*> prepared_;  // name -> sql
};

// `url` without its password, for messages ("postgresql://u@h/db").
std::string RedactUrl(const std::string& url);

// First line of a libpq/libpqxx error message, without the trailing newline.
std::string FirstLine(const std::string& text);

}  // namespace ddbfs::meta::store
