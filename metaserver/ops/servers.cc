#include <algorithm>
#include <map>
#include <set>

#include "ddbfs/log.h"
#include "metaserver/ops/server_ops.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/server_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

constexpr size_t kMaxHostLength = 255;
constexpr size_t kMaxUuidLength = 128;

Status ValidateRegister(const RegisterArgs& a) {
  if (a.host.empty() || a.host.size() > kMaxHostLength) {
    return InvalidArgument("chunk server host must be 1.." + std::to_string(kMaxHostLength) +
                           " bytes");
  }
  RETURN_IF_ERROR(ValidateText(a.host, "host"));
  if (a.port < 1 || a.port > 65535) {
    return InvalidArgument("port " + std::to_string(a.port) + " is not 1..65535");
  }
  if (a.uuid.empty() || a.uuid.size() > kMaxUuidLength) {
    return InvalidArgument("server uuid must be 1.." + std::to_string(kMaxUuidLength) + " bytes");
  }
  RETURN_IF_ERROR(ValidateText(a.uuid, "uuid"));
  if (a.label.size() > kMaxHostLength) return InvalidArgument("label is too long");
  RETURN_IF_ERROR(ValidateText(a.label, "label"));
  if (a.capacity_bytes < 0 || a.used_bytes < 0) {
    return InvalidArgument("negative capacity or use");
  }
  for (const InventoryItem& item : a.inventory) {
    if (item.chunk_id <= 0 || item.version < 0) {
      return InvalidArgument("inventory entry chunk " + std::to_string(item.chunk_id) +
                             " version " + std::to_string(item.version) + " is invalid");
    }
  }
  return Status();
}

}  // namespace

Result<RegisterResult> RegisterServer(OpContext& ctx, const RegisterArgs& args) {
  RETURN_IF_ERROR(ValidateRegister(args));
  store::ServerRecord record;
  record.uuid = args.uuid;
  record.host = args.host;
  record.port = args.port;
  record.label = args.label.empty() ? args.host : args.label;
  record.capacity_bytes = args.capacity_bytes;
  record.used_bytes = args.used_bytes;
  record.chunk_count = static_cast<int64_t>(args.inventory.size());
  // A chunk listed twice counts with its highest version.
  std::map<int64_t, int64_t> inventory;
  for (const InventoryItem& item : args.inventory) {
    auto [it, inserted] = inventory.emplace(item.chunk_id, item.version);
    if (!inserted) it->second = std::max(it->second, item.version);
  }
  std::vector<int64_t> stored;
  stored.reserve(inventory.size());
  for (const auto& [id, version] : inventory) stored.push_back(id);

  RegisterResult out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    out = RegisterResult();
    ASSIGN_OR_RETURN(out.server_id, store::UpsertServer(tx, record));
    ASSIGN_OR_RETURN(std::vector<store::ServerReplica> rows,
                     store::ServerReplicas(tx, out.server_id));
    std::set<int64_t> known;
    std::vector<int64_t> gone, stale_ids, stale_versions;
    for (const store::ServerReplica& r : rows) {
      known.insert(r.chunk_id);
      auto it = inventory.find(r.chunk_id);
      if (it == inventory.end()) {
        // A replica placed but never written has no data to lose.
        if (r.replica_version > 0 || r.chunk_version > 0) gone.push_back(r.chunk_id);
      } else if (it->second < r.replica_version) {
        stale_ids.push_back(r.chunk_id);
        stale_versions.push_back(it->second);
      }
    }
    for (const auto& [id, version] : inventory) {
      if (!known.count(id)) out.delete_chunks.push_back(id);
    }
    if (!gone.empty()) RETURN_IF_ERROR(store::DeleteServerReplicas(tx, out.server_id, gone));
    if (!stale_ids.empty()) {
      RETURN_IF_ERROR(
          store::SetServerReplicaVersions(tx, out.server_id, stale_ids, stale_versions));
    }
    RETURN_IF_ERROR(store::ForgetDeletionsExcept(tx, out.server_id, stored));
    if (!gone.empty() || !stale_ids.empty() || !out.delete_chunks.empty()) {
      LOG(kInfo) << "server " << out.server_id << " inventory: " << out.delete_chunks.size()
                 << " unknown replicas to delete, " << gone.size() << " lost, " << stale_ids.size()
                 << " stale";
    }
    return Status();
  }));
  record.id = out.server_id;
  ctx.servers.Registered(record);
  out.heartbeat_interval_ms = ctx.servers.heartbeat_interval_ms();
  LOG(kInfo) << "chunk server " << out.server_id << " registered: " << record.host << ":"
             << record.port << " label " << record.label << ", " << inventory.size() << " chunks";
  return out;
}

Result<HeartbeatResult> Heartbeat(OpContext& ctx, const HeartbeatArgs& args) {
  if (args.server_id <= 0) {
    return InvalidArgument("bad server id " + std::to_string(args.server_id));
  }
  if (args.capacity_bytes < 0 || args.used_bytes < 0 || args.chunk_count < 0) {
    return InvalidArgument("negative capacity, use or chunk count");
  }
  for (int64_t id : args.deleted_chunks) {
    if (id <= 0) return InvalidArgument("bad deleted chunk id " + std::to_string(id));
  }
  HeartbeatResult out;
  ServerRegistry::HeartbeatOutcome hb =
      ctx.servers.Heartbeat(args.server_id, args.capacity_bytes, args.used_bytes, args.chunk_count);
  if (!hb.known) {
    out.reregister = true;
    return out;
  }
  if (!args.deleted_chunks.empty() || hb.flush_due) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
      if (!args.deleted_chunks.empty()) {
        RETURN_IF_ERROR(store::ConfirmDeletions(tx, args.server_id, args.deleted_chunks));
      }
      if (hb.flush_due) {
        RETURN_IF_ERROR(store::FlushServer(tx, args.server_id, args.capacity_bytes, args.used_bytes,
                                           args.chunk_count, now_ms));
      }
      return Status();
    }));
    if (hb.flush_due) ctx.servers.Flushed(args.server_id);
  }
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(out.delete_chunks,
                     store::PendingDeletions(tx, args.server_id, kMaxDeletionsPerHeartbeat));
    return Status();
  }));
  return out;
}

Result<ClusterStatusResult> ClusterStatus(OpContext& ctx) {
  ClusterStatusResult out;
  std::vector<int32_t> alive;
  for (const ServerState& s : ctx.servers.Snapshot()) {
    ServerStatusEntry e;
    e.server_id = s.record.id;
    e.host = s.record.host;
    e.port = s.record.port;
    e.label = s.record.label;
    e.alive = s.alive;
    e.capacity_bytes = s.record.capacity_bytes;
    e.used_bytes = s.record.used_bytes;
    e.chunks = s.record.chunk_count;
    e.last_heartbeat_ms_ago = s.last_heartbeat_ms_ago;
    if (s.alive) alive.push_back(s.record.id);
    out.servers.push_back(std::move(e));
  }
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(out.counts, store::CountCluster(tx, alive));
    return Status();
  }));
  return out;
}

Status LoadServers(OpContext& ctx) {
  std::vector<store::ServerRecord> records;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(records, store::LoadServers(tx));
    return Status();
  }));
  ctx.servers.Load(records);
  return Status();
}

}  // namespace ddbfs::meta
