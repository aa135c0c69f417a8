#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"

namespace ddbfs::meta::store {

// Rows as the store hands them to the ops layer. Inode attributes use the
// public ddbfs::Attr.

struct NewInode {
  FileType type = FileType::kRegular;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint32_t nlink = 1;
  int goal = 0;
  std::optional<std::string> symlink_target;
  uint64_t rdev = 0;
  std::string acl_access;  // POSIX ACLs in xattr form; empty: none
  std::string acl_default;
};

// A directory and, maybe, one of its entries.
struct EntryLookup {
  bool parent_exists = false;
  FileType parent_type = FileType::kDirectory;
  int parent_goal = 0;
  Attr parent;                // the directory's attributes (when it exists)
  std::optional<Attr> entry;  // the inode the name points to
};

struct SymlinkRecord {
  FileType type = FileType::kRegular;
  std::optional<std::string> target;  // set for symlinks
};

struct ReplicaRecord {
  int32_t server_id = 0;
  int64_t version = 0;
};

struct ChunkRecord {
  int64_t id = 0;
  InodeId inode = 0;
  int64_t index = 0;
  int64_t version = 0;  // committed version
  int64_t length = 0;
  int64_t pending_version = 0;  // highest version handed out (>= version)
  int64_t lease_id = 0;         // 0: no write lease
  int64_t lease_expires_ms = 0;
  std::vector<ReplicaRecord> replicas;
};

struct ServerRecord {
  int32_t id = 0;
  std::string uuid;
  std::string host;
  int32_t port = 0;
  std::string label;
  std::string rack;  // "": none (docs/repair.md, "Placement")
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  int64_t chunk_count = 0;
  std::optional<int64_t> last_heartbeat_unix_ms;
  bool draining = false;  // ddbfs server drain (docs/repair.md, "Draining")
};

struct ClusterCounts {
  int64_t files = 0;
  int64_t directories = 0;
  int64_t chunks = 0;
  int64_t chunks_under_goal = 0;
  int64_t chunks_missing = 0;
  int64_t chunks_over_goal = 0;  // more live up-to-date replicas than goal
  int64_t pending_deletions = 0;
  int64_t logical_bytes = 0;
  // Queued deletions still held for the retention (docs/backup.md), and
  // the bytes of those whose size is known.
  int64_t held_replicas = 0;
  int64_t held_bytes = 0;
};

}  // namespace ddbfs::meta::store
