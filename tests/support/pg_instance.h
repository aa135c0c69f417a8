#pragma once

#include <mutex>
#include <string>

namespace ddbfs::testing {

// The one private PostgreSQL 15 server of a test process.
//
// Started on first use: initdb into a fresh temp dir under /tmp (as user
// `postgres` via `runuser -u postgres --` when we are root), auth trust,
// listening on 127.0.0.1 on a free port, unix sockets in the temp dir, fsync
// on. Stopped and deleted at process exit. If it cannot start, the current
// test fails (ADD_FAILURE) with the initdb/pg_ctl log and the process aborts.
//
// Thread-safe: every method may be called from any thread.
class PgInstance {
 public:
  static PgInstance& Shared();

  // A new empty database with a unique name; returns its URL
  // "postgresql://postgres@127.0.0.1:PORT/NAME".
  std::string NewDatabaseUrl();
  int port() const { return port_; }

  // Stop / start the server (same data dir, same port): for "PostgreSQL
  // down" tests. Stop() waits until the server is gone (open sessions are
  // terminated); Start() until it accepts connections. A crash stop
  // (`pg_ctl -m immediate`: no shutdown checkpoint, recovery at the next
  // start) takes the server away at once even on a loaded machine, where
  // a clean stop's checkpoint can take many seconds.
  void Stop(bool crash = false);
  void Start();

  // Also listen on `address` (the bridge address of a test's network
  // namespaces, tests/integration/net_hosts.h), from which connections are
  // trusted like loopback ones (10.99.0.0/16); "" listens on 127.0.0.1
  // alone again. Restarts the server as a crash would (sessions of clusters
  // still running break; their metaservers reconnect).
  void ListenAlso(const std::string& address);

  PgInstance(const PgInstance&) = delete;
  PgInstance& operator=(const PgInstance&) = delete;

 private:
  PgInstance() = default;
  ~PgInstance();

  void Init();
  // REQUIRES: mu_ held. False (log in *error) if pg_ctl start failed.
  bool StartLocked(std::string* error);
  void StopLocked(bool crash = false);
  void Fail(const std::string& what, const std::string& log);

  std::mutex mu_;
  std::string dir_;          // temp root: data/, sockets, logs
  int port_ = 0;             // fixed once Init() succeeded
  bool running_ = false;     // GUARDED_BY(mu_)
  int next_db_ = 0;          // GUARDED_BY(mu_)
  std::string also_listen_;  // GUARDED_BY(mu_)
};

}  // namespace ddbfs::testing
