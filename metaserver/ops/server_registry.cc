#include "metaserver/ops/server_registry.h"

#include <algorithm>

#include "ddbfs/constants.h"
#include "metaserver/ops/placement.h"

namespace ddbfs::meta {

using Clock = std::chrono::steady_clock;

ServerRegistry::ServerRegistry(std::chrono::milliseconds heartbeat_timeout,
                               std::chrono::milliseconds flush_interval)
    : timeout_(heartbeat_timeout), flush_interval_(flush_interval), rng_(std::random_device()()) {}

int ServerRegistry::heartbeat_interval_ms() const {
  return std::max<int>(200, static_cast<int>(timeout_.count() / 4));
}

void ServerRegistry::Load(const std::vector<store::ServerRecord>& records) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& r : records) {
    ServerState& s = servers_[r.id];
    if (s.registered) continue;
    s.record = r;
  }
}

void ServerRegistry::Registered(const store::ServerRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  ServerState& s = servers_[record.id];
  auto now = Clock::now();
  s.record = record;
  s.record.last_heartbeat_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  s.registered = true;
  s.last_heartbeat = now;
  s.last_flush = now;
  s.placed_since_heartbeat = 0;
}

ServerRegistry::HeartbeatOutcome ServerRegistry::Heartbeat(int32_t id, int64_t capacity_bytes,
                                                           int64_t used_bytes,
                                                           int64_t chunk_count) {
  std::lock_guard<std::mutex> lock(mu_);
  HeartbeatOutcome out;
  auto it = servers_.find(id);
  if (it == servers_.end() || !it->second.registered) return out;
  ServerState& s = it->second;
  auto now = Clock::now();
  out.known = true;
  s.record.capacity_bytes = capacity_bytes;
  s.record.used_bytes = used_bytes;
  s.record.chunk_count = chunk_count;
  s.record.last_heartbeat_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
  s.last_heartbeat = now;
  s.placed_since_heartbeat = 0;
  out.flush_due = now - s.last_flush >= flush_interval_;
  return out;
}

void ServerRegistry::Flushed(int32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(id);
  if (it != servers_.end()) it->second.last_flush = Clock::now();
}

bool ServerRegistry::AliveLocked(const ServerState& s, Clock::time_point now) const {
  return s.registered && now - s.last_heartbeat < timeout_;
}

ServerState ServerRegistry::ViewLocked(const ServerState& s, Clock::time_point now) const {
  ServerState v = s;
  v.alive = AliveLocked(s, now);
  if (s.registered) {
    v.last_heartbeat_ms_ago =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last_heartbeat).count();
  } else if (s.record.last_heartbeat_unix_ms) {
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    v.last_heartbeat_ms_ago = std::max<int64_t>(0, now_ms - *s.record.last_heartbeat_unix_ms);
  }
  return v;
}

bool ServerRegistry::IsAlive(int32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(id);
  return it != servers_.end() && AliveLocked(it->second, Clock::now());
}

std::optional<ServerState> ServerRegistry::Get(int32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(id);
  if (it == servers_.end()) return std::nullopt;
  return ViewLocked(it->second, Clock::now());
}

std::vector<ServerState> ServerRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  std::vector<ServerState> out;
  out.reserve(servers_.size());
  for (const auto& [id, s] : servers_) out.push_back(ViewLocked(s, now));
  return out;
}

std::vector<int32_t> ServerRegistry::AliveIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  std::vector<int32_t> out;
  for (const auto& [id, s] : servers_) {
    if (AliveLocked(s, now)) out.push_back(id);
  }
  return out;
}

std::vector<int32_t> ServerRegistry::ChooseServers(int count, const std::set<int32_t>& exclude) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  constexpr auto kChunk = static_cast<int64_t>(kChunkSize);
  std::vector<PlacementCandidate> candidates;
  for (const auto& [id, s] : servers_) {
    if (!AliveLocked(s, now) || exclude.count(id)) continue;
    int64_t free = s.record.capacity_bytes - s.record.used_bytes;
    if (free < kChunk) continue;
    candidates.push_back({id, s.record.label, free - s.placed_since_heartbeat * kChunk});
  }
  std::vector<int32_t> chosen = ChoosePlacement(std::move(candidates), count, rng_);
  for (int32_t id : chosen) ++servers_[id].placed_since_heartbeat;
  return chosen;
}

}  // namespace ddbfs::meta
