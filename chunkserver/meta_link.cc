#include "meta_link.h"

#include <algorithm>
#include <chrono>

#include "ddbfs/log.h"

namespace ddbfs::chunkserver {

namespace {
constexpr int kDefaultHeartbeatMs = 1000;
constexpr int kMinHeartbeatMs = 50;
// Bad replicas reported per heartbeat at most (HeartbeatRequest.bad_replicas).
constexpr size_t kMaxBadPerHeartbeat = 1000;

std::vector<rpc::ChunkVersion> ToWire(const ChunkReplica* first, const ChunkReplica* last) {
  std::vector<rpc::ChunkVersion> out;
  out.reserve(static_cast<size_t>(last - first));
  for (const ChunkReplica* r = first; r != last; ++r) {
    rpc::ChunkVersion cv;
    cv.chunk_id = static_cast<int64_t>(r->chunk_id);
    cv.version = static_cast<int64_t>(r->version);
    out.push_back(cv);
  }
  return out;
}

// Whether the metaserver knows ReportInventory. Registering "paged" with one
// that does not would look like an empty inventory to it, so ask first: a
// page for server 0 is refused by a metaserver that knows the method
// (INVALID_ARGUMENT), and fails as an unknown method otherwise.
Result<bool> SupportsPagedInventory(RpcConnection<rpc::MetaServiceClient>& conn) {
  rpc::ReportInventoryRequest req;
  req.server_id = 0;
  req.last = true;
  rpc::ReportInventoryResponse resp;
  Status s = conn.Call([&](rpc::MetaServiceClient& c) { c.ReportInventory(resp, req); });
  if (s.ok()) return true;
  if (s.code() == ErrorCode::kInternal &&
      s.message().find("Invalid method name") != std::string::npos) {
    return false;
  }
  return s;
}

}  // namespace

Result<Registration> RegisterWithMetaserver(
    RpcConnection<rpc::MetaServiceClient>& conn, const ServerIdentity& who,
    const std::vector<ChunkReplica>& inventory, int max_page_entries,
    const std::function<void(int32_t)>& on_registered,
    const std::function<void(const std::vector<int64_t>&)>& on_delete) {
  ASSIGN_OR_RETURN(bool paged, SupportsPagedInventory(conn));
  rpc::RegisterServerRequest req;
  req.host = who.host;
  req.port = who.port;
  req.label = who.label;
  if (!who.rack.empty()) req.__set_rack(who.rack);
  req.uuid = who.uuid;
  req.capacity_bytes = who.capacity_bytes;
  req.used_bytes = who.used_bytes;
  if (paged) {
    req.__set_paged_inventory(true);
    req.__set_chunk_count(static_cast<int64_t>(inventory.size()));
  } else {
    req.inventory = ToWire(inventory.data(), inventory.data() + inventory.size());
  }
  rpc::RegisterServerResponse resp;
  Status s = conn.Call([&](rpc::MetaServiceClient& c) { c.RegisterServer(resp, req); });
  if (s.ok()) s = FromRpc(resp.status);
  if (!s.ok()) return s;
  Registration out;
  out.server_id = resp.server_id;
  out.session = resp.__isset.session ? resp.session : 0;
  out.heartbeat_interval_ms = resp.heartbeat_interval_ms;
  if (on_registered) on_registered(resp.server_id);
  if (!resp.delete_chunks.empty()) on_delete(resp.delete_chunks);
  if (!paged) return out;

  size_t page_size = static_cast<size_t>(std::max(1, max_page_entries));
  if (resp.__isset.max_page_entries && resp.max_page_entries > 0) {
    page_size = std::min(page_size, static_cast<size_t>(resp.max_page_entries));
  }
  size_t next = 0;
  do {
    const size_t end = std::min(inventory.size(), next + page_size);
    rpc::ReportInventoryRequest page;
    page.server_id = out.server_id;
    page.session = out.session;
    page.entries = ToWire(inventory.data() + next, inventory.data() + end);
    page.last = end == inventory.size();
    rpc::ReportInventoryResponse page_resp;
    // Not repeated on a transport error: a page the metaserver reconciled
    // moves the session on; the caller registers again instead.
    s = conn.Call([&](rpc::MetaServiceClient& c) { c.ReportInventory(page_resp, page); }, false);
    if (s.ok()) s = FromRpc(page_resp.status);
    if (!s.ok()) {
      return Status(s.code(), "inventory page " + std::to_string(out.pages + 1) + " (chunks " +
                                  std::to_string(next) + ".." + std::to_string(end) + " of " +
                                  std::to_string(inventory.size()) + "): " + s.message());
    }
    ++out.pages;
    if (!page_resp.delete_chunks.empty()) on_delete(page_resp.delete_chunks);
    next = end;
  } while (next < inventory.size());
  return out;
}

MetaLink::MetaLink(MetaLinkOptions options, std::shared_ptr<ChunkStore> store,
                   std::function<void(int32_t)> on_registered)
    : options_(std::move(options)),
      store_(std::move(store)),
      on_registered_(std::move(on_registered)) {
  for (const Endpoint& e : options_.metas) {
    conns_.push_back(std::make_unique<RpcConnection<rpc::MetaServiceClient>>(
        e.host, e.port, options_.rpc_timeout_ms, options_.transport));
  }
}

MetaLink::~MetaLink() { Stop(); }

void MetaLink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void MetaLink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool MetaLink::Pause(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

std::string MetaLink::meta_address() const { return conns_[current_]->address(); }

void MetaLink::MoveOn() {
  conn().Close();
  current_ = (current_ + 1) % conns_.size();
}

void MetaLink::Run() {
  while (true) {
    if (!registered_) {
      int pause_ms = Register();
      registered_ = pause_ms == 0;
      if (!registered_) {
        if (!Pause(pause_ms)) break;
        continue;
      }
    }
    if (!Pause(heartbeat_interval_ms_)) break;
    registered_ = Heartbeat();
  }
  for (auto& c : conns_) c->Close();
}

int MetaLink::Register() {
  ServerIdentity who;
  who.host = options_.host;
  who.port = options_.port;
  who.label = options_.label;
  who.rack = options_.rack;
  who.uuid = store_->uuid();
  SpaceInfo space = store_->Space();
  who.capacity_bytes = static_cast<int64_t>(space.capacity_bytes);
  who.used_bytes = static_cast<int64_t>(space.used_bytes);
  const std::vector<ChunkReplica> inventory = store_->Inventory();
  // The inventory about to be sent already leaves out everything deleted
  // so far.
  std::vector<int64_t> deleted_before = std::move(deleted_);
  deleted_.clear();
  // Every address in turn, from the current one, until one accepts: a
  // standby does not answer, a fenced metaserver answers "unavailable".
  Result<Registration> r = Unavailable("no metaserver address");
  const auto round_began = std::chrono::steady_clock::now();
  // How long each address took to fail (RpcFailoverPool::Call's rule).
  std::vector<std::chrono::steady_clock::duration> took(conns_.size());
  for (size_t tried = 0; tried < conns_.size(); ++tried) {
    const auto began = std::chrono::steady_clock::now();
    r = RegisterWithMetaserver(
        conn(), who, inventory, options_.max_page_entries,
        [this](int32_t id) {
          server_id_ = id;
          if (on_registered_) on_registered_(id);
        },
        [this](const std::vector<int64_t>& ids) { DeleteChunks(ids); });
    if (r.ok() || r.status().code() != ErrorCode::kUnavailable || conns_.size() == 1) break;
    took[current_] = std::chrono::steady_clock::now() - began;
    LOG(kDebug) << "cannot register with the metaserver at " << meta_address() << ": " << r.status()
                << "; trying the next address";
    MoveOn();
  }
  if (!r.ok()) {
    // Deletions not yet reported stay to be reported.
    deleted_.insert(deleted_.begin(), deleted_before.begin(), deleted_before.end());
    if (r.status().code() == ErrorCode::kPermissionDenied) {
      LOG(kError) << "the metaserver at " << meta_address() << " refused this chunk server ("
                  << who.host << ":" << who.port << ", uuid " << who.uuid
                  << "): " << r.status().message() << "; retrying in " << options_.refused_retry_ms
                  << " ms (serving meanwhile)";
      return std::max(1, options_.refused_retry_ms);
    }
    if (r.status().code() == ErrorCode::kUnavailable && conns_.size() > 1) {
      // Every address failed. The next round starts at the one that failed
      // quickest: a refusal or a standby's answer means that its host is up
      // (a standby about to take over), a timeout that it cannot be reached,
      // and starting there would make the new active wait for this server
      // a timeout longer.
      const auto [fastest, slowest] = std::minmax_element(took.begin(), took.end());
      if (*slowest - *fastest >= kSameFailureTime) {
        conn().Close();
        current_ = static_cast<size_t>(fastest - took.begin());
      }
    }
    // retry_ms apart from the start of one round to the next: a round that
    // waited out a timeout has paused already.
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - round_began);
    const int pause_ms = std::max<int>(1, options_.retry_ms - static_cast<int>(spent.count()));
    LOG(kWarn) << "cannot register with the metaserver at " << meta_address() << ": " << r.status()
               << "; retrying in " << pause_ms << " ms (serving meanwhile)";
    return pause_ms;
  }
  session_ = r->session;
  page_entries_ = std::max(1, options_.max_page_entries);
  // A registration reconciles the whole inventory: the next orphan check
  // is due an interval later.
  checking_ = false;
  next_check_ = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(options_.inventory_check_interval_ms);
  if (options_.on_session) options_.on_session(r->server_id, r->session);
  heartbeat_interval_ms_ = r->heartbeat_interval_ms > 0
                               ? std::max(r->heartbeat_interval_ms, kMinHeartbeatMs)
                               : kDefaultHeartbeatMs;
  LOG(kInfo) << "registered with the metaserver at " << meta_address() << " as server "
             << r->server_id << " (" << inventory.size() << " chunks in " << r->pages
             << " pages, heartbeat every " << heartbeat_interval_ms_ << " ms)";
  return 0;
}

bool MetaLink::Heartbeat() {
  rpc::HeartbeatRequest req;
  req.server_id = server_id_;
  SpaceInfo space = store_->Space();
  req.capacity_bytes = static_cast<int64_t>(space.capacity_bytes);
  req.used_bytes = static_cast<int64_t>(space.used_bytes);
  req.chunk_count = static_cast<int64_t>(store_->chunk_count());
  req.deleted_chunks = deleted_;
  if (session_ != 0) req.__set_session(session_);
  const std::vector<ChunkReplica> bad = store_->BadReplicas(kMaxBadPerHeartbeat);
  if (!bad.empty()) {
    req.__set_bad_replicas(ToWire(bad.data(), bad.data() + bad.size()));
  }
  rpc::HeartbeatResponse resp;
  Status s = conn().Call([&](rpc::MetaServiceClient& c) { c.Heartbeat(resp, req); });
  if (!s.ok() || (resp.status.code == rpc::ErrorCode::UNAVAILABLE && conns_.size() > 1)) {
    if (s.ok()) s = FromRpc(resp.status);
    const std::string lost = meta_address();
    if (conns_.size() > 1) MoveOn();
    LOG(kWarn) << "lost the metaserver at " << lost << ": " << s
               << (conns_.size() > 1 ? "; registering with the next address"
                                     : "; registering again when it is back");
    return false;
  }
  s = FromRpc(resp.status);
  if (s.code() == ErrorCode::kNotFound) {
    LOG(kInfo) << "the metaserver does not know server " << req.server_id << "; registering again";
    return false;
  }
  if (!s.ok()) {
    LOG(kWarn) << "heartbeat refused by the metaserver: " << s;
    return true;
  }
  ++heartbeats_;
  if (!bad.empty()) {
    store_->MarkReported(bad);
    LOG(kWarn) << "reported " << bad.size() << " bad replica(s) to the metaserver";
  }
  deleted_.erase(deleted_.begin(),
                 deleted_.begin() + static_cast<ptrdiff_t>(req.deleted_chunks.size()));
  DeleteChunks(resp.delete_chunks);
  if (resp.reregister) {
    LOG(kInfo) << "the metaserver asks server " << req.server_id << " to register again";
    return false;
  }
  CheckInventoryPage();
  return true;
}

void MetaLink::CheckInventoryPage() {
  if (options_.inventory_check_interval_ms <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!checking_) {
    if (now < next_check_) return;
    checking_ = true;
    check_after_ = 0;
  }
  bool more = false;
  const std::vector<ReplicaListing> page =
      store_->List(check_after_, UINT64_MAX, static_cast<size_t>(page_entries_), &more);
  rpc::CheckReplicasRequest req;
  req.server_id = server_id_;
  req.session = session_;
  req.entries.reserve(page.size());
  for (const ReplicaListing& l : page) {
    rpc::ReplicaAge e;
    e.chunk_id = static_cast<int64_t>(l.chunk_id);
    e.version = static_cast<int64_t>(l.version);
    e.age_ms = l.age_ms;
    req.entries.push_back(e);
  }
  rpc::CheckReplicasResponse resp;
  Status s = conn().Call([&](rpc::MetaServiceClient& c) { c.CheckReplicas(resp, req); });
  if (s.ok()) s = FromRpc(resp.status);
  if (!s.ok()) {
    // Tried again from the start after an interval (a metaserver that
    // predates the check answers an unknown method every time).
    LOG(kWarn) << "orphan check: " << s << "; next one in " << options_.inventory_check_interval_ms
               << " ms";
    checking_ = false;
    next_check_ = now + std::chrono::milliseconds(options_.inventory_check_interval_ms);
    return;
  }
  if (resp.unknown > 0) {
    LOG(kInfo) << "orphan check: " << resp.unknown << " replica(s) the metaserver does not know, "
               << resp.queued << " queued for deletion";
  }
  if (!page.empty()) check_after_ = page.back().chunk_id;
  if (!more) {
    checking_ = false;
    ++inventory_checks_;
    next_check_ = now + std::chrono::milliseconds(options_.inventory_check_interval_ms);
  }
}

void MetaLink::DeleteChunks(const std::vector<int64_t>& chunk_ids) {
  for (int64_t id : chunk_ids) {
    if (id <= 0) continue;
    Status s = store_->Delete(static_cast<uint64_t>(id));
    if (s.ok() || s.code() == ErrorCode::kNotFound) {
      LOG(kDebug) << "deleted chunk " << ChunkIdHex(static_cast<uint64_t>(id))
                  << " as the metaserver asked";
      deleted_.push_back(id);
    } else {
      LOG(kWarn) << "cannot delete chunk " << ChunkIdHex(static_cast<uint64_t>(id)) << ": " << s;
    }
  }
}

}  // namespace ddbfs::chunkserver
