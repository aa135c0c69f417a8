#include "metaserver/ops/server_registry.h"

#include <algorithm>

#include "ddbfs/auth.h"
#include "ddbfs/constants.h"
#include "metaserver/ops/placement.h"

namespace ddbfs::meta {

using Clock = std::chrono::steady_clock;

ServerRegistry::ServerRegistry(std::chrono::milliseconds heartbeat_timeout,
                               std::chrono::milliseconds flush_interval)
    : timeout_(heartbeat_timeout),
      flush_interval_(flush_interval),
      started_(Clock::now()),
      startup_grace_(
          std::min<std::chrono::milliseconds>(2 * heartbeat_timeout, std::chrono::seconds(60))),
      rng_(std::random_device()()) {}

void ServerRegistry::set_startup_grace(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mu_);
  startup_grace_ = grace;
}

std::chrono::milliseconds ServerRegistry::startup_grace() const {
  std::lock_guard<std::mutex> lock(mu_);
  return startup_grace_;
}

int ServerRegistry::heartbeat_interval_ms() const {
  return std::max<int>(200, static_cast<int>(timeout_.count() / 4));
}

void ServerRegistry::Load(const std::vector<store::ServerRecord>& records) {
  std::lock_guard<std::mutex> lock(mu_);
  // The database's last_heartbeat lags by at most the flush interval (plus
  // a heartbeat interval); a server that died up to a timeout before the
  // newest heartbeat was alive, as far as anyone can tell, when the
  // previous metaserver stopped.
  int64_t newest = 0;
  for (const auto& r : records) newest = std::max(newest, r.last_heartbeat_unix_ms.value_or(0));
  const int64_t window = (flush_interval_ + 2 * timeout_).count();
  for (const auto& r : records) {
    ServerState& s = servers_[r.id];
    if (s.registered) continue;
    s.record = r;
    if (r.last_heartbeat_unix_ms && *r.last_heartbeat_unix_ms >= newest - window) {
      awaited_.insert(r.id);
    }
  }
}

Status ServerRegistry::PlacementReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (awaited_.empty()) return Status();
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
  if (waited >= startup_grace_) return Status();
  return Status(ErrorCode::kUnavailable,
                "waiting for " + std::to_string(awaited_.size()) +
                    " chunk servers to re-register after the metaserver started (at most " +
                    std::to_string((startup_grace_ - waited).count()) + " ms more)");
}

std::unique_lock<std::mutex> ServerRegistry::LockRegistrations() {
  return std::unique_lock<std::mutex>(registration_mu_);
}

Status ServerRegistry::CheckClaim(const std::string& uuid, const std::string& host,
                                  int32_t port) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  for (const auto& [id, s] : servers_) {
    if (s.record.uuid != uuid || !AliveLocked(s, now)) continue;
    if (s.record.host == host && s.record.port == port) return Status();
    auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last_heartbeat);
    return Status(ErrorCode::kPermissionDenied,
                  "chunk server uuid " + uuid + " (server " + std::to_string(id) +
                      ") is alive at " + s.record.host + ":" + std::to_string(s.record.port) +
                      " (heartbeat " + std::to_string(ago.count()) + " ms ago); refusing " + host +
                      ":" + std::to_string(port) +
                      " claiming the same uuid: two servers must not share a data folder "
                      "(a copied folder or a wrong --data?). A server that moved is accepted "
                      "once the old address has been silent for " +
                      std::to_string(timeout_.count()) + " ms");
  }
  return Status();
}

int64_t ServerRegistry::Registered(const store::ServerRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  ServerState& s = servers_[record.id];
  auto now = Clock::now();
  const bool draining = s.record.draining;  // the database's, not the server's
  s.record = record;
  s.record.draining = draining;
  s.record.last_heartbeat_unix_ms = UnixNowMs();
  s.registered = true;
  s.last_heartbeat = now;
  s.last_flush = now;
  s.placed_since_heartbeat = 0;
  int64_t session = 0;
  while (session <= 0 || session == s.session) {
    session = static_cast<int64_t>(rng_() >> 1);
  }
  s.session = session;
  s.inventory_cursor = 0;
  s.inventory_complete = false;
  s.page_in_flight = false;
  s.inventory_entries = 0;
  awaited_.erase(record.id);
  return session;
}

Result<int64_t> ServerRegistry::BeginInventoryPage(int32_t id, int64_t session,
                                                   int64_t first_chunk_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(id);
  if (it == servers_.end() || !it->second.registered || it->second.session != session ||
      it->second.inventory_complete) {
    return Status(ErrorCode::kNotFound,
                  "server " + std::to_string(id) + " has no open registration session " +
                      std::to_string(session) +
                      " (the metaserver restarted, the server registered again, or the "
                      "inventory was complete): register again");
  }
  ServerState& s = it->second;
  if (s.page_in_flight) {
    return Status(ErrorCode::kBusy, "an inventory page of server " + std::to_string(id) +
                                        " is being reconciled: send pages one at a time");
  }
  if (first_chunk_id != 0 && first_chunk_id <= s.inventory_cursor) {
    return Status(ErrorCode::kInvalidArgument,
                  "inventory page starts at chunk " + std::to_string(first_chunk_id) +
                      " but the previous page ended at " + std::to_string(s.inventory_cursor) +
                      ": pages must be sorted by chunk id");
  }
  s.page_in_flight = true;
  s.last_heartbeat = Clock::now();
  return s.inventory_cursor;
}

void ServerRegistry::EndInventoryPage(int32_t id, int64_t session, bool ok, int64_t upto, bool last,
                                      int64_t entries) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(id);
  if (it == servers_.end() || it->second.session != session) return;
  ServerState& s = it->second;
  s.page_in_flight = false;
  s.last_heartbeat = Clock::now();
  if (!ok) return;
  s.inventory_cursor = upto;
  s.inventory_entries += entries;
  if (last) s.inventory_complete = true;
}

ServerRegistry::HeartbeatOutcome ServerRegistry::Heartbeat(int32_t id, int64_t capacity_bytes,
                                                           int64_t used_bytes, int64_t chunk_count,
                                                           int64_t session) {
  std::lock_guard<std::mutex> lock(mu_);
  HeartbeatOutcome out;
  auto it = servers_.find(id);
  if (it == servers_.end() || !it->second.registered) return out;
  if (session != 0 && session != it->second.session) return out;
  ServerState& s = it->second;
  auto now = Clock::now();
  out.known = true;
  s.record.capacity_bytes = capacity_bytes;
  s.record.used_bytes = used_bytes;
  s.record.chunk_count = chunk_count;
  s.record.last_heartbeat_unix_ms = UnixNowMs();
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
    v.last_heartbeat_ms_ago = std::max<int64_t>(0, UnixNowMs() - *s.record.last_heartbeat_unix_ms);
  }
  return v;
}

void ServerRegistry::SetDraining(int32_t id, bool draining) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(id);
  if (it != servers_.end()) it->second.record.draining = draining;
}

void ServerRegistry::Forget(int32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  servers_.erase(id);
  awaited_.erase(id);
}

void ServerRegistry::ForgiveSilenceSince(std::chrono::steady_clock::time_point since) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  for (auto& [id, s] : servers_) {
    if (AliveLocked(s, since)) s.last_heartbeat = std::max(s.last_heartbeat, now);
  }
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

std::vector<int32_t> ServerRegistry::ChooseServers(int count, const std::set<int32_t>& exclude,
                                                   const std::set<int32_t>& avoid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  std::set<std::string> taken_labels, taken_racks;
  for (int32_t id : avoid) {
    auto it = servers_.find(id);
    if (it == servers_.end()) continue;
    taken_labels.insert(it->second.record.label);
    taken_racks.insert(PlacementRackKey(it->second.record.label, it->second.record.rack));
  }
  constexpr auto kChunk = static_cast<int64_t>(kChunkSize);
  std::vector<PlacementCandidate> candidates;
  for (const auto& [id, s] : servers_) {
    if (!AliveLocked(s, now) || s.record.draining || exclude.count(id)) continue;
    int64_t free = s.record.capacity_bytes - s.record.used_bytes;
    if (free < kChunk) continue;
    candidates.push_back(
        {id, s.record.label, free - s.placed_since_heartbeat * kChunk, s.record.rack});
  }
  std::vector<int32_t> chosen =
      ChoosePlacement(std::move(candidates), count, rng_, taken_labels, taken_racks);
  for (int32_t id : chosen) ++servers_[id].placed_since_heartbeat;
  return chosen;
}

}  // namespace ddbfs::meta
