#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ddbfs/client.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta::store {

// The metaserver's write-through cache of inodes and directory entries
// (DESIGN decision 1, docs/metadata.md "The namespace cache"): lookups and
// getattrs, in the read pool and inside the writer's transactions, are
// answered from memory instead of a PostgreSQL round trip each.
//
// Coherence rests on one fact: the writer's transactions are the only ones
// that change ddbfs.inodes or ddbfs.dentries (the bulk writer changes tags
// only; nobody else writes the namespace). Every store function that changes
// them tells its Tx what it changed (the new row when the statement returns
// it, "changed, value unknown" when not); when the transaction ends, Apply()
// puts the known new rows into the cache and drops the others (everything,
// after a rollback), before any caller of the batch is answered.
//
// A read that missed fills the cache with what it read, unless anything was
// applied since it started (the epoch moved): a read that raced with a
// commit must not put the old row back after the commit dropped it.
//
// It also keeps chunk maps (what GetChunks, the read of every open, returns:
// an inode's chunks and their replicas), coarsely: every writer statement
// that changes ddbfs.chunks or ddbfs.replicas marks its transaction
// (Tx::Exec), and the end of such a transaction drops every cached map. A
// map is answered with the inode row cached beside it, under one lock, so
// the two are of one moment.
//
// Bounded: beyond `max_inodes` / `max_entries`, an arbitrary entry goes for
// each one added; at most kMaxChunkMaps maps of at most kMaxChunksPerMap
// chunks. Thread-safe.
class MetaCache {
 public:
  // The changes of one transaction. Inodes: the row after the change, or
  // nullopt when it changed to something not known here (or was deleted).
  // Entries (parent, name): the inode the name now points at, 0 when the
  // name is gone, nullopt when not known.
  // `new_dirs`: directories the transaction created (empty, so every entry
  // they will have goes through the writer: the cache knows them all).
  struct Changes {
    std::unordered_map<InodeId, std::optional<Attr>> inodes;
    std::map<std::pair<InodeId, std::string>, std::optional<InodeId>> entries;
    std::vector<InodeId> new_dirs;
    // A statement changed ddbfs.chunks or ddbfs.replicas.
    bool chunks = false;
    bool empty() const { return inodes.empty() && entries.empty() && new_dirs.empty() && !chunks; }
  };

  // `verify`: every hit in the writer is read from PostgreSQL too and a
  // difference stops the process (tests run with it; a missed change report
  // shows at once).
  MetaCache(size_t max_inodes, size_t max_entries, bool verify = false);
  bool verify() const { return verify_; }

  // The number of Apply() calls so far; read it before a read that may fill.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  std::optional<Attr> Inode(InodeId inode) const;
  // nullopt: not known; 0: known to be absent; else the inode it names. A
  // name not in the cache is known to be absent from a *complete*
  // directory: one created since the metaserver started, none of whose
  // entries has been dropped from the cache since (a dropped entry, or a
  // change whose result was not known, makes it incomplete for good).
  std::optional<InodeId> Entry(InodeId parent, const std::string& name) const;

  // Adds what a read found, unless the epoch moved past `read_epoch`.
  // `entry_inode` 0: the name is absent.
  void FillInode(uint64_t read_epoch, const Attr& attr);
  void FillEntry(uint64_t read_epoch, InodeId parent, const std::string& name, InodeId entry_inode);

  // The name of `inode` in its parent, for the ways up of queries and tag
  // listings, when it is its only name: a directory, or a file with one
  // link. Names are kept as hints (from committed entries and from reads)
  // and each answer is checked against the entry cache, which is coherent:
  // the hint (parent, name) is returned only while the entry (parent, name)
  // names `inode` and the inode's row is cached. So a hint never needs
  // dropping when the name changes; it just stops being answered.
  std::optional<std::pair<InodeId, std::string>> OnlyName(InodeId inode) const;
  void HintName(InodeId inode, InodeId parent, const std::string& name);

  // The cached map of the chunks of `inode` with index in [first, end),
  // with the inode's cached row; nullopt: either is not cached.
  struct ChunkMapHit {
    Attr attr;
    std::vector<ChunkRecord> chunks;
  };
  static constexpr size_t kMaxChunkMaps = 100000;
  static constexpr size_t kMaxChunksPerMap = 16;
  std::optional<ChunkMapHit> ChunkMap(InodeId inode, int64_t first, int64_t end) const;
  // Adds what a read found (a map of at most kMaxChunksPerMap chunks),
  // unless the epoch moved past `read_epoch`.
  void FillChunkMap(uint64_t read_epoch, InodeId inode, int64_t first, int64_t end,
                    const std::vector<ChunkRecord>& chunks);

  // The end of a writer transaction: committed, its known rows replace the
  // cached ones and the rest is dropped; not committed (or in doubt), every
  // key it touched is dropped. Moves the epoch either way.
  void Apply(const Changes& changes, bool committed);

  // Drops everything (a commit in doubt whose changes were not recorded).
  void Clear();

  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  void CountHit() const { hits_.fetch_add(1, std::memory_order_relaxed); }
  void CountMiss() const { misses_.fetch_add(1, std::memory_order_relaxed); }

 private:
  struct EntryKeyHash {
    size_t operator()(const std::pair<InodeId, std::string>& k) const {
      return std::hash<std::string>()(k.second) * 31 + std::hash<InodeId>()(k.first);
    }
  };
  void PutInodeLocked(const Attr& attr);
  void PutEntryLocked(const std::pair<InodeId, std::string>& key, InodeId inode);
  void EraseEntryLocked(const std::pair<InodeId, std::string>& key);
  void HintNameLocked(InodeId inode, const std::pair<InodeId, std::string>& key);

  const size_t max_inodes_;
  const size_t max_entries_;
  const bool verify_;
  mutable std::mutex mu_;
  std::atomic<uint64_t> epoch_{0};  // moved only under mu_
  std::unordered_map<InodeId, Attr> inodes_;
  std::unordered_map<std::pair<InodeId, std::string>, InodeId, EntryKeyHash> entries_;
  std::unordered_set<InodeId> complete_;  // directories whose every entry is in entries_
  // inode -> (parent, name) it was last seen under (OnlyName checks it).
  std::unordered_map<InodeId, std::pair<InodeId, std::string>> names_;
  struct CachedChunks {
    int64_t first = 0;
    int64_t end = 0;
    std::vector<ChunkRecord> chunks;
  };
  std::unordered_map<InodeId, CachedChunks> chunk_maps_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

// Field-by-field equality of two attribute rows.
bool SameAttr(const Attr& a, const Attr& b);

}  // namespace ddbfs::meta::store
