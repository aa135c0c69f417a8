#include "chunk_hashes.h"

#include "chunk_file.h"

namespace ddbfs::chunkserver {

std::optional<Sha256> ChunkHashes::Take(uint64_t chunk_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(chunk_id);
  if (it == running_.end()) return std::nullopt;
  std::optional<Sha256> out(std::move(it->second.hash));
  order_.erase(it->second.in_order);
  running_.erase(it);
  return out;
}

void ChunkHashes::Put(uint64_t chunk_id, Sha256 hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = running_.try_emplace(chunk_id);
  if (!added) order_.erase(it->second.in_order);
  it->second.hash = std::move(hash);
  it->second.in_order = order_.insert(order_.end(), chunk_id);
  if (running_.size() <= kMaxRunning) return;
  running_.erase(order_.front());
  order_.pop_front();
}

void ChunkHashes::Forget(uint64_t chunk_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(chunk_id);
  if (it == running_.end()) return;
  order_.erase(it->second.in_order);
  running_.erase(it);
}

std::optional<Sha256> ChunkHashes::Snapshot(uint64_t chunk_id, uint64_t length) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(chunk_id);
  if (it == running_.end() || it->second.hash.length() != length) return std::nullopt;
  return it->second.hash;
}

Status ChunkHashes::CheckUnsealed(uint64_t chunk_id, uint64_t version, int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seals_.find(chunk_id);
  if (it == seals_.end() || it->second.version != version || it->second.until_ms < now_ms) {
    return Status();
  }
  return Status(ErrorCode::kPermissionDenied,
                "chunk " + ChunkIdHex(chunk_id) + " version " + std::to_string(version) +
                    " is sealed (its content hash was given out): its bytes cannot change at "
                    "this version; ask the metaserver for a new one");
}

void ChunkHashes::DropExpiredSealsLocked(int64_t now_ms) {
  for (auto it = seals_.begin(); it != seals_.end();) {
    it = it->second.until_ms < now_ms ? seals_.erase(it) : std::next(it);
  }
}

bool ChunkHashes::Seal(uint64_t chunk_id, uint64_t version, int64_t until_ms, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seals_.find(chunk_id);
  if (it != seals_.end()) {
    if (it->second.version == version) {
      it->second.until_ms = std::max(it->second.until_ms, until_ms);
    } else {
      it->second = SealEntry{version, until_ms};
    }
    return true;
  }
  if (seals_.size() >= kMaxSeals) DropExpiredSealsLocked(now_ms);
  if (seals_.size() >= kMaxSeals) return false;
  seals_.emplace(chunk_id, SealEntry{version, until_ms});
  return true;
}

void ChunkHashes::VersionIs(uint64_t chunk_id, uint64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seals_.find(chunk_id);
  if (it != seals_.end() && it->second.version < version) seals_.erase(it);
}

size_t ChunkHashes::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_.size();
}

size_t ChunkHashes::seals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seals_.size();
}

}  // namespace ddbfs::chunkserver
