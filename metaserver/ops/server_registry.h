#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta {

// What the metaserver knows about one chunk server.
struct ServerState {
  store::ServerRecord record;  // id, uuid, address, label, last reported figures
  // Registered with this metaserver process (a server known only from the
  // database must register again: its inventory is reconciled then).
  bool registered = false;
  bool alive = false;                  // filled in by Snapshot()/Get()
  int64_t last_heartbeat_ms_ago = -1;  // filled in by Snapshot()/Get(); -1: never
  std::chrono::steady_clock::time_point last_heartbeat;
  std::chrono::steady_clock::time_point last_flush;
  int placed_since_heartbeat = 0;  // replicas placed on it since its last report
  // The registration session (0 before the first registration with this
  // process) and how far its inventory pages got: chunk ids up to
  // `inventory_cursor` are reconciled; `inventory_complete` once the last
  // page was. Until then this server's replica rows are as the metadata
  // last knew them (not yet confirmed by the server).
  int64_t session = 0;
  int64_t inventory_cursor = 0;
  bool inventory_complete = false;
  bool page_in_flight = false;
  int64_t inventory_entries = 0;  // entries reported in this session so far
};

// Chunk-server liveness, kept IN MEMORY: heartbeats do not write the database
// (their figures are flushed at most every `flush_interval`). A server is
// alive while its last heartbeat (or registration) is younger than the
// heartbeat timeout.
//
// Thread-safe.
class ServerRegistry {
 public:
  // The startup grace (see PlacementReady) defaults to twice the heartbeat
  // timeout, at most 60 s, counted from construction.
  explicit ServerRegistry(std::chrono::milliseconds heartbeat_timeout,
                          std::chrono::milliseconds flush_interval = std::chrono::seconds(10));

  // Overrides the startup grace (--startup-grace-ms); still counted from
  // construction. Call before serving.
  void set_startup_grace(std::chrono::milliseconds grace);
  std::chrono::milliseconds startup_grace() const;

  std::chrono::milliseconds heartbeat_timeout() const { return timeout_; }
  // What chunk servers are told: a quarter of the timeout, at least 200 ms.
  int heartbeat_interval_ms() const;

  // Servers from the database at start: known, not registered, not alive.
  // Those that were alive when the previous metaserver stopped (last
  // heartbeat within flush interval + 2 x timeout of the newest one) are
  // awaited: PlacementReady() waits for them to register.
  void Load(const std::vector<store::ServerRecord>& records);

  // OK once placement of new chunks may start: every awaited server has
  // registered again, or the startup grace has passed. Until then
  // kUnavailable "waiting for N chunk servers to re-register after the
  // metaserver started (...)"; clients retry UNAVAILABLE.
  Status PlacementReady() const;

  // Held by a registration across CheckClaim, its database write and
  // Registered(), so that two servers claiming one uuid cannot both pass
  // the check. Registrations are rare; nothing else takes it.
  [[nodiscard]] std::unique_lock<std::mutex> LockRegistrations();
  // kPermissionDenied when a registered, alive server with `uuid` is at
  // another address than host:port (two servers with one identity). The
  // same address is a restart; a dead one may have moved.
  Status CheckClaim(const std::string& uuid, const std::string& host, int32_t port) const;
  // A registration was committed: the server is alive as of now, with a new
  // registration session (returned) whose inventory is not reconciled yet.
  int64_t Registered(const store::ServerRecord& record);

  // The next inventory page of `session` (first entry `first_chunk_id`, or
  // 0 for an empty page) may be reconciled: returns the chunk id the
  // previous page ended at. kNotFound if the session is not the server's
  // current one, kBusy while another page of it is being reconciled,
  // kInvalidArgument if the page does not follow the previous one. Counts
  // as a heartbeat.
  Result<int64_t> BeginInventoryPage(int32_t id, int64_t session, int64_t first_chunk_id);
  // Ends what BeginInventoryPage began; when `ok`, chunk ids up to `upto`
  // are reconciled, and all of them when `last`.
  void EndInventoryPage(int32_t id, int64_t session, bool ok, int64_t upto, bool last,
                        int64_t entries);

  struct HeartbeatOutcome {
    bool known = false;      // false: the server must register again
    bool flush_due = false;  // write its figures to the database now
  };
  // `session` 0: not given (a server that predates sessions); another
  // session than the current one is not known (it must register again).
  HeartbeatOutcome Heartbeat(int32_t id, int64_t capacity_bytes, int64_t used_bytes,
                             int64_t chunk_count, int64_t session = 0);
  // Its figures were written to the database.
  void Flushed(int32_t id);

  // Draining (docs/repair.md, "Draining"): a draining server is never
  // chosen by ChooseServers; the flag survives registrations (it is loaded
  // from the database and set here when the database was changed).
  void SetDraining(int32_t id, bool draining);
  // Forgets a server (ddbfs server remove, after its row was deleted).
  void Forget(int32_t id);

  // The metaserver refused every heartbeat since `since` (it could not
  // confirm it was the active one): a server that was alive then counts as
  // heard from now, so that the metaserver's own outage does not make the
  // whole cluster look dead. One that is really gone is dead one heartbeat
  // timeout later, as after a restart.
  void ForgiveSilenceSince(std::chrono::steady_clock::time_point since);

  bool IsAlive(int32_t id) const;
  std::optional<ServerState> Get(int32_t id) const;
  std::vector<ServerState> Snapshot() const;
  std::vector<int32_t> AliveIds() const;

  // Placement of a new chunk's replicas: alive servers with at least one
  // chunk of free space, not being drained, not in `exclude` (see
  // ChoosePlacement). Counts the
  // chosen ones as a chunk fuller until their next heartbeat, so that chunks
  // placed between two heartbeats spread out. The host labels and racks of
  // `avoid` (the servers already holding the chunk) count as taken: a new
  // host on a new rack first, then a new host, then the rest.
  std::vector<int32_t> ChooseServers(int count, const std::set<int32_t>& exclude,
                                     const std::set<int32_t>& avoid = {});

 private:
  // REQUIRES: mu_ held.
  bool AliveLocked(const ServerState& s, std::chrono::steady_clock::time_point now) const;
  ServerState ViewLocked(const ServerState& s, std::chrono::steady_clock::time_point now) const;

  const std::chrono::milliseconds timeout_;
  const std::chrono::milliseconds flush_interval_;
  const std::chrono::steady_clock::time_point started_;
  std::mutex registration_mu_;  // see LockRegistrations
  mutable std::mutex mu_;
  std::chrono::milliseconds startup_grace_;  // GUARDED_BY(mu_)
  std::map<int32_t, ServerState> servers_;   // GUARDED_BY(mu_)
  std::set<int32_t> awaited_;                // GUARDED_BY(mu_): see Load
  std::mt19937_64 rng_;                      // GUARDED_BY(mu_)
};

}  // namespace ddbfs::meta
