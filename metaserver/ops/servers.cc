#include <algorithm>
#include <limits>
#include <mutex>

#include "ddbfs/log.h"
#include "metaserver/ops/chunk_ops.h"
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

Status ValidateItem(const InventoryItem& item) {
  if (item.chunk_id <= 0 || item.version < 0) {
    return InvalidArgument("inventory entry chunk " + std::to_string(item.chunk_id) + " version " +
                           std::to_string(item.version) + " is invalid");
  }
  return Status();
}

Status ValidatePage(const InventoryPageArgs& a) {
  if (a.server_id <= 0) return InvalidArgument("bad server id " + std::to_string(a.server_id));
  if (a.entries.size() > static_cast<size_t>(kMaxInventoryPage)) {
    return InvalidArgument("inventory page of " + std::to_string(a.entries.size()) +
                           " entries; at most " + std::to_string(kMaxInventoryPage));
  }
  if (a.entries.empty() && !a.last) {
    return InvalidArgument("only the last inventory page may be empty");
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    RETURN_IF_ERROR(ValidateItem(a.entries[i]));
    if (i > 0 && a.entries[i].chunk_id <= a.entries[i - 1].chunk_id) {
      return InvalidArgument("inventory page is not sorted by chunk id (" +
                             std::to_string(a.entries[i - 1].chunk_id) + " then " +
                             std::to_string(a.entries[i].chunk_id) + ")");
    }
  }
  return Status();
}

// What reconciling one page did, for the log.
struct PageTally {
  int64_t lost = 0;        // rows dropped: the server does not hold them
  int64_t adopted = 0;     // rows added or set to the reported version
  int64_t deleted = 0;     // deletion orders (deleted chunks, stale replicas)
  int64_t held = 0;        // of deleted chunks, queued as held deletions (retention)
  int64_t foreign = 0;     // ids never allocated here: left alone
  int64_t kept_stale = 0;  // stale, but the only copy left (or under a lease)
};

// One page in one transaction; see ReportInventory. May run more than once.
// A replica of a chunk the metadata does not have is deleted at once when
// retention_ms is 0, else its deletion is queued, held for the retention
// (docs/backup.md: after a restore these are the chunks written after the
// backup, and a later restore of a newer backup may still need them).
Status ReconcilePage(store::Tx& tx, int32_t server, int64_t after, int64_t upto,
                     const std::vector<InventoryItem>& entries, int64_t retention_ms,
                     InventoryPageResult* out, PageTally* tally) {
  *out = InventoryPageResult();
  *tally = PageTally();
  std::vector<int64_t> ids, versions;
  ids.reserve(entries.size());
  versions.reserve(entries.size());
  for (const InventoryItem& e : entries) {
    ids.push_back(e.chunk_id);
    versions.push_back(e.version);
  }
  ASSIGN_OR_RETURN(int64_t last_id, store::LastChunkId(tx));
  ASSIGN_OR_RETURN(std::vector<store::InventoryEntryState> states,
                   store::InventoryStates(tx, server, ids, versions));
  std::vector<int64_t> set_ids, set_versions, drop_rows, held;
  for (const store::InventoryEntryState& e : states) {
    // A deletion already ordered stands (a corrupt or stale copy, or a
    // deleted chunk): the heartbeats deliver it.
    if (e.deletion_queued) continue;
    if (!e.chunk_exists) {
      if (e.chunk_id <= last_id && retention_ms > 0) {
        held.push_back(e.chunk_id);  // the chunk was deleted: held for the retention
        ++tally->held;
      } else if (e.chunk_id <= last_id) {
        out->delete_chunks.push_back(e.chunk_id);  // the chunk was deleted
        ++tally->deleted;
      } else {
        ++tally->foreign;  // never a chunk here: another cluster's data?
      }
      continue;
    }
    const bool stale = e.version < e.chunk_version;
    if (stale && !e.lease_open && e.current_elsewhere) {
      out->delete_chunks.push_back(e.chunk_id);
      if (e.row_version) drop_rows.push_back(e.chunk_id);
      ++tally->deleted;
      continue;
    }
    if (stale) ++tally->kept_stale;
    if (!stale) ++tally->adopted;
    set_ids.push_back(e.chunk_id);
    set_versions.push_back(e.version);
  }
  ASSIGN_OR_RETURN(tally->lost, store::DropMissingReplicas(tx, server, after, upto, ids));
  if (!set_ids.empty()) {
    RETURN_IF_ERROR(store::UpsertServerReplicas(tx, server, set_ids, set_versions));
  }
  if (!drop_rows.empty()) RETURN_IF_ERROR(store::DeleteServerReplicas(tx, server, drop_rows));
  RETURN_IF_ERROR(store::ForgetMissingDeletions(tx, server, after, upto, ids));
  if (!held.empty()) RETURN_IF_ERROR(store::QueueHeldDeletions(tx, server, held));
  return Status();
}

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
  if (a.rack.size() > kMaxHostLength) return InvalidArgument("rack is too long");
  RETURN_IF_ERROR(ValidateText(a.rack, "rack"));
  if (a.capacity_bytes < 0 || a.used_bytes < 0) {
    return InvalidArgument("negative capacity or use");
  }
  if (a.chunk_count < 0) return InvalidArgument("negative chunk count");
  if (a.paged_inventory && !a.inventory.empty()) {
    return InvalidArgument("a paged registration carries no inline inventory");
  }
  for (const InventoryItem& item : a.inventory) {
    RETURN_IF_ERROR(ValidateItem(item));
  }
  return Status();
}

}  // namespace

Result<RegisterResult> RegisterServer(OpContext& ctx, const RegisterArgs& args) {
  RETURN_IF_ERROR(ValidateRegister(args));
  // An inline inventory: sorted, a chunk listed twice with its highest version.
  std::vector<InventoryItem> inventory = args.inventory;
  std::sort(inventory.begin(), inventory.end(), [](const InventoryItem& x, const InventoryItem& y) {
    return x.chunk_id < y.chunk_id || (x.chunk_id == y.chunk_id && x.version > y.version);
  });
  inventory.erase(std::unique(inventory.begin(), inventory.end(),
                              [](const InventoryItem& x, const InventoryItem& y) {
                                return x.chunk_id == y.chunk_id;
                              }),
                  inventory.end());

  store::ServerRecord record;
  record.uuid = args.uuid;
  record.host = args.host;
  record.port = args.port;
  record.label = args.label.empty() ? args.host : args.label;
  record.rack = args.rack;
  record.capacity_bytes = args.capacity_bytes;
  record.used_bytes = args.used_bytes;
  record.chunk_count =
      args.paged_inventory ? args.chunk_count : static_cast<int64_t>(inventory.size());

  RegisterResult out;
  {
    std::unique_lock<std::mutex> lock = ctx.servers.LockRegistrations();
    if (Status claim = ctx.servers.CheckClaim(args.uuid, args.host, args.port); !claim.ok()) {
      LOG(kWarn) << "refused a chunk server registration: " << claim.message();
      return claim;
    }
    RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(out.server_id, store::UpsertServer(tx, record));
      return Status();
    }));
    record.id = out.server_id;
    out.session = ctx.servers.Registered(record);
  }
  out.heartbeat_interval_ms = ctx.servers.heartbeat_interval_ms();
  out.max_page_entries = kMaxInventoryPage;
  LOG(kInfo) << "chunk server " << out.server_id << " registered: " << record.host << ":"
             << record.port << " label " << record.label
             << (record.rack.empty() ? "" : " rack " + record.rack) << ", " << record.chunk_count
             << " chunks" << (args.paged_inventory ? " to come in pages" : "");
  if (args.paged_inventory) return out;

  // An inline inventory goes through the same pages.
  size_t next = 0;
  do {
    size_t end = std::min(inventory.size(), next + static_cast<size_t>(kMaxInventoryPage));
    InventoryPageArgs page;
    page.server_id = out.server_id;
    page.session = out.session;
    page.entries.assign(inventory.begin() + static_cast<ptrdiff_t>(next),
                        inventory.begin() + static_cast<ptrdiff_t>(end));
    page.last = end == inventory.size();
    ASSIGN_OR_RETURN(InventoryPageResult r, ReportInventory(ctx, page));
    out.delete_chunks.insert(out.delete_chunks.end(), r.delete_chunks.begin(),
                             r.delete_chunks.end());
    next = end;
  } while (next < inventory.size());
  return out;
}

Result<InventoryPageResult> ReportInventory(OpContext& ctx, const InventoryPageArgs& args) {
  RETURN_IF_ERROR(ValidatePage(args));
  const int64_t first = args.entries.empty() ? 0 : args.entries.front().chunk_id;
  ASSIGN_OR_RETURN(int64_t after,
                   ctx.servers.BeginInventoryPage(args.server_id, args.session, first));
  const int64_t upto =
      args.last ? std::numeric_limits<int64_t>::max() : args.entries.back().chunk_id;
  InventoryPageResult out;
  PageTally tally;
  Status s = ctx.writer.Run([&](store::Tx& tx) -> Status {
    return ReconcilePage(tx, args.server_id, after, upto, args.entries, ctx.chunk_retention_ms,
                         &out, &tally);
  });
  ctx.servers.EndInventoryPage(args.server_id, args.session, s.ok(), upto, args.last,
                               static_cast<int64_t>(args.entries.size()));
  RETURN_IF_ERROR(s);
  MarkRepairDirty(ctx);  // rows dropped or adopted
  if (tally.lost || tally.deleted || tally.held || tally.foreign || tally.kept_stale) {
    LOG(kInfo) << "server " << args.server_id << " inventory (" << after << ", "
               << (args.last ? std::string("end") : std::to_string(upto)) << "]: " << tally.lost
               << " replicas it does not hold dropped from the map, " << tally.deleted
               << " deleted or stale replicas to delete, " << tally.held
               << " replicas of chunks not in the metadata held for the retention, "
               << tally.kept_stale << " stale kept (only copy or write open), " << tally.foreign
               << " ids never allocated here left alone, " << tally.adopted << " replicas recorded";
  }
  if (args.last) {
    auto state = ctx.servers.Get(args.server_id);
    LOG(kInfo) << "chunk server " << args.server_id
               << " inventory complete: " << (state ? state->inventory_entries : 0) << " chunks";
  }
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
  if (args.bad_replicas.size() > kMaxBadPerHeartbeat) {
    return InvalidArgument("at most " + std::to_string(kMaxBadPerHeartbeat) +
                           " bad replicas per heartbeat");
  }
  for (const auto& [id, version] : args.bad_replicas) {
    if (id <= 0 || version < 0) return InvalidArgument("bad replica entry " + std::to_string(id));
  }
  HeartbeatResult out;
  ServerRegistry::HeartbeatOutcome hb = ctx.servers.Heartbeat(
      args.server_id, args.capacity_bytes, args.used_bytes, args.chunk_count, args.session);
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
    // A confirmed deletion does not wake the repair: a server may take a
    // copy of the chunk again, but a chunk waiting for that copy was listed
    // under goal by the last pass, which keeps the passes scanning.
  }
  if (!args.bad_replicas.empty()) {
    LOG(kWarn) << "chunk server " << args.server_id << " found " << args.bad_replicas.size()
               << " bad replica(s)";
    RETURN_IF_ERROR(DropBadReplicas(ctx, args.server_id, args.bad_replicas));
  }
  // Held deletions (docs/backup.md) go once their retention passed, or all
  // of them, oldest first, while the server is short of space.
  const bool short_of_space =
      ctx.retention_min_free_pct > 0 && args.capacity_bytes > 0 &&
      (args.capacity_bytes - std::min(args.used_bytes, args.capacity_bytes)) * 100 <
          args.capacity_bytes * ctx.retention_min_free_pct;
  store::PendingDeletionList due;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(due, store::PendingDeletions(tx, args.server_id, kMaxDeletionsPerHeartbeat,
                                                  ctx.chunk_retention_ms, short_of_space));
    return Status();
  }));
  if (short_of_space && due.held > 0 && ctx.chunk_retention_ms > 0) {
    LOG(kWarn) << "chunk server " << args.server_id << " has less than "
               << ctx.retention_min_free_pct << "% free space: " << due.held
               << " held replica(s) of deleted chunks deleted before the retention, oldest "
                  "first (a restored backup will not find them)";
  }
  out.delete_chunks = std::move(due.chunk_ids);
  return out;
}

Result<ClusterStatusResult> ClusterStatus(OpContext& ctx) {
  ClusterStatusResult out;
  std::vector<int32_t> alive, draining;
  for (const ServerState& s : ctx.servers.Snapshot()) {
    ServerStatusEntry e;
    e.server_id = s.record.id;
    e.host = s.record.host;
    e.port = s.record.port;
    e.label = s.record.label;
    e.rack = s.record.rack;
    e.alive = s.alive;
    e.capacity_bytes = s.record.capacity_bytes;
    e.used_bytes = s.record.used_bytes;
    e.chunks = s.record.chunk_count;
    e.last_heartbeat_ms_ago = s.last_heartbeat_ms_ago;
    e.draining = s.record.draining;
    if (s.alive) alive.push_back(s.record.id);
    if (e.draining) draining.push_back(s.record.id);
    out.servers.push_back(std::move(e));
  }
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(out.counts, store::CountCluster(tx, alive, ctx.chunk_retention_ms));
    if (draining.empty()) return Status();
    ASSIGN_OR_RETURN(auto left, store::ServerReplicaCounts(tx, draining));
    for (ServerStatusEntry& e : out.servers) {
      if (e.draining) e.drain_chunks_left = left[e.server_id];
    }
    return Status();
  }));
  if (ctx.repairer) out.repair = ctx.repairer->stats();
  return out;
}

Result<int64_t> DrainServer(OpContext& ctx, int32_t server_id, bool drain) {
  if (server_id <= 0) return InvalidArgument("bad server id " + std::to_string(server_id));
  int64_t left = 0;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(bool found, store::SetServerDraining(tx, server_id, drain));
    if (!found) {
      return NotFound("no chunk server " + std::to_string(server_id) +
                      " — ddbfs server list shows them");
    }
    ASSIGN_OR_RETURN(auto counts, store::ServerReplicaCounts(tx, {server_id}));
    left = counts[server_id];
    return Status();
  }));
  // After the commit: a pass that reads the flag finds it in the database
  // too (a restart loads it from there).
  ctx.servers.SetDraining(server_id, drain);
  LOG(kInfo) << "chunk server " << server_id << (drain ? " draining: " : " no longer draining: ")
             << left << " replicas on it";
  if (ctx.repairer) ctx.repairer->Kick();
  return left;
}

Status RemoveServer(OpContext& ctx, int32_t server_id) {
  if (server_id <= 0) return InvalidArgument("bad server id " + std::to_string(server_id));
  const std::string name = "chunk server " + std::to_string(server_id);
  // The registry knows every server of the database (loaded at start).
  std::optional<ServerState> st = ctx.servers.Get(server_id);
  if (!st) return NotFound("no " + name + " — ddbfs server list shows them");
  if (st->alive) {
    return Status(ErrorCode::kBusy,
                  name + " is running (heartbeat " + std::to_string(st->last_heartbeat_ms_ago) +
                      " ms ago) — drain it (ddbfs server drain " + std::to_string(server_id) +
                      "), then stop it before removing it: a running server registers again");
  }
  const std::vector<int32_t> alive = ctx.servers.AliveIds();
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(auto counts, store::ServerReplicaCounts(tx, {server_id}));
    if (counts[server_id] > 0) {
      ASSIGN_OR_RETURN(int64_t only, store::OnlyCopiesOn(tx, server_id, alive));
      return Status(ErrorCode::kNotEmpty,
                    name + " still holds " + std::to_string(counts[server_id]) + " replicas (" +
                        std::to_string(only) +
                        " of them the only copy: no live server has another) — drain it first: "
                        "ddbfs server drain " +
                        std::to_string(server_id) +
                        " while it runs, and wait until ddbfs status shows 0 chunks left");
    }
    ASSIGN_OR_RETURN(bool removed, store::RemoveServer(tx, server_id));
    if (!removed) {
      return Status(ErrorCode::kNotEmpty,
                    name + " was given a replica meanwhile — drain it first: ddbfs server drain " +
                        std::to_string(server_id));
    }
    return Status();
  }));
  ctx.servers.Forget(server_id);
  LOG(kInfo) << name << " removed";
  return Status();
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
