#include "metaserver/ops/repairer.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/placement.h"
#include "metaserver/ops/rebalance.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/store/goal_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/repair_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

using Clock = std::chrono::steady_clock;

// The window of RepairStats::bytes_per_s.
constexpr auto kRateWindow = std::chrono::seconds(10);
// A chunk server paces a copy no slower than this (chunkserver's
// kMinCopyBytesPerS); bounds the copy's RPC timeout.
constexpr int64_t kSlowestCopy = 64 << 10;

int64_t PerCopyRate(const RepairOptions& o) {
  if (o.bytes_per_s <= 0) return 0;
  return std::max<int64_t>(o.bytes_per_s / std::max(1, o.max_copies), kSlowestCopy);
}

// Long enough for a whole chunk at the paced rate, twice over, plus a minute.
int CopyTimeoutMs(const RepairOptions& o) {
  const int64_t rate = PerCopyRate(o);
  int64_t ms = 60000;
  if (rate > 0) ms += 2 * static_cast<int64_t>(kChunkSize) * 1000 / rate;
  return static_cast<int>(std::min<int64_t>(ms, 24ll * 3600 * 1000));
}

// Rebalancing: servers tried as the source in one pass, the most used first.
constexpr size_t kRebalanceSources = 3;

// The servers that rebalancing moves between: alive, inventory reconciled,
// not being drained, with a capacity; used_bytes as they last reported.
std::vector<BalanceServer> BalanceServers(const std::vector<ServerState>& states) {
  std::vector<BalanceServer> out;
  for (const ServerState& st : states) {
    if (!st.alive || !st.inventory_complete || st.record.draining) continue;
    if (st.record.capacity_bytes <= 0) continue;
    BalanceServer b;
    b.id = st.record.id;
    b.host = st.record.label;
    b.rack = PlacementRackKey(st.record.label, st.record.rack);
    b.capacity_bytes = st.record.capacity_bytes;
    b.used_bytes = st.record.used_bytes;
    out.push_back(std::move(b));
  }
  return out;
}

// Bytes of the entries of the last kRateWindow, per second; drops older ones.
int64_t RateOf(const std::deque<std::pair<Clock::time_point, int64_t>>& recent) {
  const auto since = Clock::now() - kRateWindow;
  int64_t bytes = 0;
  for (const auto& [when, n] : recent) {
    if (when >= since) bytes += n;
  }
  return bytes / std::chrono::duration_cast<std::chrono::seconds>(kRateWindow).count();
}

void Remember(std::deque<std::pair<Clock::time_point, int64_t>>* recent, int64_t bytes) {
  const auto now = Clock::now();
  recent->emplace_back(now, bytes);
  while (!recent->empty() && recent->front().first < now - kRateWindow) recent->pop_front();
}

}  // namespace

void MarkRepairDirty(OpContext& ctx) {
  if (ctx.repairer) ctx.repairer->MarkDirty();
}

void MarkRepairTagsChanged(OpContext& ctx) {
  if (ctx.repairer) ctx.repairer->MarkTagsChanged();
}

Repairer::Repairer(OpContext& ctx, RepairOptions options)
    : ctx_(ctx), options_(options), copy_timeout_ms_(CopyTimeoutMs(options)) {
  stats_.enabled = options_.interval_ms > 0;
}

Repairer::~Repairer() { Stop(); }

void Repairer::Start() {
  if (options_.interval_ms <= 0) return;
  for (int i = 0; i < std::max(1, options_.max_copies); ++i) {
    workers_.emplace_back([this] { Worker(); });
  }
  thread_ = std::thread([this] { Loop(); });
}

void Repairer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (std::thread& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void Repairer::Kick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

void Repairer::MarkDirty() {
  std::lock_guard<std::mutex> lock(mu_);
  dirty_ = true;
}

void Repairer::MarkTagsChanged() {
  if (rules_.load()) MarkDirty();
}

bool Repairer::TakeDirty() {
  std::lock_guard<std::mutex> lock(mu_);
  const bool was = dirty_;
  dirty_ = false;
  return was;
}

std::string Repairer::ServerSignature() const {
  std::string out;
  for (const ServerState& s : ctx_.servers.Snapshot()) {
    out += std::to_string(s.record.id) + (s.alive ? "a" : "d") +
           (s.inventory_complete ? "c" : "i") + (s.record.draining ? "D" : "-") +
           std::to_string(s.session) + ",";
  }
  return out;
}

bool Repairer::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

RepairStats Repairer::stats() const {
  const double gap = UsageGapPct(BalanceServers(ctx_.servers.Snapshot()));
  std::lock_guard<std::mutex> lock(mu_);
  RepairStats out = stats_;
  out.in_flight = in_flight_;
  out.bytes_per_s = RateOf(recent_);
  out.rebalance_margin_pct = stats_.enabled ? options_.rebalance_margin_pct : 0;
  out.rebalance_gap_pct = gap;
  out.rebalance_in_flight = 0;
  for (const auto& [id, m] : moves_) out.rebalance_in_flight += m.recorded ? 0 : 1;
  out.rebalance_bytes_per_s = RateOf(recent_moves_);
  return out;
}

Repairer::ChunkPool& Repairer::Pool(const std::string& host, int port) {
  const std::string key = host + ":" + std::to_string(port);
  std::lock_guard<std::mutex> lock(pools_mu_);
  auto& pool = pools_[key];
  if (!pool) {
    pool = std::make_unique<ChunkPool>(host, port, copy_timeout_ms_,
                                       static_cast<size_t>(std::max(1, options_.max_copies)),
                                       ctx_.peers);
  }
  return *pool;
}

void Repairer::Loop() {
  std::string servers;
  auto last_scan = Clock::now();
  while (true) {
    bool scan = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                   [this] { return stopping_ || kicked_; });
      if (stopping_) return;
      scan = kicked_ || dirty_ || pending_;
      kicked_ = false;
      dirty_ = false;
    }
    // Nothing changed since a pass that found nothing: skip the scans,
    // but not for longer than idle_scan_ms.
    std::string now_servers = ServerSignature();
    if (now_servers != servers) scan = true;
    if (options_.idle_scan_ms <= 0 ||
        Clock::now() - last_scan >= std::chrono::milliseconds(options_.idle_scan_ms)) {
      scan = true;
    }
    if (!scan) continue;
    servers = std::move(now_servers);
    last_scan = Clock::now();
    // More to do right away while passes find work; else wait.
    while (Pass() > 0 && !stopping()) {
    }
  }
}

void Repairer::Worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Copy copy = queue_.front();
    queue_.pop_front();
    ++in_flight_;
    lock.unlock();
    bool discarded = false;
    Status s = Run(copy, &discarded);
    lock.lock();
    --in_flight_;
    busy_.erase(copy.chunk_id);
    // The chunk may need another copy, or this one again.
    dirty_ = true;
    if (copy.rebalance) {
      // Recorded: its source's replica goes with the next trim. Else the
      // move is forgotten (planned again from the new figures).
      auto m = moves_.find(copy.chunk_id);
      if (m != moves_.end() && s.ok()) {
        m->second.recorded = true;
      } else if (m != moves_.end()) {
        moves_.erase(m);
      }
    }
    if (s.ok() && copy.rebalance) {
      ++stats_.rebalanced;
      stats_.bytes_rebalanced += copy.length;
      Remember(&recent_moves_, copy.length);
    } else if (s.ok()) {
      ++stats_.copied;
      stats_.bytes_copied += copy.length;
      Remember(&recent_, copy.length);
    } else if (s.code() == ErrorCode::kStaleVersion && discarded) {
      ++stats_.discarded;
    } else {
      ++stats_.failed;
      // Not planned again before the next interval (no tight loop of
      // failures against a refusing server).
      failed_at_[copy.chunk_id] = Clock::now();
    }
    cv_.notify_all();
  }
}

int Repairer::Pass() {
  std::lock_guard<std::mutex> serial(pass_mu_);
  // After a start, the servers known from the database must register again
  // first: until then their replicas look lost (and then over goal).
  if (!ctx_.servers.PlacementReady().ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
    return 0;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.scans;
  }
  // Before the scans: a tag change committed after this look marks the
  // repair itself if a rule exists; one committed before it is in the scans.
  bool rules = true;
  const Status looked = ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(rules, store::AnyGoalRule(tx));
    return Status();
  });
  rules_ = rules || !looked.ok();
  bool found = false;
  const int64_t trimmed = Trim(&found);
  std::vector<int64_t> skip;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Copies not started yet are planned again below, in the new order.
    for (const Copy& c : queue_) {
      busy_.erase(c.chunk_id);
      if (c.rebalance) moves_.erase(c.chunk_id);
    }
    queue_.clear();
    const auto recent = Clock::now() - std::chrono::milliseconds(options_.interval_ms);
    for (auto it = failed_at_.begin(); it != failed_at_.end();) {
      it = it->second < recent ? failed_at_.erase(it) : std::next(it);
    }
    skip.assign(busy_.begin(), busy_.end());
    for (const auto& [id, when] : failed_at_) skip.push_back(id);
  }
  // Replicas on servers being drained do not count toward the goal, but
  // may be copied from.
  std::vector<int32_t> counted, readable;
  for (const ServerState& st : ctx_.servers.Snapshot()) {
    if (!st.alive) continue;
    readable.push_back(st.record.id);
    if (!st.record.draining) counted.push_back(st.record.id);
  }
  std::vector<store::UnderGoalChunk> under;
  Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(under, store::UnderGoalChunks(tx, counted, readable, skip, options_.batch));
    return Status();
  });
  if (!s.ok()) {
    LOG(kWarn) << "repair: cannot list the chunks under goal: " << s;
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
    return 0;
  }
  {
    // Chunks listed (copied now or not placeable yet), trimmed, or left
    // out (a copy in flight, or one that failed lately): look again next
    // interval. Nothing: idle until something changes.
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = found || trimmed > 0 || !under.empty() || !skip.empty();
  }
  int queued = 0;
  int unplaced = 0;
  for (const store::UnderGoalChunk& c : under) {
    std::optional<Copy> copy = Plan(c);
    if (!copy) {
      ++unplaced;
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (busy_.count(c.id)) continue;
    busy_.insert(c.id);
    queue_.push_back(*copy);
    ++queued;
  }
  if (queued > 0) cv_.notify_all();
  if (!under.empty()) {
    LOG(kDebug) << "repair: " << under.size() << " chunk(s) under goal listed, " << queued
                << " copies queued, " << unplaced << " without a usable source or target";
  }
  // Chunks at goal but badly spread, when the chunks under goal leave room.
  if (static_cast<int>(under.size()) < options_.batch) {
    const int spread = QueueMisplaced(options_.batch - static_cast<int>(under.size()));
    if (spread > 0) {
      queued += spread;
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
      cv_.notify_all();
    }
  }
  // Rebalancing: only when the repair has nothing else in this pass.
  if (options_.rebalance_margin_pct > 0 && under.empty() && queued == 0) {
    const int moves = QueueRebalance();
    if (moves > 0) {
      queued += moves;
      cv_.notify_all();
    }
  }
  // Plan again (in a fresh order: a chunk that just lost another replica
  // goes first) once a worker is free and the queue runs short.
  const size_t copies = static_cast<size_t>(std::max(1, options_.max_copies));
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] {
    return stopping_ || workers_.empty() ||
           (queue_.size() < copies && in_flight_ < static_cast<int>(copies));
  });
  return queued;
}

std::optional<Repairer::Copy> Repairer::Plan(const store::UnderGoalChunk& c) {
  std::vector<int32_t> sources;
  for (int32_t id : c.live) {
    if (ctx_.servers.IsAlive(id)) sources.push_back(id);
  }
  if (sources.empty()) return std::nullopt;
  std::set<int32_t> exclude(c.holders.begin(), c.holders.end());
  // The labels of the replicas that stay: a drained one is going away.
  std::set<int32_t> avoid;
  for (int32_t id : sources) {
    std::optional<ServerState> st = ctx_.servers.Get(id);
    if (st && !st->record.draining) avoid.insert(id);
  }
  std::vector<int32_t> target = ctx_.servers.ChooseServers(1, exclude, avoid);
  if (target.empty()) return std::nullopt;
  Copy copy;
  copy.chunk_id = c.id;
  copy.version = c.version;
  copy.length = c.length;
  // Spread reads over the live replicas.
  copy.source = sources[static_cast<size_t>(c.id) % sources.size()];
  copy.target = target.front();
  return copy;
}

int Repairer::QueueMisplaced(int limit) {
  // Host and rack groups of the servers whose replicas count, and those
  // with a server that could take a copy (as ChooseServers would).
  store::PlacementGroups groups;
  std::map<std::string, int32_t> host_ids, rack_ids;
  std::set<int32_t> room_hosts, room_racks;
  auto id_of = [](std::map<std::string, int32_t>& ids, const std::string& key) {
    return ids.emplace(key, static_cast<int32_t>(ids.size())).first->second;
  };
  for (const ServerState& st : ctx_.servers.Snapshot()) {
    if (!st.alive || st.record.draining) continue;
    const int32_t host = id_of(host_ids, st.record.label);
    const int32_t rack = id_of(rack_ids, PlacementRackKey(st.record.label, st.record.rack));
    groups.ids.push_back(st.record.id);
    groups.hosts.push_back(host);
    groups.racks.push_back(rack);
    if (st.record.capacity_bytes - st.record.used_bytes >= static_cast<int64_t>(kChunkSize)) {
      room_hosts.insert(host);
      room_racks.insert(rack);
    }
  }
  // Every server on a host and a rack of its own: nothing can be misplaced,
  // and the scan is saved.
  if (host_ids.size() == groups.ids.size() && rack_ids.size() == groups.ids.size()) return 0;
  if (room_hosts.empty()) return 0;
  groups.room_hosts.assign(room_hosts.begin(), room_hosts.end());
  groups.room_racks.assign(room_racks.begin(), room_racks.end());
  std::vector<int64_t> skip;
  {
    std::lock_guard<std::mutex> lock(mu_);
    skip.assign(busy_.begin(), busy_.end());
    for (const auto& [id, when] : failed_at_) skip.push_back(id);
  }
  std::vector<store::MisplacedChunk> misplaced;
  Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(misplaced, store::MisplacedChunks(tx, groups, skip, limit));
    return Status();
  });
  if (!s.ok()) {
    LOG(kWarn) << "repair: cannot list the chunks to spread over hosts and racks: " << s;
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
    return 0;
  }
  int queued = 0;
  for (const store::MisplacedChunk& c : misplaced) {
    std::optional<Copy> copy = PlanSpread(c);
    if (!copy) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (busy_.count(c.id)) continue;
    busy_.insert(c.id);
    queue_.push_back(*copy);
    ++stats_.spread;
    ++queued;
  }
  if (!misplaced.empty()) {
    LOG(kDebug) << "repair: " << misplaced.size()
                << " chunk(s) at goal with replicas sharing a host or rack, " << queued
                << " copies queued to spread them";
  }
  return queued;
}

namespace {

// (distinct host labels, distinct racks) of some servers: the bigger, the
// better spread (hosts first).
std::pair<size_t, size_t> SpreadOf(const std::vector<ServerState>& servers) {
  std::set<std::string> hosts, racks;
  for (const ServerState& s : servers) {
    hosts.insert(s.record.label);
    racks.insert(PlacementRackKey(s.record.label, s.record.rack));
  }
  return {hosts.size(), racks.size()};
}

}  // namespace

std::optional<Repairer::Copy> Repairer::PlanSpread(const store::MisplacedChunk& c) {
  std::vector<ServerState> live;
  std::vector<int32_t> sources;
  for (int32_t id : c.live) {
    std::optional<ServerState> st = ctx_.servers.Get(id);
    if (!st || !st->alive) continue;
    sources.push_back(id);
    live.push_back(std::move(*st));
  }
  if (sources.empty()) return std::nullopt;
  std::set<int32_t> exclude(c.holders.begin(), c.holders.end());
  std::set<int32_t> avoid(sources.begin(), sources.end());
  std::vector<int32_t> target = ctx_.servers.ChooseServers(1, exclude, avoid);
  if (target.empty()) return std::nullopt;
  std::optional<ServerState> t = ctx_.servers.Get(target.front());
  if (!t) return std::nullopt;
  // Only a copy that the trim will keep and that spreads the chunk better
  // than now, judged the way Trim() chooses (least used first): so a
  // copy is never made only to be trimmed again (labels that disagree,
  // one host in two racks, could otherwise make a cycle).
  std::vector<ServerState> after = live;
  after.push_back(*t);
  auto usage_of = [](const ServerState& s) {
    BalanceServer b;
    b.capacity_bytes = s.record.capacity_bytes;
    b.used_bytes = s.record.used_bytes;
    return UsageOf(b);
  };
  std::sort(after.begin(), after.end(), [&](const ServerState& a, const ServerState& b) {
    return std::make_pair(usage_of(a), a.record.id) < std::make_pair(usage_of(b), b.record.id);
  });
  std::vector<std::pair<std::string, std::string>> where;
  for (const ServerState& s : after) {
    where.emplace_back(s.record.label, PlacementRackKey(s.record.label, s.record.rack));
  }
  std::vector<ServerState> kept;
  bool target_kept = false;
  for (size_t i : ChooseKept(where, static_cast<int>(live.size()))) {
    target_kept = target_kept || after[i].record.id == t->record.id;
    kept.push_back(after[i]);
  }
  if (!target_kept || SpreadOf(kept) <= SpreadOf(live)) return std::nullopt;
  Copy copy;
  copy.chunk_id = c.id;
  copy.version = c.version;
  copy.length = c.length;
  copy.source = sources[static_cast<size_t>(c.id) % sources.size()];
  copy.target = target.front();
  return copy;
}

int Repairer::QueueRebalance() {
  std::vector<BalanceServer> servers = BalanceServers(ctx_.servers.Snapshot());
  int slots = 0;
  std::vector<int64_t> skip;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Moves under way keep the passes coming (the idle-scan skip must not
    // stop a rebalance in progress).
    if (!moves_.empty()) pending_ = true;
    slots = std::max(1, options_.max_copies) - static_cast<int>(queue_.size()) - in_flight_;
    skip.assign(busy_.begin(), busy_.end());
    for (const auto& [id, when] : failed_at_) skip.push_back(id);
    for (const auto& [id, m] : moves_) skip.push_back(id);
  }
  // The servers' own reports decide whether to look at all (cheap).
  if (slots <= 0 || servers.size() < 2 || UsageGapPct(servers) <= options_.rebalance_margin_pct) {
    return 0;
  }
  // The chunk map's figures (exact as of now, unlike the reports, which lag
  // a heartbeat or two behind copies and deletions), with the moves under
  // way projected: so that the passes do not overshoot.
  std::vector<int32_t> ids;
  for (const BalanceServer& b : servers) ids.push_back(b.id);
  std::vector<std::pair<int32_t, int64_t>> bytes;
  Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(bytes, store::ServerReplicaBytes(tx, ids));
    return Status();
  });
  if (!s.ok()) {
    LOG(kWarn) << "rebalance: cannot sum the servers' replicas: " << s;
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
    return 0;
  }
  std::map<int32_t, int64_t> used;
  for (const auto& [id, n] : bytes) used[id] = n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, m] : moves_) {
      if (!m.recorded) used[m.target] += m.length;  // not in the chunk map yet
      used[m.source] -= m.length;                   // its row goes with the next trim
    }
  }
  for (BalanceServer& b : servers) b.used_bytes = std::max<int64_t>(0, used[b.id]);
  if (UsageGapPct(servers) <= options_.rebalance_margin_pct) return 0;
  // From the most used server (ties: the lowest id); when none of its
  // chunks can move (host or rack spread, holders, sizes), from the next
  // ones while they are above the least used by more than the margin.
  std::vector<const BalanceServer*> order;
  for (const BalanceServer& b : servers) order.push_back(&b);
  std::sort(order.begin(), order.end(), [](const BalanceServer* a, const BalanceServer* b) {
    return std::make_pair(-UsageOf(*a), a->id) < std::make_pair(-UsageOf(*b), b->id);
  });
  const double gap = UsageGapPct(servers);
  std::vector<BalanceMove> plan;
  size_t listed = 0;
  int32_t source = 0;
  for (size_t i = 0; i < order.size() && i < kRebalanceSources && plan.empty(); ++i) {
    if ((UsageOf(*order[i]) - UsageOf(*order.back())) * 100.0 <= options_.rebalance_margin_pct) {
      break;
    }
    source = order[i]->id;
    std::vector<store::MisplacedChunk> found;
    s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(found, store::RebalanceChunks(tx, source, ids, skip, options_.batch));
      return Status();
    });
    if (!s.ok()) {
      LOG(kWarn) << "rebalance: cannot list the chunks of server " << source << ": " << s;
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
      return 0;
    }
    listed += found.size();
    std::vector<BalanceChunk> chunks;
    for (const store::MisplacedChunk& c : found) {
      chunks.push_back(BalanceChunk{c.id, c.version, c.length, c.live, c.holders});
    }
    plan = PlanRebalance(servers, chunks, source, options_.rebalance_margin_pct, slots,
                         /*fallback=*/i > 0);
  }
  int queued = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const BalanceMove& m : plan) {
      if (busy_.count(m.chunk_id)) continue;
      busy_.insert(m.chunk_id);
      Copy copy;
      copy.chunk_id = m.chunk_id;
      copy.version = m.version;
      copy.length = m.length;
      copy.source = m.source;
      copy.target = m.target;
      copy.rebalance = true;
      queue_.push_back(copy);
      moves_[m.chunk_id] = Move{m.source, m.target, m.length, false};
      ++queued;
    }
    if (queued > 0) pending_ = true;
  }
  LOG(kDebug) << "rebalance: usage gap " << gap << " points (margin "
              << options_.rebalance_margin_pct << "), from server " << source << ", " << listed
              << " chunk(s) listed, " << queued << " move(s) queued";
  return queued;
}

Status Repairer::Run(const Copy& copy, bool* discarded) {
  const std::string what =
      "chunk " + std::to_string(copy.chunk_id) + " version " + std::to_string(copy.version) +
      " from server " + std::to_string(copy.source) + " to server " + std::to_string(copy.target);
  if (!ctx_.servers.IsAlive(copy.source) || !ctx_.servers.IsAlive(copy.target)) {
    LOG(kInfo) << "repair: " << what << " not started: a server is no longer alive";
    return Unavailable("server no longer alive");
  }
  const ServerAddr source = ServerAddressOf(ctx_.servers, copy.source);
  const ServerAddr target = ServerAddressOf(ctx_.servers, copy.target);
  rpc::ReplicateChunkRequest req;
  req.chunk_id = copy.chunk_id;
  req.version = copy.version;
  req.source.server_id = source.server_id;
  req.source.host = source.host;
  req.source.port = source.port;
  if (const int64_t rate = PerCopyRate(options_); rate > 0) req.__set_max_bytes_per_s(rate);
  rpc::ReplicateChunkResponse resp;
  // Not retried: a copy that reached the target may still be running there.
  Status call = Pool(target.host, target.port)
                    .Call([&](rpc::ChunkServiceClient& cs) { cs.ReplicateChunk(resp, req); },
                          /*retry=*/false);
  Status s = call.ok() ? FromRpc(resp.status) : call;
  if (!s.ok()) {
    LOG(kInfo) << "repair: copy of " << what << " failed (tried again later): " << s;
    if (!call.ok()) {
      // The target may have finished a copy nobody will record: delete it.
      Status q = ctx_.writer.Run([&](store::Tx& tx) -> Status {
        return store::QueueUnrecordedCopy(tx, copy.chunk_id, copy.target);
      });
      if (!q.ok()) {
        LOG(kWarn) << "repair: cannot queue the deletion of " << what << ": " << q;
      }
    }
    return s;
  }
  bool recorded = false;
  const bool target_alive = ctx_.servers.IsAlive(copy.target);
  Status r = ctx_.writer.Run([&](store::Tx& tx) -> Status {
    recorded = false;
    if (target_alive) {
      ASSIGN_OR_RETURN(recorded,
                       store::RecordRepairedReplica(tx, copy.chunk_id, copy.target, copy.version));
    }
    if (recorded) return Status();
    return store::QueueUnrecordedCopy(tx, copy.chunk_id, copy.target);
  });
  if (!r.ok()) {
    LOG(kWarn) << "repair: cannot record the copy of " << what << ": " << r;
    return r;
  }
  if (!recorded) {
    LOG(kInfo) << "repair: copy of " << what
               << " not recorded: the chunk changed, is being written, or the target died "
                  "during the copy (the copy is deleted)";
    *discarded = true;
    return Status(ErrorCode::kStaleVersion, "copy discarded");
  }
  LOG(kInfo) << "repair: copied " << what << " (" << resp.length << " bytes)";
  return Status();
}

int64_t Repairer::Trim(bool* found) {
  // Only servers whose inventory is reconciled count: a returning server's
  // rows are not confirmed before that, so no replica is dropped in favour
  // of one that may not exist.
  // Servers being drained (alive or not) neither count nor keep anything
  // once the chunk has its goal elsewhere.
  std::vector<int32_t> confirmed, draining;
  std::map<int32_t, ServerState> state;
  for (ServerState& s : ctx_.servers.Snapshot()) {
    if (s.record.draining) {
      draining.push_back(s.record.id);
    } else if (s.alive && s.inventory_complete) {
      confirmed.push_back(s.record.id);
    }
    state.emplace(s.record.id, std::move(s));
  }
  // Rebalancing moves recorded so far: their sources' replicas go first.
  std::map<int64_t, int32_t> moved_from;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, m] : moves_) {
      if (m.recorded) moved_from[id] = m.source;
    }
  }
  std::vector<store::OverGoalChunk> over;
  Status s = ctx_.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(over, store::OverGoalChunks(tx, confirmed, draining, options_.batch));
    return Status();
  });
  if (!s.ok()) {
    LOG(kWarn) << "repair: cannot list the chunks over goal: " << s;
    *found = true;  // look again
    return 0;
  }
  if (!over.empty()) *found = true;
  int64_t dropped = 0;
  for (const store::OverGoalChunk& c : over) {
    if (stopping()) break;
    // Keep distinct hosts on distinct racks first, then distinct hosts,
    // then fill up to the goal; within a round the least used server
    // (bytes of replicas / capacity) first, and the source of a recorded
    // rebalancing move last.
    std::vector<int32_t> live = c.live;
    auto moved = moved_from.find(c.id);
    const int32_t last = moved == moved_from.end() ? -1 : moved->second;
    auto rank = [&](int32_t id) {
      const ServerState& st = state[id];
      BalanceServer b;
      b.capacity_bytes = st.record.capacity_bytes;
      b.used_bytes = st.record.used_bytes;
      return std::make_tuple(id == last, UsageOf(b), id);
    };
    std::sort(live.begin(), live.end(), [&](int32_t a, int32_t b) { return rank(a) < rank(b); });
    std::vector<std::pair<std::string, std::string>> where;
    for (int32_t id : live) {
      const store::ServerRecord& r = state[id].record;
      where.emplace_back(r.label, PlacementRackKey(r.label, r.rack));
    }
    std::set<int32_t> keep;
    for (size_t i : ChooseKept(where, c.goal)) keep.insert(live[i]);
    std::vector<int32_t> extra;
    for (int32_t id : live) {
      if (!keep.count(id)) extra.push_back(id);
    }
    extra.insert(extra.end(), c.drained.begin(), c.drained.end());
    if (extra.empty()) continue;
    int64_t n = 0;
    Status t = ctx_.writer.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(n, store::TrimReplicas(tx, c.id, c.version, extra, c.drained));
      return Status();
    });
    if (!t.ok()) {
      LOG(kWarn) << "repair: cannot trim chunk " << c.id << ": " << t;
      continue;
    }
    if (n > 0) {
      LOG(kInfo) << "repair: chunk " << c.id << " had " << live.size() << " live replicas for goal "
                 << c.goal << " and " << c.drained.size() << " on servers being drained: " << n
                 << " dropped and queued for deletion";
    }
    dropped += n;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.trimmed += dropped;
    // Trimmed now (or no longer over goal): their sources' rows are gone
    // from the chunk map, which the planning reads from here on.
    for (const auto& [id, source] : moved_from) moves_.erase(id);
  }
  return dropped;
}

}  // namespace ddbfs::meta
