#include "metaserver/store/meta_cache.h"

#include <algorithm>

namespace ddbfs::meta::store {

MetaCache::MetaCache(size_t max_inodes, size_t max_entries, bool verify)
    : max_inodes_(max_inodes), max_entries_(max_entries), verify_(verify) {}

std::optional<Attr> MetaCache::Inode(InodeId inode) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = inodes_.find(inode);
  if (it == inodes_.end()) return std::nullopt;
  return it->second;
}

std::optional<InodeId> MetaCache::Entry(InodeId parent, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(std::make_pair(parent, name));
  if (it != entries_.end()) return it->second;
  if (complete_.count(parent) != 0) return InodeId{0};
  return std::nullopt;
}

void MetaCache::PutInodeLocked(const Attr& attr) {
  if (max_inodes_ == 0) return;
  auto it = inodes_.find(attr.inode);
  if (it != inodes_.end()) {
    it->second = attr;
    return;
  }
  if (inodes_.size() >= max_inodes_) inodes_.erase(inodes_.begin());
  inodes_.emplace(attr.inode, attr);
}

void MetaCache::PutEntryLocked(const std::pair<InodeId, std::string>& key, InodeId inode) {
  if (max_entries_ == 0) return;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second = inode;
    return;
  }
  if (entries_.size() >= max_entries_) EraseEntryLocked(entries_.begin()->first);
  entries_.emplace(key, inode);
}

void MetaCache::EraseEntryLocked(const std::pair<InodeId, std::string>& key) {
  // Without this entry the directory's names are no longer all known.
  complete_.erase(key.first);
  entries_.erase(key);
}

void MetaCache::FillInode(uint64_t read_epoch, const Attr& attr) {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch_.load(std::memory_order_relaxed) != read_epoch) return;
  PutInodeLocked(attr);
}

void MetaCache::FillEntry(uint64_t read_epoch, InodeId parent, const std::string& name,
                          InodeId entry_inode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch_.load(std::memory_order_relaxed) != read_epoch) return;
  PutEntryLocked(std::make_pair(parent, name), entry_inode);
}

std::optional<std::pair<InodeId, std::string>> MetaCache::OnlyName(InodeId inode) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto hint = names_.find(inode);
  if (hint == names_.end()) return std::nullopt;
  auto row = inodes_.find(inode);
  if (row == inodes_.end()) return std::nullopt;
  if (row->second.type != FileType::kDirectory && row->second.nlink != 1) return std::nullopt;
  auto entry = entries_.find(hint->second);
  if (entry == entries_.end() || entry->second != inode) return std::nullopt;
  return hint->second;
}

void MetaCache::HintNameLocked(InodeId inode, const std::pair<InodeId, std::string>& key) {
  if (max_inodes_ == 0) return;
  auto it = names_.find(inode);
  if (it != names_.end()) {
    it->second = key;
    return;
  }
  if (names_.size() >= max_inodes_) names_.erase(names_.begin());
  names_.emplace(inode, key);
}

void MetaCache::HintName(InodeId inode, InodeId parent, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  HintNameLocked(inode, std::make_pair(parent, name));
}

std::optional<MetaCache::ChunkMapHit> MetaCache::ChunkMap(InodeId inode, int64_t first,
                                                          int64_t end) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto map = chunk_maps_.find(inode);
  if (map == chunk_maps_.end() || map->second.first != first || map->second.end != end) {
    return std::nullopt;
  }
  auto row = inodes_.find(inode);
  if (row == inodes_.end()) return std::nullopt;
  return ChunkMapHit{row->second, map->second.chunks};
}

void MetaCache::FillChunkMap(uint64_t read_epoch, InodeId inode, int64_t first, int64_t end,
                             const std::vector<ChunkRecord>& chunks) {
  if (max_inodes_ == 0 || chunks.size() > kMaxChunksPerMap) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch_.load(std::memory_order_relaxed) != read_epoch) return;
  auto it = chunk_maps_.find(inode);
  if (it == chunk_maps_.end()) {
    if (chunk_maps_.size() >= std::min(max_inodes_, kMaxChunkMaps)) {
      chunk_maps_.erase(chunk_maps_.begin());
    }
    it = chunk_maps_.emplace(inode, CachedChunks{}).first;
  }
  it->second = CachedChunks{first, end, chunks};
}

void MetaCache::Apply(const Changes& changes, bool committed) {
  std::lock_guard<std::mutex> lock(mu_);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  if (changes.chunks) chunk_maps_.clear();
  if (committed && max_entries_ > 0 && complete_.size() < max_inodes_) {
    for (InodeId dir : changes.new_dirs) complete_.insert(dir);
  }
  for (const auto& [inode, attr] : changes.inodes) {
    if (committed && attr) {
      PutInodeLocked(*attr);
    } else {
      inodes_.erase(inode);
      // A deleted directory (inode numbers are never reused): its flag goes too.
      if (!attr) complete_.erase(inode);
    }
  }
  for (const auto& [key, inode] : changes.entries) {
    if (committed && inode) {
      PutEntryLocked(key, *inode);
      if (*inode != 0) HintNameLocked(*inode, key);
    } else {
      EraseEntryLocked(key);
    }
  }
}

void MetaCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  inodes_.clear();
  entries_.clear();
  complete_.clear();
  names_.clear();
  chunk_maps_.clear();
}

bool SameAttr(const Attr& a, const Attr& b) {
  return a.inode == b.inode && a.type == b.type && a.mode == b.mode && a.uid == b.uid &&
         a.gid == b.gid && a.size == b.size && a.atime_ns == b.atime_ns &&
         a.mtime_ns == b.mtime_ns && a.ctime_ns == b.ctime_ns && a.nlink == b.nlink &&
         a.goal == b.goal && a.rdev == b.rdev && a.allocated == b.allocated &&
         a.has_xattrs == b.has_xattrs && a.acl_access == b.acl_access &&
         a.acl_default == b.acl_default;
}

}  // namespace ddbfs::meta::store
