#pragma once

// The replicas of one chunk server: chunk files spread over one or more data
// folders, an in-memory inventory of them, the server's uuid and its space.
//
// Layout: <dir>/<chunk_id % 256 as 2 hex digits>/<chunk_id as 16 hex>.chunk,
// and <first dir>/server.uuid (docs/chunk_format.md).
//
// Thread-safety: every method may be called from many threads at once.
// Operations on one chunk are serialized by a striped lock (reads share it),
// so requests on different chunks run in parallel. Recently used chunk files
// stay open (ChunkFile keeps what is durable in memory; a file opened again
// is recovered from disk). A file that opens with a small unsealed change
// (ChunkFile::Open) is sealed later, in a batch (SealOpened).

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chunk_file.h"
#include "chunk_hashes.h"
#include "ddbfs/content_hash.h"
#include "ddbfs/status.h"

namespace ddbfs::chunkserver {

struct ChunkReplica {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
};

// One replica as ListReplicas and the orphan check see it.
struct ReplicaListing {
  uint64_t chunk_id = 0;
  uint64_t version = 0;  // 0 when its header is unreadable
  uint64_t length = 0;
  bool corrupt = false;  // bad header, a bad block, unreadable or gone
  int64_t age_ms = 0;    // since its file last changed on this server
};

// What ScrubChunk found.
enum class ScrubResult {
  kGood,     // every block matched its CRC
  kBad,      // corrupt, truncated, unreadable or gone: noted (see BadReplicas)
  kSkipped,  // deleted, or changed while it was read: nothing to say
  kStopped,  // the pacing callback asked to stop
};

// What a chunk server reports of its space (docs/repair.md, "Rebalancing"):
// `used_bytes` is what its replicas hold (their lengths), `capacity_bytes`
// the free space of its data folders' file systems plus that, capped by
// --capacity-gib when set. Chunk servers sharing one disk thus still differ
// by what they store.
struct SpaceInfo {
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
};

struct ReadResult {
  std::string data;
  uint64_t version = 0;  // the replica's version
};

struct ChunkStateResult {
  uint64_t version = 0;
  uint64_t length = 0;
};

// A new replica being filled (ReplicateChunk) in a temporary file beside
// the chunk's own, not yet visible. Made by ChunkStore::BeginReplica.
struct PendingReplica {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  size_t dir_index = 0;
  std::string tmp_path;
  std::unique_ptr<ChunkFile> file;  // write the bytes here
  // SHA-256 of the bytes written so far, when they are written in order
  // from offset 0 (a copy): becomes the replica's running hash.
  Sha256 hash;
};

// What a write asks about the replica's content hash (docs/content_hash.md).
struct HashRequest {
  // After the write: give the replica's SHA-256 if every byte of it was
  // hashed as written, and seal (chunk, version) until seal_until_ms.
  bool seal = false;
  int64_t seal_until_ms = 0;
};
// The answer of a sealed write.
struct HashAnswer {
  bool sealed = false;  // false: no running hash covers the replica (or no room for a seal)
  uint64_t length = 0;  // the replica's length
  std::string sha256;   // raw
};

class ChunkStore {
 public:
  // Opens the data folders (created if missing), reads or creates the uuid,
  // and scans every chunk file into the inventory: each is recovered (see
  // ChunkFile::Open), a format-1 file is converted to format 2, leftover
  // temporary files are removed. A file with a bad header (or one naming
  // another chunk) is logged and left out of the inventory (it stays on
  // disk until Delete). Fails only if a folder or the uuid cannot be used.
  static Result<std::unique_ptr<ChunkStore>> Open(const std::vector<std::string>& dirs);
  ~ChunkStore();  // stops the sealing thread

  // Seals the files that opened unsealed (ChunkFile::Open: a verified
  // header with a few changed blocks, written without a sync) since the
  // last call: one syncfs per data folder makes them durable, then each
  // that still has the header it opened with gets its copy without dirty
  // bits (ChunkFile::SealDurable), under its lock. Returns how many were
  // sealed. At most kMaxWaitingSeals wait; a file opened beyond that is
  // sealed at once (two fdatasyncs, as before).
  size_t SealOpened();
  // Runs SealOpened every `interval_ms` on a thread until destruction.
  void StartSealing(int interval_ms);
  // Files waiting for SealOpened (tests, status).
  size_t waiting_seals() const;
  static constexpr size_t kMaxWaitingSeals = 1 << 16;

  const std::string& uuid() const { return uuid_; }

  // Writes `data` at `offset`, creating the chunk if absent. The version
  // rule: `version` < the replica's version is kStaleVersion; otherwise the
  // replica takes `version`. With `sync`, fdatasync before returning. A
  // failed write leaves the replica as it was (a chunk created by this call
  // is removed again). Bytes at a sealed version are refused
  // (kPermissionDenied, see ChunkHashes). The replica's running hash goes on
  // with the write when it continues it (an append, or a write from offset
  // 0 that covers the whole replica); `hash.seal` then answers it in
  // *answer.
  Status Write(uint64_t chunk_id, uint64_t version, uint64_t offset, std::span<const char> data,
               bool sync, const HashRequest& hash = {}, HashAnswer* answer = nullptr);
  // Sets the chunk's length (creating it if absent), same version rule;
  // always synced. Refused at a sealed version.
  Status Truncate(uint64_t chunk_id, uint64_t version, uint64_t length);
  // The SHA-256 of the replica's bytes [0, length) at exactly `version`,
  // bytes past the replica's length counting as zeros, every block read
  // checked against its CRC (docs/content_hash.md). Seals (chunk, version)
  // until seal_until_ms first (kBusy when no seal can be kept), so the bytes
  // cannot change under the read. *replica_length: the replica's length.
  Result<std::string> HashReplica(uint64_t chunk_id, uint64_t version, uint64_t length,
                                  int64_t seal_until_ms, uint64_t* replica_length);
  // Reads [offset, offset+len) of a replica whose version is exactly
  // `version` (else kStaleVersion, naming the version held); kNotFound if
  // absent, kChecksumMismatch if corrupt.
  Result<ReadResult> Read(uint64_t chunk_id, uint64_t version, uint64_t offset, uint64_t len);
  // The replica's version and length.
  Result<ChunkStateResult> State(uint64_t chunk_id);
  // If the replica is at `from_version` (else kStaleVersion), sets its
  // version to `to_version` (>= from) and, when `length` >= 0, its length.
  // Synced before it returns.
  Status SetVersion(uint64_t chunk_id, uint64_t from_version, uint64_t to_version, int64_t length);

  // ReplicateChunk: BeginReplica creates `<chunk file>.tmp` (beside the
  // existing replica, else in the emptiest folder) for the caller to fill
  // without any lock; CommitReplica syncs it, renames it over the replica
  // under the chunk's lock, syncs the folder and records `version`;
  // AbortReplica removes it. A failure leaves the old replica untouched.
  // Two copies of one chunk at once: the second is kBusy.
  Result<PendingReplica> BeginReplica(uint64_t chunk_id, uint64_t version);
  Status CommitReplica(PendingReplica* replica);
  void AbortReplica(PendingReplica* replica);
  // Removes the replica from every folder; kNotFound if there was none.
  Status Delete(uint64_t chunk_id);

  // The running hashes and seals (for tests and status).
  const ChunkHashes& hashes() const { return hashes_; }

  // Every good replica with its version, sorted by chunk id.
  std::vector<ChunkReplica> Inventory() const;
  // Replicas with ids in (after, upto], sorted, at most `limit`, including
  // the corrupt ones (bad header: version 0) and those found bad;
  // *more when the range holds more after the last one returned.
  std::vector<ReplicaListing> List(uint64_t after, uint64_t upto, size_t limit, bool* more) const;
  // The same for the given ids (those this server holds).
  std::vector<ReplicaListing> ListIds(const std::vector<uint64_t>& ids) const;

  // Scrubbing (docs/repair.md, "Scrubbing"): checks that the replica's file
  // is still there and reads every block of it, checking each CRC32C as a
  // client read does, in pieces of at most 1 MiB; `pace(bytes)` runs after
  // each piece (false: stop). A bad replica (a CRC mismatch, a bad header,
  // a truncated or unreadable file, a file gone from disk) is noted to be
  // reported (BadReplicas); one gone from disk also leaves the inventory.
  // Takes the chunk's lock only for each piece, so writes go on.
  ScrubResult ScrubChunk(uint64_t chunk_id, const std::function<bool(uint64_t)>& pace);
  // Replicas found bad and not yet reported to the metaserver (at most
  // `max`); MarkReported once the metaserver took them. A replica deleted
  // or replaced by a copy is forgotten.
  std::vector<ChunkReplica> BadReplicas(size_t max) const;
  void MarkReported(const std::vector<ChunkReplica>& reported);
  // False when the replica's file is gone from disk (even if still open
  // here): it then leaves the inventory and is noted bad. True for a file
  // that is there, or a chunk that is not a replica here.
  bool ConfirmOnDisk(uint64_t chunk_id);
  // Notes a replica as bad (the scrubber; tests).
  void NoteBad(uint64_t chunk_id, uint64_t version);
  size_t chunk_count() const;
  // The bytes of the replicas (see SpaceInfo) and the capacity: the free
  // space of the data folders (statvfs; a file system shared by folders
  // counts once) plus the replicas' bytes, at most the limit if one is set.
  SpaceInfo Space() const;
  // --capacity-gib: the replicas may hold at most `bytes` (0: no limit but
  // the disks'). Call before serving.
  void set_capacity_limit(uint64_t bytes) { capacity_limit_ = bytes; }
  uint64_t capacity_limit() const { return capacity_limit_; }
  // OK when `more` bytes of new replica data fit under the capacity limit,
  // else kNoSpace. Concurrent writers may each pass and together go past
  // the limit by what they have in flight.
  Status CheckRoom(uint64_t more) const;
  // The bytes the replicas hold (the sum of their lengths).
  uint64_t stored_bytes() const;
  const std::vector<std::string>& dirs() const { return dirs_; }

  // Path of the chunk file in folder `dir_index`.
  std::string ChunkPath(size_t dir_index, uint64_t chunk_id) const;

 private:
  struct Entry;
  static constexpr size_t kLockStripes = 256;
  // Chunk files kept open at most.
  static constexpr size_t kMaxOpenFiles = 256;
  using FilePtr = std::shared_ptr<ChunkFile>;

  explicit ChunkStore(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}
  // Notes an unsealed file for SealOpened; seals it at once if too many
  // wait. REQUIRES: the chunk's stripe held exclusively (or the scan).
  Status NoteUnsealed(uint64_t chunk_id, ChunkFile& file);
  // Adds (chunk_id, seq) to to_seal_ unless kMaxWaitingSeals wait already
  // (false: the caller seals it, or leaves it for its next change).
  // REQUIRES: map_mu_ held.
  bool QueueSealLocked(uint64_t chunk_id, uint64_t seq);

  Status LoadOrCreateUuid();
  // Loads the inventory of data folder `dir_index`: its two-hex-digit
  // folders, kScanThreads at a time.
  void ScanDir(size_t dir_index);
  void ScanSubdir(size_t dir_index, const std::filesystem::path& sub);
  static constexpr size_t kScanThreads = 8;
  // The folder with the most free space (for a new chunk).
  size_t PickDir() const;
  std::shared_mutex& LockFor(uint64_t chunk_id) {
    return stripes_[(chunk_id * 0x9E3779B97F4A7C15ull) >> 56];
  }
  // Opens the chunk for a mutation, creating it in the emptiest folder when
  // absent (*created tells). REQUIRES: the chunk's stripe held exclusively.
  Result<FilePtr> OpenForWrite(uint64_t chunk_id, uint64_t version, bool* created,
                               size_t* dir_index);
  // The open file of a chunk in the inventory, opening (recovering) it if
  // needed, with its identity checked. REQUIRES: the stripe held
  // exclusively (a shared holder uses Cached and falls back to this).
  Result<FilePtr> Acquire(uint64_t chunk_id, size_t* dir_index);
  FilePtr Cached(uint64_t chunk_id) const;
  void KeepOpen(uint64_t chunk_id, FilePtr file);
  // Re-reads the header of `file` and checks it names `chunk_id`; if not,
  // the replica is marked corrupt (left out of the inventory). REQUIRES:
  // the stripe held.
  Status CheckIdentity(uint64_t chunk_id, const ChunkFile& file);
  void MarkCorrupt(uint64_t chunk_id);
  // Runs `fn` with the chunk's open file under its stripe lock (shared if
  // the file is open already, else exclusive).
  template <typename T>
  Result<T> WithFile(uint64_t chunk_id, const std::function<Result<T>(ChunkFile&)>& fn);
  // Creates <dir>/<subdir of chunk_id> if missing.
  Status EnsureSubdir(size_t dir_index, uint64_t chunk_id);
  // Write/Truncate: opens or creates the chunk under its stripe, applies the
  // version rule, runs `op`, syncs, and records the outcome; then, if all
  // went well, runs `done` (still under the stripe). A failure forgets the
  // replica's running hash.
  Status Mutate(uint64_t chunk_id, uint64_t version, bool sync,
                const std::function<Status(ChunkFile&)>& op,
                const std::function<void(ChunkFile&)>& done = {});
  // Sets or removes an inventory entry, keeping stored_bytes_ in step.
  // REQUIRES: map_mu_ held.
  void PutEntryLocked(uint64_t chunk_id, const Entry& entry);
  void EraseEntryLocked(uint64_t chunk_id);
  // Records the outcome of a mutation. REQUIRES: the chunk's stripe held.
  void Remember(uint64_t chunk_id, size_t dir_index, uint64_t version, uint64_t length);
  Status CheckUsable(uint64_t chunk_id, size_t* dir_index) const;
  // Age of a corrupt file (no entry) from its mtime; 0 if none found.
  int64_t CorruptAgeMs(uint64_t chunk_id) const;
  ReplicaListing ListingOf(uint64_t chunk_id) const;  // REQUIRES: map_mu_ held

  const std::vector<std::string> dirs_;
  std::string uuid_;
  ChunkHashes hashes_;
  std::array<std::shared_mutex, kLockStripes> stripes_;

  struct Entry {
    size_t dir_index = 0;
    uint64_t version = 0;
    uint64_t length = 0;
    int64_t changed_ms = 0;  // SteadyMs() when the file last changed
  };
  struct Bad {
    uint64_t version = 0;
    bool reported = false;
  };
  mutable std::mutex map_mu_;
  std::map<uint64_t, Entry> chunks_;  // GUARDED_BY(map_mu_)
  uint64_t stored_bytes_ = 0;         // GUARDED_BY(map_mu_): sum of chunks_' lengths
  uint64_t capacity_limit_ = 0;       // 0: none
  std::set<uint64_t> corrupt_;        // GUARDED_BY(map_mu_): bad or foreign header
  std::map<uint64_t, Bad> bad_;       // GUARDED_BY(map_mu_): found bad by the scrubber
  std::map<uint64_t, FilePtr> open_;  // GUARDED_BY(map_mu_): open files, at most kMaxOpenFiles
  std::deque<uint64_t> open_order_;   // GUARDED_BY(map_mu_): ids in the order opened
  // GUARDED_BY(map_mu_): (chunk id, header sequence) of files opened unsealed.
  std::vector<std::pair<uint64_t, uint64_t>> to_seal_;

  std::mutex sealer_mu_;
  std::condition_variable sealer_cv_;
  bool sealer_stopping_ = false;  // GUARDED_BY(sealer_mu_)
  std::thread sealer_;
};

}  // namespace ddbfs::chunkserver
