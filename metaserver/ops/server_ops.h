#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ddbfs/status.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta {

// Chunk-server operations (servers.cc): registration with inventory
// reconciliation, heartbeats (liveness in memory, GC orders), and the
// cluster status. Thread-safe.

struct InventoryItem {
  int64_t chunk_id = 0;
  int64_t version = 0;
};

struct RegisterArgs {
  std::string host;
  int32_t port = 0;
  std::string label;  // "" means host
  std::string uuid;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  std::vector<InventoryItem> inventory;
};

struct RegisterResult {
  int32_t server_id = 0;
  int heartbeat_interval_ms = 0;
  std::vector<int64_t> delete_chunks;  // replicas the metadata does not know
};

// Inserts or updates the server by uuid (same uuid, same id) and marks it
// alive; reconciles its inventory with ddbfs.replicas: unknown replicas are
// returned to delete, replica rows whose data is gone are deleted, rows
// whose stored version is older are set to it (stale).
Result<RegisterResult> RegisterServer(OpContext& ctx, const RegisterArgs& args);

struct HeartbeatArgs {
  int32_t server_id = 0;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  int64_t chunk_count = 0;
  std::vector<int64_t> deleted_chunks;
};

struct HeartbeatResult {
  std::vector<int64_t> delete_chunks;  // up to 1000 queued deletions
  bool reregister = false;
};

inline constexpr int kMaxDeletionsPerHeartbeat = 1000;

Result<HeartbeatResult> Heartbeat(OpContext& ctx, const HeartbeatArgs& args);

struct ServerStatusEntry {
  int32_t server_id = 0;
  std::string host;
  int32_t port = 0;
  std::string label;
  bool alive = false;
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  int64_t chunks = 0;
  int64_t last_heartbeat_ms_ago = -1;  // -1: never
};

struct ClusterStatusResult {
  std::vector<ServerStatusEntry> servers;
  store::ClusterCounts counts;
};

Result<ClusterStatusResult> ClusterStatus(OpContext& ctx);

// Loads the registered servers into ctx.servers (at start).
Status LoadServers(OpContext& ctx);

}  // namespace ddbfs::meta
