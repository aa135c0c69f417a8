#pragma once

// What a chunk server knows, in memory, about the SHA-256 of its replicas
// (docs/content_hash.md):
//
// - a running hash per replica whose every byte was hashed as it was written
//   (writes from offset 0 onward, appends, holes as zeros), so that a sealed
//   write can answer the replica's SHA-256 without reading it back;
// - seals: once a replica's hash was given out for (chunk, version), bytes
//   at that version may not change until every capability that could still
//   write them has expired, so the hash stays true.
//
// Both are lost when the process stops: a replica written on after a restart
// has no running hash (its hash is recomputed by the metaserver's rehash), and
// a restarted server gives no proof until it has registered again, with a
// new session that the metaserver checks in every proof.
//
// Thread-safety: every method may be called from many threads at once. The
// caller serializes the calls for one chunk (ChunkStore's stripe lock held
// exclusively), so that Take ... Put of one chunk's hash is not interleaved
// with another change of the same replica.

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "ddbfs/content_hash.h"
#include "ddbfs/status.h"

namespace ddbfs::chunkserver {

class ChunkHashes {
 public:
  // Running hashes kept at most (the least recently used one goes first:
  // its replica's next commit then has no proof).
  static constexpr size_t kMaxRunning = 1024;
  // Seals kept at most (expired ones are dropped first); when full, no new
  // proof is given (the metaserver rehashes those chunks later).
  static constexpr size_t kMaxSeals = 262144;

  // The running hash of the chunk's replica, taken out of the table (the
  // caller puts it back with Put once the change it describes is done).
  // Its length() is the replica's length when it covers every byte.
  std::optional<Sha256> Take(uint64_t chunk_id);
  void Put(uint64_t chunk_id, Sha256 hash);
  // The replica's bytes are no longer known (a failed or non-sequential
  // write, a replica replaced or deleted): drops its running hash.
  void Forget(uint64_t chunk_id);
  // A copy of the running hash if it covers exactly `length` bytes.
  std::optional<Sha256> Snapshot(uint64_t chunk_id, uint64_t length) const;

  // kPermissionDenied when bytes of the chunk at `version` may not change
  // at `now_ms` (Seal).
  Status CheckUnsealed(uint64_t chunk_id, uint64_t version, int64_t now_ms) const;
  // Refuses changes of bytes at (chunk, version) until `until_ms` (a later
  // seal of the same version keeps the later time). False when the table
  // is full even after dropping expired seals: then no hash may be given.
  bool Seal(uint64_t chunk_id, uint64_t version, int64_t until_ms, int64_t now_ms);
  // The replica holds `version` now: a seal of an older version is moot
  // (writes at it are refused as stale).
  void VersionIs(uint64_t chunk_id, uint64_t version);

  size_t running() const;
  size_t seals() const;

 private:
  struct Running {
    Sha256 hash;
    std::list<uint64_t>::iterator in_order;  // its place in order_
  };
  struct SealEntry {
    uint64_t version = 0;
    int64_t until_ms = 0;
  };
  // REQUIRES: mu_ held.
  void DropExpiredSealsLocked(int64_t now_ms);

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Running> running_;  // GUARDED_BY(mu_)
  // The chunk ids of running_, least recently put first.
  std::list<uint64_t> order_;            // GUARDED_BY(mu_)
  std::map<uint64_t, SealEntry> seals_;  // GUARDED_BY(mu_)
};

}  // namespace ddbfs::chunkserver
