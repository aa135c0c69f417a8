#include "chunk_file.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

#include "ddbfs/crc32c.h"
#include "little_endian.h"

namespace ddbfs::chunkserver {

namespace {

// Field offsets inside a header slot (docs/chunk_format.md).
constexpr size_t kOffMagic = 0;
constexpr size_t kOffFormatVersion = 8;
constexpr size_t kOffSlotSize = 12;
constexpr size_t kOffChunkId = 16;
constexpr size_t kOffVersion = 24;
constexpr size_t kOffLength = 32;
constexpr size_t kOffBlockSize = 40;
constexpr size_t kOffMaxBlocks = 44;
constexpr size_t kOffSeq = 48;
constexpr size_t kOffBaseSeq = 56;
constexpr size_t kOffMap = 64;
constexpr size_t kOffDirty = kOffMap + kBlocksPerChunk;
constexpr size_t kOffCrcs = kOffDirty + kBlocksPerChunk / 8;
static_assert(kOffCrcs + 4 * kBlocksPerChunk <= kHeaderCrcOffset);

Status Corrupt(const std::string& message) { return Status(ErrorCode::kChecksumMismatch, message); }

// Valid bytes of block `b` in a chunk of `length` bytes.
uint32_t ValidIn(uint64_t length, uint32_t b) {
  const uint64_t bs = static_cast<uint64_t>(b) * kBlockSize;
  return length > bs ? static_cast<uint32_t>(std::min<uint64_t>(kBlockSize, length - bs)) : 0;
}

std::vector<char> Serialize(const ChunkFile::Header& h) {
  std::vector<char> s(kHeaderSlotSize, 0);
  char* p = s.data();
  std::memcpy(p + kOffMagic, kChunkMagic, sizeof kChunkMagic);
  Put32(p + kOffFormatVersion, kChunkFormatVersion);
  Put32(p + kOffSlotSize, kHeaderSlotSize);
  Put64(p + kOffChunkId, h.chunk_id);
  Put64(p + kOffVersion, h.version);
  Put64(p + kOffLength, h.length);
  Put32(p + kOffBlockSize, kBlockSize);
  Put32(p + kOffMaxBlocks, kBlocksPerChunk);
  Put64(p + kOffSeq, h.seq);
  Put64(p + kOffBaseSeq, h.base_seq);
  for (uint32_t b = 0; b < kBlocksPerChunk; ++b) {
    p[kOffMap + b] = static_cast<char>(h.place[b]);
    if (h.dirty[b]) p[kOffDirty + b / 8] = static_cast<char>(p[kOffDirty + b / 8] | (1 << (b % 8)));
    Put32(p + kOffCrcs + 4 * b, h.crc[b]);
  }
  Put32(p + kHeaderCrcOffset, Crc32c(std::span<const char>(p, kHeaderCrcOffset)));
  return s;
}

// Parses one slot; the reason it is unusable otherwise.
Status Parse(const char* p, ChunkFile::Header* h) {
  if (std::memcmp(p + kOffMagic, kChunkMagic, sizeof kChunkMagic) != 0) {
    return Corrupt("bad magic");
  }
  if (Crc32c(std::span<const char>(p, kHeaderCrcOffset)) != Get32(p + kHeaderCrcOffset)) {
    return Corrupt("header CRC32C mismatch");
  }
  if (Get32(p + kOffFormatVersion) != kChunkFormatVersion ||
      Get32(p + kOffSlotSize) != kHeaderSlotSize || Get32(p + kOffBlockSize) != kBlockSize ||
      Get32(p + kOffMaxBlocks) != kBlocksPerChunk) {
    return Corrupt("unsupported chunk format (version " +
                   std::to_string(Get32(p + kOffFormatVersion)) + ")");
  }
  h->chunk_id = Get64(p + kOffChunkId);
  h->version = Get64(p + kOffVersion);
  h->length = Get64(p + kOffLength);
  h->seq = Get64(p + kOffSeq);
  h->base_seq = Get64(p + kOffBaseSeq);
  if (h->length > kChunkSize) return Corrupt("length exceeds the chunk size");
  for (uint32_t b = 0; b < kBlocksPerChunk; ++b) {
    const auto place = static_cast<uint8_t>(p[kOffMap + b]);
    if (place > 2 || (place != 0 && ValidIn(h->length, b) == 0)) {
      return Corrupt("bad block map entry " + std::to_string(b));
    }
    h->place[b] = static_cast<BlockPlace>(place);
    h->dirty[b] = (static_cast<unsigned char>(p[kOffDirty + b / 8]) >> (b % 8)) & 1;
    h->crc[b] = Get32(p + kOffCrcs + 4 * b);
  }
  return Status();
}

// The place a block moves to when its current bytes must be kept: never the
// durable one.
BlockPlace OtherThan(BlockPlace durable) {
  return durable == BlockPlace::kA ? BlockPlace::kB : BlockPlace::kA;
}

}  // namespace

std::string ChunkIdHex(uint64_t chunk_id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(chunk_id));
  return buf;
}

uint64_t PlaceOffset(uint32_t b, BlockPlace place) {
  return kDataOffset + (place == BlockPlace::kB ? kChunkSize : 0) +
         static_cast<uint64_t>(b) * kBlockSize;
}

// The disk changes of one operation, computed before anything is written.
struct ChunkFile::Plan {
  Header next;
  std::vector<Piece> pieces;
  std::deque<std::string> buffers;  // merged block images the pieces point into
};

Result<std::unique_ptr<ChunkFile>> ChunkFile::Create(const std::string& path, uint64_t chunk_id,
                                                     uint64_t version, bool sync) {
  ASSIGN_OR_RETURN(auto disk, PosixDiskFile::Open(path, /*create=*/true));
  auto file = Create(std::move(disk), chunk_id, version, sync);
  if (!file.ok()) ::unlink(path.c_str());
  return file;
}

Result<std::unique_ptr<ChunkFile>> ChunkFile::Create(std::unique_ptr<DiskFile> disk,
                                                     uint64_t chunk_id, uint64_t version,
                                                     bool sync) {
  std::unique_ptr<ChunkFile> file(new ChunkFile(std::move(disk)));
  Header h;
  h.chunk_id = chunk_id;
  h.version = version;
  h.seq = 1;
  std::vector<char> slots = Serialize(h);
  file->cur_image_ = slots;
  slots.resize(2 * kHeaderSlotSize, 0);  // slot 1 stays invalid until first used
  RETURN_IF_ERROR(file->disk_->Pwrite(0, slots));
  if (sync) RETURN_IF_ERROR(file->disk_->Sync());
  // Unsynced, slot 0 counts as durable all the same: it describes no data,
  // so it protects nothing, and the first Sync() makes it durable with
  // whatever was written after it.
  file->cur_ = file->durable_ = h;
  file->max_seq_ = 1;
  return file;
}

Result<std::unique_ptr<ChunkFile>> ChunkFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto disk, PosixDiskFile::Open(path, /*create=*/false));
  return Open(std::move(disk));
}

Result<std::unique_ptr<ChunkFile>> ChunkFile::Open(std::unique_ptr<DiskFile> disk) {
  std::unique_ptr<ChunkFile> file(new ChunkFile(std::move(disk)));
  RETURN_IF_ERROR(file->Recover());
  return file;
}

Status ChunkFile::Recover() {
  std::vector<char> slots(2 * kHeaderSlotSize, 0);
  size_t got = 0;
  RETURN_IF_ERROR(disk_->Pread(0, slots, &got));
  Header h[2];
  Status parsed[2];
  for (int i = 0; i < 2; ++i) {
    parsed[i] = got >= (i + 1) * kHeaderSlotSize ? Parse(slots.data() + i * kHeaderSlotSize, &h[i])
                                                 : Corrupt("header slot is truncated");
  }
  if (!parsed[0].ok() && !parsed[1].ok()) {
    return Corrupt(path() + ": no valid header (" + parsed[0].message() + "; " +
                   parsed[1].message() + ")");
  }
  int newest = !parsed[0].ok() ? 1 : !parsed[1].ok() ? 0 : (h[1].seq > h[0].seq ? 1 : 0);
  int other = 1 - newest;
  max_seq_ = std::max(parsed[0].ok() ? h[0].seq : 0, parsed[1].ok() ? h[1].seq : 0);

  // The newest header may have been written after the last fdatasync while
  // some of its blocks were not: the blocks it changed must pass their CRCs.
  std::vector<char> buf(kBlockSize);
  auto verify = [&](const Header& x) -> Status {
    for (uint32_t b = 0; b < kBlocksPerChunk; ++b) {
      if (x.dirty[b] && x.place[b] != BlockPlace::kZero) {
        RETURN_IF_ERROR(ReadVerifiedBlock(x, b, buf.data()));
      }
    }
    return Status();
  };
  int chosen = newest;
  bool changed = h[newest].dirty.any();
  Status v = verify(h[newest]);
  if (!v.ok()) {
    if (v.code() != ErrorCode::kChecksumMismatch) return v;
    // Fall back to its base: durable when the newest was written, and never
    // touched since (docs/chunk_format.md).
    if (!parsed[other].ok() || h[other].seq != h[newest].base_seq) {
      return Corrupt(path() + ": newest header fails verification and has no base (" + v.message() +
                     ")");
    }
    Status base = verify(h[other]);
    if (!base.ok()) return base;
    chosen = other;
    changed = true;
  }
  cur_ = durable_ = h[chosen];
  cur_slot_ = durable_slot_ = chosen;
  cur_image_.assign(slots.begin() + chosen * kHeaderSlotSize,
                    slots.begin() + (chosen + 1) * kHeaderSlotSize);
  if (!changed) return Status();
  if (chosen == newest && h[newest].dirty.count() <= kLazySealMaxBlocks) {
    // The newest header verified and reading it again costs little: leave
    // the disk as it is (a crash now recovers the same way) and seal before
    // the next change. A file written without fsync and then read costs no
    // disk flush at its first read.
    unsealed_ = true;
    return Status();
  }
  // Free what the chosen state does not use among the blocks either header
  // changed (a rejected header's places are not used by its base).
  if (chosen == newest) return Seal(h[newest]);
  Header mix = h[other];
  mix.dirty = h[newest].dirty;
  return Seal(mix);
}

Status ChunkFile::Seal(const Header& punch) {
  // Make the chosen state durable, free what it does not use, and replace
  // the other slot (the rejected header, or the chosen one's base) by a copy
  // that needs no verification, so that a rejected header can never win
  // later and the next open reads nothing.
  RETURN_IF_ERROR(disk_->Sync());
  PunchUnused(punch);
  Header sealed = cur_;
  sealed.dirty.reset();
  sealed.seq = ++max_seq_;
  sealed.base_seq = cur_.seq;
  const int target = 1 - cur_slot_;
  std::vector<char> image = Serialize(sealed);
  if (Status s = disk_->Pwrite(static_cast<uint64_t>(target) * kHeaderSlotSize, image); !s.ok()) {
    broken_ = s;  // the slot may be torn (see StoreHeader)
    return s;
  }
  RETURN_IF_ERROR(disk_->Sync());
  cur_image_ = std::move(image);
  cur_ = durable_ = sealed;
  cur_slot_ = durable_slot_ = target;
  unsealed_ = false;
  return Status();
}

Status ChunkFile::SealIfOpenedUnsealed() {
  if (!unsealed_) return Status();
  RETURN_IF_ERROR(broken_);
  RETURN_IF_ERROR(disk_->Sync());
  return SealDurable();
}

Status ChunkFile::SealDurable() {
  if (!unsealed_) return Status();
  RETURN_IF_ERROR(broken_);
  // The state after a Sync(): the taken header is the durable one, the
  // places it does not use among its changed blocks are freed, and its copy
  // without dirty bits goes to the other slot, unsynced (its data is durable
  // already).
  unsealed_ = false;
  PunchUnused(cur_);
  Header clean = cur_;
  clean.dirty.reset();
  return StoreHeader(clean);
}

Status ChunkFile::ReadVerifiedBlock(const Header& h, uint32_t b, char* buf) const {
  const uint32_t valid = ValidIn(h.length, b);
  if (h.place[b] == BlockPlace::kZero) {
    std::memset(buf, 0, valid);
    return Status();
  }
  size_t got = 0;
  RETURN_IF_ERROR(disk_->Pread(PlaceOffset(b, h.place[b]), std::span<char>(buf, valid), &got));
  if (got != valid || Crc32c(std::span<const char>(buf, valid)) != h.crc[b]) {
    return Corrupt("chunk " + ChunkIdHex(h.chunk_id) + " block " + std::to_string(b) +
                   ": CRC32C mismatch (" + path() + ")");
  }
  return Status();
}

Status ChunkFile::PlanBlock(uint32_t b, uint64_t new_len, uint64_t lo, uint64_t hi, const char* src,
                            Plan* plan) const {
  Header& next = plan->next;
  const uint64_t bs = static_cast<uint64_t>(b) * kBlockSize;
  const uint32_t nv = ValidIn(new_len, b);
  const uint32_t cv = ValidIn(cur_.length, b);
  const bool has_data = lo < hi;
  const uint32_t dlo = has_data ? static_cast<uint32_t>(lo - bs) : cv;
  const uint32_t dhi = has_data ? static_cast<uint32_t>(hi - bs) : cv;
  const BlockPlace p = cur_.place[b];
  next.dirty.set(b);
  if (!has_data && p == BlockPlace::kZero) {
    // A hole stays a hole (it only grows).
    next.place[b] = BlockPlace::kZero;
    next.crc[b] = 0;
    return Status();
  }
  // Bytes whose content this operation defines: the data and any zeros
  // between the old valid end and it or after it.
  const uint32_t c_lo = std::min(dlo, cv);
  const uint32_t c_hi = std::max(dhi, nv > cv ? nv : dhi);
  // Bytes the durable header counts as valid in the current place: never
  // overwritten.
  const uint32_t protect =
      (p != BlockPlace::kZero && p == durable_.place[b]) ? ValidIn(durable_.length, b) : 0;
  auto image_of = [&](uint32_t from, uint32_t to, std::string& buf) {
    // Fills buf[from, to) with zeros and the data.
    std::memset(buf.data() + from, 0, to - from);
    if (has_data) std::memcpy(buf.data() + dlo, src, dhi - dlo);
  };
  if (p != BlockPlace::kZero && c_lo >= protect) {
    // In place: nothing durable is touched.
    Piece piece;
    piece.file_offset = PlaceOffset(b, p) + c_lo;
    piece.reserve_from = PlaceOffset(b, p) + std::max(c_lo, cv);
    if (c_lo == cv) {
      // Appends only: the stored CRC extends over the new bytes.
      std::span<const char> bytes;
      if (has_data && dlo == c_lo && dhi == c_hi) {
        bytes = std::span<const char>(src, dhi - dlo);
      } else {
        std::string& buf = plan->buffers.emplace_back(kBlockSize, '\0');
        image_of(c_lo, c_hi, buf);
        bytes = std::span<const char>(buf.data() + c_lo, c_hi - c_lo);
      }
      next.crc[b] = Crc32cExtend(cur_.crc[b], bytes);
      piece.data = bytes;
    } else {
      std::string& buf = plan->buffers.emplace_back(kBlockSize, '\0');
      RETURN_IF_ERROR(ReadVerifiedBlock(cur_, b, buf.data()));
      image_of(cv, std::max<uint32_t>(cv, nv), buf);
      if (has_data) std::memcpy(buf.data() + dlo, src, dhi - dlo);
      next.crc[b] = Crc32c(std::span<const char>(buf.data(), nv));
      piece.data = std::span<const char>(buf.data() + c_lo, c_hi - c_lo);
    }
    next.place[b] = p;
    plan->pieces.push_back(piece);
    return Status();
  }
  // Moved: the whole new image goes to the place the durable header does
  // not use.
  const BlockPlace q = OtherThan(durable_.place[b]);
  Piece piece;
  piece.file_offset = PlaceOffset(b, q);
  piece.reserve_from = piece.file_offset;
  if (has_data && dlo == 0 && dhi >= nv) {
    piece.data = std::span<const char>(src, nv);
    next.crc[b] = Crc32c(piece.data);
  } else {
    std::string& buf = plan->buffers.emplace_back(kBlockSize, '\0');
    if (p != BlockPlace::kZero && cv > 0) RETURN_IF_ERROR(ReadVerifiedBlock(cur_, b, buf.data()));
    if (nv > cv) std::memset(buf.data() + cv, 0, nv - cv);
    if (has_data) std::memcpy(buf.data() + dlo, src, dhi - dlo);
    piece.data = std::span<const char>(buf.data(), nv);
    next.crc[b] = Crc32c(piece.data);
  }
  next.place[b] = q;
  plan->pieces.push_back(piece);
  return Status();
}

Status ChunkFile::Apply(Plan* plan) {
  // Neighbouring pieces that are contiguous on disk and in memory (a large
  // aligned write) go out as one request.
  std::vector<Piece> merged;
  for (const Piece& piece : plan->pieces) {
    if (!merged.empty()) {
      Piece& last = merged.back();
      if (last.file_offset + last.data.size() == piece.file_offset &&
          last.data.data() + last.data.size() == piece.data.data() &&
          last.reserve_from <= last.file_offset && piece.reserve_from == piece.file_offset) {
        last.data = std::span<const char>(last.data.data(), last.data.size() + piece.data.size());
        continue;
      }
    }
    merged.push_back(piece);
  }
  // Reserve first: a full disk fails here, before any byte changed.
  for (size_t i = 0; i < merged.size(); ++i) {
    const Piece& piece = merged[i];
    const uint64_t end = piece.file_offset + piece.data.size();
    if (piece.reserve_from >= end) continue;
    Status s = disk_->Allocate(piece.reserve_from, end - piece.reserve_from);
    if (!s.ok()) {
      for (size_t j = 0; j <= i; ++j) {
        const uint64_t jend = merged[j].file_offset + merged[j].data.size();
        if (merged[j].reserve_from < jend) {
          (void)disk_->Punch(merged[j].reserve_from, jend - merged[j].reserve_from);
        }
      }
      return s;
    }
  }
  for (const Piece& piece : merged) {
    RETURN_IF_ERROR(disk_->Pwrite(piece.file_offset, piece.data));
  }
  // A large write goes on to the disk in the background now: the next Sync
  // (a writer's fsync) then finds little left to write, and the dirty pages
  // of a long sequential write do not pile up until the kernel's own
  // threshold (a tenth of the memory) forces them out.
  for (const Piece& piece : merged) {
    if (piece.data.size() >= kWritebackMin)
      disk_->StartWriteback(piece.file_offset, piece.data.size());
  }
  return StoreHeader(plan->next);
}

Status ChunkFile::StoreHeader(Header next) {
  RETURN_IF_ERROR(broken_);
  next.seq = max_seq_ + 1;
  next.base_seq = durable_.seq;
  const int slot = 1 - durable_slot_;
  std::vector<char> image = Serialize(next);
  Status s = disk_->Pwrite(static_cast<uint64_t>(slot) * kHeaderSlotSize, image);
  if (!s.ok()) {
    // The slot may be torn now; it is not durable, so the durable one still
    // stands, but this object no longer knows what the file says.
    broken_ = s;
    return s;
  }
  max_seq_ = next.seq;
  cur_ = next;
  cur_slot_ = slot;
  cur_image_ = std::move(image);
  return Status();
}

Status ChunkFile::Write(uint64_t offset, std::span<const char> data, uint64_t version) {
  if (offset > kChunkSize || data.size() > kChunkSize - offset) {
    return InvalidArgument("write past the end of a chunk");
  }
  RETURN_IF_ERROR(broken_);
  RETURN_IF_ERROR(SealIfOpenedUnsealed());
  if (data.empty()) return SetVersion(version);
  const uint64_t old_len = cur_.length;
  const uint64_t end = offset + data.size();
  const uint64_t new_len = std::max(old_len, end);
  const uint32_t first = static_cast<uint32_t>(offset / kBlockSize);
  const uint32_t last = static_cast<uint32_t>((end - 1) / kBlockSize);
  Plan plan;
  plan.next = cur_;
  plan.next.length = new_len;
  plan.next.version = version;
  if (offset > old_len) {
    // The hole [old_len, offset): the old last partial block gains zeros,
    // blocks wholly inside the hole become zero blocks.
    uint32_t b = static_cast<uint32_t>(old_len / kBlockSize);
    if (old_len % kBlockSize != 0 && b < first) {
      RETURN_IF_ERROR(PlanBlock(b, new_len, 0, 0, nullptr, &plan));
      ++b;
    }
    for (; b < first; ++b) {
      plan.next.place[b] = BlockPlace::kZero;
      plan.next.crc[b] = 0;
      plan.next.dirty.set(b);
    }
  }
  for (uint32_t b = first; b <= last; ++b) {
    const uint64_t bs = static_cast<uint64_t>(b) * kBlockSize;
    const uint64_t lo = std::max(bs, offset);
    const uint64_t hi = std::min(bs + kBlockSize, end);
    RETURN_IF_ERROR(PlanBlock(b, new_len, lo, hi, data.data() + (lo - offset), &plan));
  }
  return Apply(&plan);
}

Status ChunkFile::Truncate(uint64_t length, uint64_t version) {
  if (length > kChunkSize) return InvalidArgument("truncate past the end of a chunk");
  RETURN_IF_ERROR(broken_);
  RETURN_IF_ERROR(SealIfOpenedUnsealed());
  const uint64_t old_len = cur_.length;
  if (length == old_len) return SetVersion(version);
  Plan plan;
  plan.next = cur_;
  plan.next.length = length;
  plan.next.version = version;
  if (length < old_len) {
    const uint32_t new_block = static_cast<uint32_t>(length / kBlockSize);
    const uint32_t old_last = static_cast<uint32_t>((old_len - 1) / kBlockSize);
    uint32_t b = new_block;
    if (length % kBlockSize != 0) {
      // The new last block keeps a prefix of its bytes in the same place
      // (nothing is written): verify it and CRC the prefix.
      if (cur_.place[b] != BlockPlace::kZero) {
        std::vector<char> buf(kBlockSize);
        RETURN_IF_ERROR(ReadVerifiedBlock(cur_, b, buf.data()));
        plan.next.crc[b] = Crc32c(std::span<const char>(buf.data(), length % kBlockSize));
      }
      plan.next.dirty.set(b);
      ++b;
    }
    for (; b <= old_last; ++b) {
      plan.next.place[b] = BlockPlace::kZero;
      plan.next.crc[b] = 0;
      plan.next.dirty.set(b);
    }
  } else {
    const uint32_t new_last = static_cast<uint32_t>((length - 1) / kBlockSize);
    uint32_t b = static_cast<uint32_t>(old_len / kBlockSize);
    if (old_len % kBlockSize != 0) {
      RETURN_IF_ERROR(PlanBlock(b, length, 0, 0, nullptr, &plan));
      ++b;
    }
    for (; b <= new_last; ++b) {
      plan.next.place[b] = BlockPlace::kZero;
      plan.next.crc[b] = 0;
      plan.next.dirty.set(b);
    }
  }
  return Apply(&plan);
}

Status ChunkFile::Read(uint64_t offset, uint64_t len, std::string* out) const {
  out->clear();
  const Header& h = cur_;
  if (offset >= h.length || len == 0) return Status();
  const uint64_t end = len > h.length - offset ? h.length : offset + len;
  const uint32_t first = static_cast<uint32_t>(offset / kBlockSize);
  const uint32_t last = static_cast<uint32_t>((end - 1) / kBlockSize);
  const uint64_t read_start = static_cast<uint64_t>(first) * kBlockSize;
  const uint64_t read_end =
      std::min<uint64_t>(static_cast<uint64_t>(last + 1) * kBlockSize, h.length);
  out->resize(read_end - read_start);
  Status s;
  // Runs of blocks in consecutive places of one region are read at once.
  for (uint32_t b = first; s.ok() && b <= last;) {
    char* dst = out->data() + (static_cast<uint64_t>(b) * kBlockSize - read_start);
    if (h.place[b] == BlockPlace::kZero) {
      std::memset(dst, 0, ValidIn(h.length, b));
      ++b;
      continue;
    }
    uint32_t run_end = b + 1;
    while (run_end <= last && h.place[run_end] == h.place[b]) ++run_end;
    uint64_t bytes = 0;
    for (uint32_t x = b; x < run_end; ++x) bytes += ValidIn(h.length, x);
    size_t got = 0;
    s = disk_->Pread(PlaceOffset(b, h.place[b]), std::span<char>(dst, bytes), &got);
    for (uint32_t x = b; s.ok() && x < run_end; ++x) {
      const uint64_t at = static_cast<uint64_t>(x - b) * kBlockSize;
      const uint32_t valid = ValidIn(h.length, x);
      if (got < at + valid || Crc32c(std::span<const char>(dst + at, valid)) != h.crc[x]) {
        s = Corrupt("chunk " + ChunkIdHex(h.chunk_id) + " block " + std::to_string(x) +
                    ": CRC32C mismatch (" + path() + ")");
      }
    }
    b = run_end;
  }
  if (!s.ok()) {
    out->clear();
    return s;
  }
  out->resize(end - read_start);
  out->erase(0, offset - read_start);
  return Status();
}

Status ChunkFile::SetVersion(uint64_t version) {
  RETURN_IF_ERROR(broken_);
  if (version == cur_.version) return Status();
  RETURN_IF_ERROR(SealIfOpenedUnsealed());
  Header next = cur_;
  next.version = version;
  return StoreHeader(next);
}

Status ChunkFile::CheckIdentity(uint64_t chunk_id) const {
  RETURN_IF_ERROR(broken_);
  std::vector<char> slot(kHeaderSlotSize);
  size_t got = 0;
  RETURN_IF_ERROR(disk_->Pread(static_cast<uint64_t>(cur_slot_) * kHeaderSlotSize, slot, &got));
  // The bytes this object last wrote or read there: nothing changed.
  if (cur_.chunk_id == chunk_id && slot == cur_image_) return Status();
  Header h;
  Status s = got == kHeaderSlotSize ? Parse(slot.data(), &h) : Corrupt("header is truncated");
  if (!s.ok()) return Corrupt(path() + ": " + s.message());
  if (h.chunk_id != chunk_id || cur_.chunk_id != chunk_id) {
    return Corrupt(path() + ": the header names chunk " + ChunkIdHex(h.chunk_id) + ", not " +
                   ChunkIdHex(chunk_id));
  }
  if (h.seq != cur_.seq || h.version != cur_.version || h.length != cur_.length) {
    return Corrupt(path() + ": the header changed behind this server's back (version " +
                   std::to_string(h.version) + ", expected " + std::to_string(cur_.version) + ")");
  }
  return Status();
}

void ChunkFile::PunchUnused(const Header& h) {
  // Coalesced ranges: a large write frees one long run of the other region.
  uint64_t run_start = 0;
  uint64_t run_end = 0;
  auto add = [&](uint64_t from, uint64_t to) {
    if (from >= to) return;
    if (from == run_end) {
      run_end = to;
      return;
    }
    if (run_end > run_start) (void)disk_->Punch(run_start, run_end - run_start);
    run_start = from;
    run_end = to;
  };
  for (BlockPlace region : {BlockPlace::kA, BlockPlace::kB}) {
    for (uint32_t b = 0; b < kBlocksPerChunk; ++b) {
      if (!h.dirty[b]) continue;
      const uint64_t at = PlaceOffset(b, region);
      if (h.place[b] != region) {
        add(at, at + kBlockSize);
      } else {
        // The tail past the valid bytes, whole pages only.
        const uint64_t keep = (static_cast<uint64_t>(ValidIn(h.length, b)) + 4095) / 4096 * 4096;
        add(at + keep, at + kBlockSize);
      }
    }
  }
  if (run_end > run_start) (void)disk_->Punch(run_start, run_end - run_start);
}

Status ChunkFile::Sync() {
  RETURN_IF_ERROR(broken_);
  RETURN_IF_ERROR(SealIfOpenedUnsealed());
  RETURN_IF_ERROR(disk_->Sync());
  if (!folder_to_sync_.empty()) {
    RETURN_IF_ERROR(SyncDir(folder_to_sync_));
    folder_to_sync_.clear();
  }
  if (cur_slot_ == durable_slot_ && cur_.seq == durable_.seq) return Status();
  durable_ = cur_;
  durable_slot_ = cur_slot_;
  // The previous durable header is obsolete: free what the new one does not
  // use. The in-memory list of changed blocks now counts from here.
  PunchUnused(durable_);
  cur_.dirty.reset();
  if (durable_.dirty.none()) return Status();
  // The same state once more, without the list of changed blocks, into the
  // other slot (no sync needed: its data is durable already). Once it is on
  // disk a later open verifies nothing, so a block that rots later is a
  // CRC error on read, never a silent return to an older header.
  return StoreHeader(cur_);
}

Status ChunkFile::SyncAndSeal() {
  RETURN_IF_ERROR(Sync());
  return Sync();
}

}  // namespace ddbfs::chunkserver
