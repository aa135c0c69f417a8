#include "meta_link.h"

#include <algorithm>
#include <chrono>

#include "ddbfs/log.h"

namespace ddbfs::chunkserver {

namespace {
constexpr int kDefaultHeartbeatMs = 1000;
constexpr int kMinHeartbeatMs = 50;
}  // namespace

MetaLink::MetaLink(MetaLinkOptions options, std::shared_ptr<ChunkStore> store,
                   std::function<void(int32_t)> on_registered)
    : options_(std::move(options)),
      store_(std::move(store)),
      on_registered_(std::move(on_registered)),
      conn_(options_.meta_host, options_.meta_port, options_.rpc_timeout_ms) {}

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

std::string MetaLink::meta_address() const {
  return options_.meta_host + ":" + std::to_string(options_.meta_port);
}

void MetaLink::Run() {
  while (true) {
    if (!registered_) {
      registered_ = Register();
      if (!registered_) {
        if (!Pause(options_.retry_ms)) break;
        continue;
      }
    }
    if (!Pause(heartbeat_interval_ms_)) break;
    registered_ = Heartbeat();
  }
  conn_.Close();
}

bool MetaLink::Register() {
  rpc::RegisterServerRequest req;
  req.host = options_.host;
  req.port = options_.port;
  req.label = options_.label;
  req.uuid = store_->uuid();
  SpaceInfo space = store_->Space();
  req.capacity_bytes = static_cast<int64_t>(space.capacity_bytes);
  req.used_bytes = static_cast<int64_t>(space.used_bytes);
  for (const auto& replica : store_->Inventory()) {
    rpc::ChunkVersion cv;
    cv.chunk_id = static_cast<int64_t>(replica.chunk_id);
    cv.version = static_cast<int64_t>(replica.version);
    req.inventory.push_back(cv);
  }
  rpc::RegisterServerResponse resp;
  Status s = conn_.Call([&](rpc::MetaServiceClient& c) { c.RegisterServer(resp, req); });
  if (s.ok()) s = FromRpc(resp.status);
  if (!s.ok()) {
    LOG(kWarn) << "cannot register with the metaserver at " << meta_address() << ": " << s
               << "; retrying in " << options_.retry_ms << " ms (serving meanwhile)";
    return false;
  }
  server_id_ = resp.server_id;
  heartbeat_interval_ms_ = resp.heartbeat_interval_ms > 0
                               ? std::max(resp.heartbeat_interval_ms, kMinHeartbeatMs)
                               : kDefaultHeartbeatMs;
  // The inventory just sent already leaves out everything deleted so far.
  deleted_.clear();
  LOG(kInfo) << "registered with the metaserver at " << meta_address() << " as server "
             << resp.server_id << " (" << req.inventory.size() << " chunks, heartbeat every "
             << heartbeat_interval_ms_ << " ms)";
  if (on_registered_) on_registered_(resp.server_id);
  DeleteChunks(resp.delete_chunks);
  return true;
}

bool MetaLink::Heartbeat() {
  rpc::HeartbeatRequest req;
  req.server_id = server_id_;
  SpaceInfo space = store_->Space();
  req.capacity_bytes = static_cast<int64_t>(space.capacity_bytes);
  req.used_bytes = static_cast<int64_t>(space.used_bytes);
  req.chunk_count = static_cast<int64_t>(store_->chunk_count());
  req.deleted_chunks = deleted_;
  rpc::HeartbeatResponse resp;
  Status s = conn_.Call([&](rpc::MetaServiceClient& c) { c.Heartbeat(resp, req); });
  if (!s.ok()) {
    LOG(kWarn) << "lost the metaserver at " << meta_address() << ": " << s
               << "; registering again when it is back";
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
  deleted_.erase(deleted_.begin(),
                 deleted_.begin() + static_cast<ptrdiff_t>(req.deleted_chunks.size()));
  DeleteChunks(resp.delete_chunks);
  if (resp.reregister) {
    LOG(kInfo) << "the metaserver asks server " << req.server_id << " to register again";
    return false;
  }
  return true;
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
