#pragma once

// The replicas of one chunk server: chunk files spread over one or more data
// folders, an in-memory inventory of them, the server's uuid and its space.
//
// Layout: <dir>/<chunk_id % 256 as 2 hex digits>/<chunk_id as 16 hex>.chunk,
// and <first dir>/server.uuid (docs/chunk_format.md).
//
// Thread-safety: every method may be called from many threads at once.
// Operations on one chunk are serialized by a striped lock (reads share it),
// so requests on different chunks run in parallel.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "chunk_file.h"
#include "ddbfs/status.h"

namespace ddbfs::chunkserver {

struct ChunkReplica {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
};

struct SpaceInfo {
  uint64_t capacity_bytes = 0;  // sum over the distinct file systems
  uint64_t used_bytes = 0;
};

struct ReadResult {
  std::string data;
  uint64_t version = 0;  // the replica's version
};

class ChunkStore {
 public:
  // Opens the data folders (created if missing), reads or creates the uuid,
  // and scans every chunk file's header into the inventory. A file with a
  // bad header is logged and left out of the inventory (it stays on disk
  // until Delete). Fails only if a folder or the uuid cannot be used.
  static Result<std::unique_ptr<ChunkStore>> Open(const std::vector<std::string>& dirs);

  const std::string& uuid() const { return uuid_; }

  // Writes `data` at `offset`, creating the chunk if absent. The version
  // rule: `version` < the replica's version is kStaleVersion; otherwise the
  // replica takes `version`. With `sync`, fdatasync before returning. A
  // failed write leaves the replica as it was (a chunk created by this call
  // is removed again).
  Status Write(uint64_t chunk_id, uint64_t version, uint64_t offset, std::span<const char> data,
               bool sync);
  // Sets the chunk's length (creating it if absent), same version rule;
  // always synced.
  Status Truncate(uint64_t chunk_id, uint64_t version, uint64_t length);
  // Reads [offset, offset+len) of a replica whose version is >= min_version
  // (else kStaleVersion); kNotFound if absent, kChecksumMismatch if corrupt.
  Result<ReadResult> Read(uint64_t chunk_id, uint64_t min_version, uint64_t offset, uint64_t len);
  // Removes the replica from every folder; kNotFound if there was none.
  Status Delete(uint64_t chunk_id);

  // Every good replica with its version, sorted by chunk id.
  std::vector<ChunkReplica> Inventory() const;
  size_t chunk_count() const;
  // statvfs over the data folders (a file system shared by folders counts once).
  SpaceInfo Space() const;
  const std::vector<std::string>& dirs() const { return dirs_; }

  // Path of the chunk file in folder `dir_index`.
  std::string ChunkPath(size_t dir_index, uint64_t chunk_id) const;

 private:
  static constexpr size_t kLockStripes = 256;

  explicit ChunkStore(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}

  Status LoadOrCreateUuid();
  void ScanDir(size_t dir_index);
  // The folder with the most free space (for a new chunk).
  size_t PickDir() const;
  std::shared_mutex& LockFor(uint64_t chunk_id) {
    return stripes_[(chunk_id * 0x9E3779B97F4A7C15ull) >> 56];
  }
  // Opens the chunk for a mutation, creating it in the emptiest folder when
  // absent (*created tells). REQUIRES: the chunk's stripe held exclusively.
  Result<std::unique_ptr<ChunkFile>> OpenForWrite(uint64_t chunk_id, uint64_t version,
                                                  bool* created, size_t* dir_index);
  // Write/Truncate: opens or creates the chunk under its stripe, applies the
  // version rule, runs `op`, syncs, and records the outcome.
  Status Mutate(uint64_t chunk_id, uint64_t version, bool sync,
                const std::function<Status(ChunkFile&)>& op);
  // Records the outcome of a mutation. REQUIRES: the chunk's stripe held.
  void Remember(uint64_t chunk_id, size_t dir_index, uint64_t version);
  Status CheckUsable(uint64_t chunk_id, size_t* dir_index) const;

  const std::vector<std::string> dirs_;
  std::string uuid_;
  std::array<std::shared_mutex, kLockStripes> stripes_;

  struct Entry {
    size_t dir_index = 0;
    uint64_t version = 0;
  };
  mutable std::mutex map_mu_;
  std::map<uint64_t, Entry> chunks_;  // GUARDED_BY(map_mu_)
  std::set<uint64_t> corrupt_;        // GUARDED_BY(map_mu_): bad header at scan time
};

}  // namespace ddbfs::chunkserver
