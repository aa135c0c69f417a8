#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta {

// Chunk-server operations (servers.cc): registration, paged inventory
// reconciliation, heartbeats (liveness in memory, GC orders), and the
// cluster status. Thread-safe.

struct InventoryItem {
  int64_t chunk_id = 0;
  int64_t version = 0;
};

// Largest inventory page a server may send (RegisterServerResponse
// .max_page_entries): bounds what one page makes the metaserver hold and
// how long its transaction holds the writer (about 0.1-0.3 s).
inline constexpr int kMaxInventoryPage = 50000;

struct RegisterArgs {
  std::string host;
  int32_t port = 0;
  std::string label;  // "" means host
  std::string uuid;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  // Without `paged_inventory`: the whole inventory, in any order (a chunk
  // listed twice counts with its highest version); reconciled before
  // RegisterServer returns. With it: empty, the pages follow
  // (ReportInventory) and `chunk_count` says how many chunks they carry.
  std::vector<InventoryItem> inventory;
  bool paged_inventory = false;
  int64_t chunk_count = 0;
  std::string rack = "";  // "": none (last: older aggregate initializers stay valid)
};

struct RegisterResult {
  int32_t server_id = 0;
  int heartbeat_interval_ms = 0;
  int64_t session = 0;  // for ReportInventory and Heartbeat
  int max_page_entries = kMaxInventoryPage;
  std::vector<int64_t> delete_chunks;  // from the inline inventory, if any
};

// Inserts or updates the server by uuid (same uuid, same id) and marks it
// alive with a new registration session. kPermissionDenied if another
// address holds the uuid and is alive. An inline inventory is reconciled
// page by page exactly as ReportInventory does.
Result<RegisterResult> RegisterServer(OpContext& ctx, const RegisterArgs& args);

struct InventoryPageArgs {
  int32_t server_id = 0;
  int64_t session = 0;
  std::vector<InventoryItem> entries;  // strictly increasing chunk ids
  bool last = false;
};

struct InventoryPageResult {
  std::vector<int64_t> delete_chunks;  // replicas to delete now
};

// Reconciles one inventory page with ddbfs.replicas, in one transaction, for
// the chunk ids after the previous page up to this page's last (up to the
// end for the last page). Never orders a deletion because a chunk is
// missing from the inventory; a replica is ordered deleted only when the
// metadata says it is garbage (docs/metadata.md, "Chunk servers and
// liveness"):
//  - its chunk was deleted (not in ddbfs.chunks, id ever allocated, and no
//    deletion already queued);
//  - it is stale (version below the committed one), no write lease is open
//    on the chunk, and another server's row holds the committed version.
// Otherwise its row is inserted or set to the reported version (including
// versions above the committed one: an unsettled write generation). Rows
// of this server in the range that the page does not list are dropped (the
// server does not hold them: the chunk counts under goal), except rows of
// never-written chunks. Queued deletions of chunks it does not hold are
// dropped.
Result<InventoryPageResult> ReportInventory(OpContext& ctx, const InventoryPageArgs& args);

struct HeartbeatArgs {
  int32_t server_id = 0;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  int64_t chunk_count = 0;
  std::vector<int64_t> deleted_chunks;
  int64_t session = 0;  // 0: not given (a server that predates sessions)
  // Replicas its scrubber found bad: (chunk id, version; 0 unknown), at
  // most kMaxBadPerHeartbeat (docs/repair.md, "Scrubbing").
  std::vector<std::pair<int64_t, int64_t>> bad_replicas = {};
};

struct HeartbeatResult {
  std::vector<int64_t> delete_chunks;  // up to 1000 queued deletions
  bool reregister = false;
};

inline constexpr int kMaxDeletionsPerHeartbeat = 1000;
inline constexpr size_t kMaxBadPerHeartbeat = 1000;

Result<HeartbeatResult> Heartbeat(OpContext& ctx, const HeartbeatArgs& args);

struct ServerStatusEntry {
  int32_t server_id = 0;
  std::string host;
  int32_t port = 0;
  std::string label;
  std::string rack;
  bool alive = false;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  int64_t chunks = 0;
  int64_t last_heartbeat_ms_ago = -1;  // -1: never
  bool draining = false;
  int64_t drain_chunks_left = 0;  // draining: its replica rows of written chunks
};

struct ClusterStatusResult {
  std::vector<ServerStatusEntry> servers;
  store::ClusterCounts counts;
  RepairStats repair;  // enabled == false when no repair runs
};

Result<ClusterStatusResult> ClusterStatus(OpContext& ctx);

// ddbfs server drain / undrain (docs/repair.md, "Draining"): sets the
// server's flag in the database and the registry and kicks the repair.
// Returns its replica rows of written chunks. kNotFound for an unknown id.
Result<int64_t> DrainServer(OpContext& ctx, int32_t server_id, bool drain);

// ddbfs server remove: forgets the server. kBusy while it is alive (it
// would register again), kNotEmpty while it has replica rows of written
// chunks (the message says how many are the only live copy).
Status RemoveServer(OpContext& ctx, int32_t server_id);

// Loads the registered servers into ctx.servers (at start).
Status LoadServers(OpContext& ctx);

}  // namespace ddbfs::meta
