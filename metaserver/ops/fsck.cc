#include "metaserver/ops/fsck.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "ChunkService.h"
#include "ddbfs/log.h"
#include "metaserver/ops/lease_settler.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/ops/server_ops.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/fsck_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/server_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

// ListReplicas pages, and entries read from one server in one Fsck call at
// most (beyond: the server counts as not checked).
constexpr int kListPage = 10000;
constexpr size_t kMaxEntriesPerServer = 200000;

struct Listing {
  int64_t version = 0;
  int64_t length = 0;
  bool corrupt = false;
  int64_t age_ms = 0;
};

// One server's replicas in (after, upto], or of `ids`; false when it could
// not be read whole.
bool ReadInventory(OpContext& ctx, const ServerState& server, int64_t after, int64_t upto,
                   const std::vector<int64_t>* ids, std::map<int64_t, Listing>* out) {
  if (ctx.settler == nullptr) return false;
  auto& pool = ctx.settler->Pool(server.record.host, server.record.port);
  int64_t cursor = after;
  size_t read = 0;
  while (true) {
    rpc::ListReplicasRequest req;
    req.after_chunk_id = cursor;
    req.upto_chunk_id = upto;
    req.limit = kListPage;
    if (ids) req.__set_chunk_ids(*ids);
    rpc::ListReplicasResponse resp;
    Status s = pool.Call([&](rpc::ChunkServiceClient& c) { c.ListReplicas(resp, req); });
    if (s.ok()) s = FromRpc(resp.status);
    if (!s.ok()) {
      LOG(kWarn) << "fsck: cannot list the replicas of server " << server.record.id << ": " << s;
      return false;
    }
    for (const rpc::ReplicaListing& e : resp.entries) {
      (*out)[e.chunk_id] = Listing{e.version, e.length, e.corrupt, e.age_ms};
      cursor = std::max(cursor, e.chunk_id);
    }
    read += resp.entries.size();
    if (ids || !resp.more || resp.entries.empty()) return true;
    if (read >= kMaxEntriesPerServer) return false;
  }
}

std::string AddressOf(const ServerState& s) {
  return s.record.host + ":" + std::to_string(s.record.port);
}

void AddProblem(FsckChunkView* c, const char* problem) {
  if (std::find(c->problems.begin(), c->problems.end(), problem) == c->problems.end()) {
    c->problems.push_back(problem);
  }
}

}  // namespace

Result<CheckReplicasResult> CheckReplicas(OpContext& ctx, int32_t server_id, int64_t session,
                                          const std::vector<ReplicaAgeItem>& entries) {
  if (server_id <= 0) return InvalidArgument("bad server id " + std::to_string(server_id));
  if (entries.size() > static_cast<size_t>(kMaxInventoryPage)) {
    return InvalidArgument("orphan check page of " + std::to_string(entries.size()) +
                           " entries; at most " + std::to_string(kMaxInventoryPage));
  }
  for (const ReplicaAgeItem& e : entries) {
    if (e.chunk_id <= 0 || e.version < 0 || e.age_ms < 0) {
      return InvalidArgument("orphan check entry chunk " + std::to_string(e.chunk_id) +
                             " version " + std::to_string(e.version) + " is invalid");
    }
  }
  std::optional<ServerState> state = ctx.servers.Get(server_id);
  if (!state || state->session != session || !state->inventory_complete) {
    return NotFound("server " + std::to_string(server_id) +
                    " has no complete registration in this session: register again");
  }
  std::vector<store::OrphanEntry> items;
  items.reserve(entries.size());
  for (const ReplicaAgeItem& e : entries) {
    items.push_back(store::OrphanEntry{e.chunk_id, e.version, e.age_ms >= ctx.orphan_grace_ms});
  }
  CheckReplicasResult out;
  if (items.empty()) return out;
  std::vector<store::OrphanVerdict> verdicts;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(int64_t last_id, store::LastChunkId(tx));
    ASSIGN_OR_RETURN(verdicts, store::QueueOrphans(tx, server_id, items, last_id, false));
    return Status();
  }));
  out.unknown = static_cast<int64_t>(verdicts.size());
  int64_t held = 0;
  for (const store::OrphanVerdict& v : verdicts) {
    out.queued += v.queued ? 1 : 0;
    held += v.held ? 1 : 0;
  }
  if (out.queued > 0) {
    LOG(kInfo) << "orphan check of server " << server_id << ": " << out.queued
               << " replica(s) the metadata does not know, older than the grace, queued for "
                  "deletion ("
               << held << " of chunks not in the metadata: held for the retention)";
  }
  return out;
}

Result<FsckPage> Fsck(OpContext& ctx, const FsckArgs& args) {
  if (args.after_chunk_id < 0) return InvalidArgument("after_chunk_id is negative");
  const int limit = std::clamp(args.limit, 1, kMaxFsckChunks);
  InodeId subtree = 0;
  if (!args.path.empty() && args.path != "/") {
    ASSIGN_OR_RETURN(Attr a, ResolvePath(ctx, Caller{}, args.path));
    subtree = a.inode;
  }
  FsckPage page;
  std::vector<store::FsckChunkRow> rows;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(rows, store::FsckChunks(tx, args.after_chunk_id, limit, subtree));
    return Status();
  }));
  page.more = static_cast<int>(rows.size()) == limit;
  const int64_t upto = page.more ? rows.back().id : std::numeric_limits<int64_t>::max();
  page.next_after_chunk_id = page.more ? rows.back().id : 0;
  page.chunks_checked = static_cast<int64_t>(rows.size());

  // Every live server's replicas of the window.
  std::vector<int64_t> ids;
  for (const auto& r : rows) ids.push_back(r.id);
  std::map<int32_t, ServerState> servers;
  std::map<int32_t, std::map<int64_t, Listing>> disks;
  for (const ServerState& s : ctx.servers.Snapshot()) {
    servers[s.record.id] = s;
    if (!s.alive) continue;
    if (subtree > 0 && ids.empty()) continue;
    std::map<int64_t, Listing> listing;
    if (ReadInventory(ctx, s, args.after_chunk_id, upto, subtree > 0 ? &ids : nullptr, &listing)) {
      disks[s.record.id] = std::move(listing);
    } else {
      page.servers_not_checked.push_back(s.record.id);
    }
  }

  std::set<int64_t> known(ids.begin(), ids.end());
  // Rows to drop when repairing: (chunk, server).
  std::vector<std::pair<int64_t, int32_t>> drops;
  std::map<int32_t, std::vector<store::OrphanEntry>> orphan_entries;
  for (const store::FsckChunkRow& row : rows) {
    if (row.version == 0) continue;  // placed, never written: no data to lose
    FsckChunkView c;
    c.chunk_id = row.id;
    c.inode = row.inode;
    c.index = row.index;
    c.version = row.version;
    c.length = row.length;
    c.goal = row.goal;
    std::set<int32_t> with_row;
    // A server holds a version above the committed one while no write is
    // open: after a restore, the bytes of a later state (docs/backup.md).
    bool newer_on_disk = false;
    for (const store::ReplicaRecord& r : row.replicas) {
      with_row.insert(r.server_id);
      FsckReplicaView v;
      v.server_id = r.server_id;
      v.row_version = r.version;
      auto server = servers.find(r.server_id);
      if (server != servers.end()) {
        v.address = AddressOf(server->second);
        v.alive = server->second.alive;
      }
      auto disk = disks.find(r.server_id);
      const Listing* l = nullptr;
      if (disk != disks.end()) {
        auto it = disk->second.find(row.id);
        if (it != disk->second.end()) l = &it->second;
      }
      if (l) {
        v.disk_version = l->version;
        v.disk_length = l->length;
        v.corrupt = l->corrupt;
      }
      const bool checked = disk != disks.end();
      if (!v.alive) {
        v.state = "dead";
      } else if (!checked) {
        v.state = r.version == row.version ? "unchecked" : "stale";
      } else if (l == nullptr) {
        v.state = "absent";
      } else if (l->corrupt) {
        v.state = "corrupt";
      } else if (l->version < row.version || r.version < row.version) {
        v.state = "stale";
      } else if (l->version > row.version && !row.leased) {
        v.state = "newer";  // an unsettled write generation, or a state after a backup
        newer_on_disk = true;
      } else {
        v.state = "good";
      }
      if (v.state == "good" || v.state == "unchecked") ++c.good;
      if (v.state == "absent" || v.state == "corrupt") AddProblem(&c, "corrupt");
      if (v.state == "stale") AddProblem(&c, "stale");
      c.replicas.push_back(std::move(v));
    }
    // Replicas on disk that the chunk map does not list.
    for (const auto& [server_id, disk] : disks) {
      if (with_row.count(server_id)) continue;
      auto it = disk.find(row.id);
      if (it == disk.end()) continue;
      FsckReplicaView v;
      v.server_id = server_id;
      v.address = AddressOf(servers[server_id]);
      v.alive = true;
      v.disk_version = it->second.version;
      v.disk_length = it->second.length;
      v.corrupt = it->second.corrupt;
      v.state = it->second.version < row.version ? "stale" : "unrecorded";
      if (v.state == "stale") AddProblem(&c, "stale");
      if (it->second.version > row.version && !row.leased) newer_on_disk = true;
      c.replicas.push_back(v);
      if (page.orphans.size() < kMaxFsckOrphans) {
        page.orphans.push_back(FsckOrphanView{server_id, row.id, it->second.version,
                                              it->second.length, it->second.age_ms, true, false});
      } else {
        ++page.orphans_not_listed;
      }
      orphan_entries[server_id].push_back(
          store::OrphanEntry{row.id, it->second.version, it->second.age_ms >= ctx.orphan_grace_ms});
    }
    // No good replica: "changed" when a server holds a later version (the
    // file was written after the backup that was restored: the bytes of
    // the committed version are gone, the later ones belong to a state the
    // metadata no longer has), else "missing".
    if (c.good == 0) AddProblem(&c, newer_on_disk ? "changed" : "missing");
    if (c.good > 0 && c.good < c.goal) AddProblem(&c, "under_goal");
    if (c.good > c.goal) AddProblem(&c, "over_goal");
    if (args.repair && c.good > 0 && !row.leased) {
      for (const FsckReplicaView& v : c.replicas) {
        if (v.row_version >= 0 && v.alive &&
            (v.state == "absent" || v.state == "corrupt" || v.state == "stale" ||
             v.state == "newer")) {
          drops.emplace_back(row.id, v.server_id);
        }
      }
    }
    if (!c.problems.empty()) page.chunks.push_back(std::move(c));
  }
  // Replicas of chunks the metadata does not have (only without a PATH:
  // they belong to no file).
  if (subtree == 0) {
    for (const auto& [server_id, disk] : disks) {
      for (const auto& [chunk_id, l] : disk) {
        if (known.count(chunk_id)) continue;
        if (page.orphans.size() < kMaxFsckOrphans) {
          page.orphans.push_back(
              FsckOrphanView{server_id, chunk_id, l.version, l.length, l.age_ms, false, false});
        } else {
          ++page.orphans_not_listed;
        }
        orphan_entries[server_id].push_back(
            store::OrphanEntry{chunk_id, l.version, l.age_ms >= ctx.orphan_grace_ms});
      }
    }
  }

  if (args.repair && (!drops.empty() || !orphan_entries.empty())) {
    std::map<std::pair<int32_t, int64_t>, bool> queued;
    RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
      queued.clear();
      page.repair_actions = 0;
      for (const auto& [chunk_id, server_id] : drops) {
        RETURN_IF_ERROR(store::DropReplica(tx, chunk_id, server_id));
        ++page.repair_actions;
      }
      ASSIGN_OR_RETURN(int64_t last_id, store::LastChunkId(tx));
      for (const auto& [server_id, entries] : orphan_entries) {
        ASSIGN_OR_RETURN(std::vector<store::OrphanVerdict> verdicts,
                         store::QueueOrphans(tx, server_id, entries, last_id, true));
        for (const store::OrphanVerdict& v : verdicts) {
          if (v.queued) {
            queued[{server_id, v.chunk_id}] = v.held;
            ++page.repair_actions;
          }
        }
      }
      return Status();
    }));
    for (FsckOrphanView& o : page.orphans) {
      auto it = queued.find({o.server_id, o.chunk_id});
      o.queued = it != queued.end();
      o.held = o.queued && it->second;
    }
    LOG(kInfo) << "fsck --repair: " << drops.size() << " bad or stale replica rows dropped, "
               << queued.size() << " orphan replicas queued for deletion";
  }
  if (args.repair && ctx.repairer) ctx.repairer->Kick();

  // Orphans whose held deletion was queued before (docs/backup.md): kept
  // until the retention passes.
  std::map<int32_t, std::vector<int64_t>> orphan_ids;
  for (const FsckOrphanView& o : page.orphans) {
    if (!o.held && !o.known_chunk) orphan_ids[o.server_id].push_back(o.chunk_id);
  }
  if (!orphan_ids.empty()) {
    std::set<std::pair<int32_t, int64_t>> held;
    RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
      held.clear();
      for (const auto& [server_id, chunk_ids] : orphan_ids) {
        ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                         store::HeldDeletionsOf(tx, server_id, chunk_ids));
        for (int64_t id : ids) held.insert({server_id, id});
      }
      return Status();
    }));
    for (FsckOrphanView& o : page.orphans) {
      if (held.count({o.server_id, o.chunk_id})) o.held = true;
    }
  }

  // The paths of the chunks with a problem.
  std::map<InodeId, std::vector<std::string>> paths;
  for (FsckChunkView& c : page.chunks) {
    auto it = paths.find(c.inode);
    if (it == paths.end()) {
      std::vector<std::string> found;
      RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(found, store::PathsOf(tx, c.inode));
        return Status();
      }));
      it = paths.emplace(c.inode, std::move(found)).first;
    }
    c.paths = it->second;
  }
  return page;
}

}  // namespace ddbfs::meta
