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
};

// Chunk-server liveness, kept IN MEMORY: heartbeats do not write the database
// (their figures are flushed at most every `flush_interval`). A server is
// alive while its last heartbeat (or registration) is younger than the
// heartbeat timeout.
//
// Thread-safe.
class ServerRegistry {
 public:
  explicit ServerRegistry(std::chrono::milliseconds heartbeat_timeout,
                          std::chrono::milliseconds flush_interval = std::chrono::seconds(10));

  std::chrono::milliseconds heartbeat_timeout() const { return timeout_; }
  // What chunk servers are told: a quarter of the timeout, at least 200 ms.
  int heartbeat_interval_ms() const;

  // Servers from the database at start: known, not registered, not alive.
  void Load(const std::vector<store::ServerRecord>& records);
  // A registration was committed: the server is alive as of now.
  void Registered(const store::ServerRecord& record);

  struct HeartbeatOutcome {
    bool known = false;      // false: the server must register again
    bool flush_due = false;  // write its figures to the database now
  };
  HeartbeatOutcome Heartbeat(int32_t id, int64_t capacity_bytes, int64_t used_bytes,
                             int64_t chunk_count);
  // Its figures were written to the database.
  void Flushed(int32_t id);

  bool IsAlive(int32_t id) const;
  std::optional<ServerState> Get(int32_t id) const;
  std::vector<ServerState> Snapshot() const;
  std::vector<int32_t> AliveIds() const;

  // Placement of a new chunk's replicas: alive servers with at least one
  // chunk of free space, not in `exclude` (see ChoosePlacement). Counts the
  // chosen ones as a chunk fuller until their next heartbeat, so that chunks
  // placed between two heartbeats spread out.
  std::vector<int32_t> ChooseServers(int count, const std::set<int32_t>& exclude);

 private:
  // REQUIRES: mu_ held.
  bool AliveLocked(const ServerState& s, std::chrono::steady_clock::time_point now) const;
  ServerState ViewLocked(const ServerState& s, std::chrono::steady_clock::time_point now) const;

  const std::chrono::milliseconds timeout_;
  const std::chrono::milliseconds flush_interval_;
  mutable std::mutex mu_;
  std::map<int32_t, ServerState> servers_;  // GUARDED_BY(mu_)
  std::mt19937_64 rng_;                     // GUARDED_BY(mu_)
};

}  // namespace ddbfs::meta
