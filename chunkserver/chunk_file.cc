#include "chunk_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ddbfs/crc32c.h"

namespace ddbfs::chunkserver {

namespace {

// Field offsets inside the header block (docs/chunk_format.md).
constexpr size_t kOffMagic = 0;
constexpr size_t kOffFormatVersion = 8;
constexpr size_t kOffHeaderSize = 12;
constexpr size_t kOffChunkId = 16;
constexpr size_t kOffVersion = 24;
constexpr size_t kOffLength = 32;
constexpr size_t kOffBlockSize = 40;
constexpr size_t kOffMaxBlocks = 44;

void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

const char* Zeros() {
  static const std::vector<char> zeros(kBlockSize, 0);
  return zeros.data();
}

// CRC32C of `n` zero bytes (n <= kBlockSize).
uint32_t ZeroCrc(uint32_t n) {
  static const uint32_t full_block = Crc32c(std::span<const char>(Zeros(), kBlockSize));
  if (n == kBlockSize) return full_block;
  return Crc32c(std::span<const char>(Zeros(), n));
}

Status Corrupt(const std::string& message) { return Status(ErrorCode::kChecksumMismatch, message); }

}  // namespace

Status DiskError(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return Status(ErrorCode::kNoSpace, what + ": no space left on device");
  }
  return IoError(what + ": " + std::strerror(err));
}

std::string ChunkIdHex(uint64_t chunk_id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(chunk_id));
  return buf;
}

Result<std::unique_ptr<ChunkFile>> ChunkFile::Create(const std::string& path, uint64_t chunk_id,
                                                     uint64_t version) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists("chunk file " + path + " already exists");
    return DiskError("create " + path, errno);
  }
  std::unique_ptr<ChunkFile> file(new ChunkFile(path, fd));
  file->chunk_id_ = chunk_id;
  file->version_ = version;
  // The whole header region at once: header block plus an all-zero table.
  std::vector<char> region(kChunkHeaderSize, 0);
  Status s = file->PwriteFull(region.data(), region.size(), 0, "write header");
  if (s.ok()) s = file->StoreHeader();
  if (!s.ok()) {
    file.reset();
    ::unlink(path.c_str());
    return s;
  }
  return file;
}

Result<std::unique_ptr<ChunkFile>> ChunkFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("no chunk file " + path);
    return DiskError("open " + path, errno);
  }
  std::unique_ptr<ChunkFile> file(new ChunkFile(path, fd));
  RETURN_IF_ERROR(file->LoadHeader());
  return file;
}

ChunkFile::~ChunkFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status ChunkFile::LoadHeader() {
  std::vector<char> region(kChunkHeaderSize);
  Status s = PreadFull(region.data(), region.size(), 0, "read header");
  if (s.code() == ErrorCode::kChecksumMismatch) {
    return Corrupt(path_ + ": header is truncated");
  }
  RETURN_IF_ERROR(s);
  const char* h = region.data();
  if (std::memcmp(h + kOffMagic, kChunkMagic, sizeof kChunkMagic) != 0) {
    return Corrupt(path_ + ": not a chunk file (bad magic)");
  }
  uint32_t stored_crc = Get32(h + kHeaderCrcOffset);
  if (Crc32c(std::span<const char>(h, kHeaderCrcOffset)) != stored_crc) {
    return Corrupt(path_ + ": header CRC32C mismatch");
  }
  if (Get32(h + kOffFormatVersion) != kChunkFormatVersion ||
      Get32(h + kOffHeaderSize) != kChunkHeaderSize || Get32(h + kOffBlockSize) != kBlockSize ||
      Get32(h + kOffMaxBlocks) != kBlocksPerChunk) {
    return Corrupt(path_ + ": unsupported chunk format (version " +
                   std::to_string(Get32(h + kOffFormatVersion)) + ")");
  }
  chunk_id_ = Get64(h + kOffChunkId);
  version_ = Get64(h + kOffVersion);
  length_ = Get64(h + kOffLength);
  if (length_ > kChunkSize) {
    return Corrupt(path_ + ": length " + std::to_string(length_) + " exceeds the chunk size");
  }
  for (uint32_t b = 0; b < kBlocksPerChunk; ++b) {
    crcs_[b] = Get32(h + kHeaderBlockSize + 4 * b);
  }
  return Status();
}

Status ChunkFile::StoreHeader() {
  std::vector<char> h(kHeaderBlockSize, 0);
  std::memcpy(h.data() + kOffMagic, kChunkMagic, sizeof kChunkMagic);
  Put32(h.data() + kOffFormatVersion, kChunkFormatVersion);
  Put32(h.data() + kOffHeaderSize, kChunkHeaderSize);
  Put64(h.data() + kOffChunkId, chunk_id_);
  Put64(h.data() + kOffVersion, version_);
  Put64(h.data() + kOffLength, length_);
  Put32(h.data() + kOffBlockSize, kBlockSize);
  Put32(h.data() + kOffMaxBlocks, kBlocksPerChunk);
  Put32(h.data() + kHeaderCrcOffset, Crc32c(std::span<const char>(h.data(), kHeaderCrcOffset)));
  return PwriteFull(h.data(), h.size(), 0, "write header");
}

Status ChunkFile::StoreMetadata(uint32_t first_block, uint32_t last_block) {
  std::vector<char> table(4 * (last_block - first_block + 1));
  for (uint32_t b = first_block; b <= last_block; ++b) {
    Put32(table.data() + 4 * (b - first_block), crcs_[b]);
  }
  RETURN_IF_ERROR(PwriteFull(table.data(), table.size(), kHeaderBlockSize + 4 * first_block,
                             "write CRC table"));
  return StoreHeader();
}

Status ChunkFile::PreadFull(char* buf, size_t len, uint64_t file_offset, const char* what) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd_, buf + done, len - done, static_cast<off_t>(file_offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return DiskError(std::string(what) + " " + path_, errno);
    }
    if (n == 0) return Corrupt(path_ + ": file is shorter than its header says");
    done += static_cast<size_t>(n);
  }
  return Status();
}

Status ChunkFile::PwriteFull(const char* buf, size_t len, uint64_t file_offset, const char* what) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd_, buf + done, len - done, static_cast<off_t>(file_offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return DiskError(std::string(what) + " " + path_, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status();
}

Status ChunkFile::CutFileTo(uint64_t length) {
  if (::ftruncate(fd_, static_cast<off_t>(kChunkHeaderSize + length)) != 0) {
    return DiskError("truncate " + path_, errno);
  }
  return Status();
}

Status ChunkFile::ReadVerifiedBlock(uint32_t b, char* buf, uint32_t* valid) {
  uint64_t start = static_cast<uint64_t>(b) * kBlockSize;
  *valid = static_cast<uint32_t>(std::min<uint64_t>(kBlockSize, length_ - start));
  RETURN_IF_ERROR(PreadFull(buf, *valid, kChunkHeaderSize + start, "read"));
  if (Crc32c(std::span<const char>(buf, *valid)) != crcs_[b]) {
    return Corrupt("chunk " + ChunkIdHex(chunk_id_) + " block " + std::to_string(b) +
                   ": CRC32C mismatch (" + path_ + ")");
  }
  return Status();
}

Status ChunkFile::Write(uint64_t offset, std::span<const char> data, uint64_t version) {
  if (offset > kChunkSize || data.size() > kChunkSize - offset) {
    return InvalidArgument("write past the end of a chunk");
  }
  if (data.empty()) return SetVersion(version);
  const uint64_t old_len = length_;
  const uint64_t end = offset + data.size();
  const uint64_t new_len = std::max(old_len, end);
  const uint32_t first = static_cast<uint32_t>(offset / kBlockSize);
  const uint32_t last = static_cast<uint32_t>((end - 1) / kBlockSize);

  // New CRCs first, before the disk changes: partially covered blocks are
  // read and verified here, so a corrupt block fails the write untouched.
  std::array<uint32_t, kBlocksPerChunk> crcs = crcs_;
  uint32_t meta_first = first;
  if (offset > old_len) {
    // The hole [old_len, offset): the old last block gains zeros (its stored
    // CRC is extended, so a corrupt block stays detectably corrupt), blocks
    // wholly inside the hole are zero blocks.
    uint32_t old_block = static_cast<uint32_t>(old_len / kBlockSize);
    uint32_t old_valid = static_cast<uint32_t>(old_len % kBlockSize);
    uint32_t zero_from = old_block;
    if (old_valid != 0 && old_block < first) {
      crcs[old_block] =
          Crc32cExtend(crcs_[old_block], std::span<const char>(Zeros(), kBlockSize - old_valid));
      zero_from = old_block + 1;
    }
    for (uint32_t b = zero_from; b < first; ++b) crcs[b] = ZeroCrc(kBlockSize);
    meta_first = std::min(meta_first, old_block);
  }
  std::vector<char> buf;
  for (uint32_t b = first; b <= last; ++b) {
    const uint64_t bs = static_cast<uint64_t>(b) * kBlockSize;
    const uint64_t lo = std::max(bs, offset);
    const uint64_t hi = std::min(bs + kBlockSize, end);
    const uint64_t valid_end = std::min(bs + kBlockSize, new_len);
    const uint64_t old_valid = old_len > bs ? std::min<uint64_t>(kBlockSize, old_len - bs) : 0;
    std::span<const char> piece = data.subspan(lo - offset, hi - lo);
    if (lo == bs && hi == valid_end) {
      crcs[b] = Crc32c(piece);
    } else if (old_valid == 0) {
      // Only zeros (a hole) precede the data in this block.
      crcs[b] = Crc32cExtend(ZeroCrc(static_cast<uint32_t>(lo - bs)), piece);
    } else {
      buf.resize(kBlockSize);
      uint32_t got = 0;
      RETURN_IF_ERROR(ReadVerifiedBlock(b, buf.data(), &got));
      std::memset(buf.data() + got, 0, kBlockSize - got);
      std::memcpy(buf.data() + (lo - bs), piece.data(), piece.size());
      crcs[b] = Crc32c(std::span<const char>(buf.data(), valid_end - bs));
    }
  }

  if (new_len > old_len) {
    // Stale bytes past the length (an earlier failed write) must not
    // reappear inside the new hole.
    RETURN_IF_ERROR(CutFileTo(old_len));
  }
  // Reserve the space first, so that a full disk fails here, before any
  // byte of the replica changed.
  if (::fallocate(fd_, 0, static_cast<off_t>(kChunkHeaderSize + offset),
                  static_cast<off_t>(data.size())) != 0) {
    int err = errno;
    if (err != EOPNOTSUPP && err != ENOSYS) {
      if (new_len > old_len) (void)CutFileTo(old_len);
      return DiskError("allocate space in " + path_, err);
    }
  }
  Status s = PwriteFull(data.data(), data.size(), kChunkHeaderSize + offset, "write");
  if (!s.ok()) {
    if (new_len > old_len) (void)CutFileTo(old_len);
    return s;
  }
  const auto old_crcs = crcs_;
  const uint64_t old_version = version_;
  crcs_ = crcs;
  length_ = new_len;
  version_ = version;
  s = StoreMetadata(meta_first, last);
  if (!s.ok()) {
    crcs_ = old_crcs;
    length_ = old_len;
    version_ = old_version;
  }
  return s;
}

Status ChunkFile::Truncate(uint64_t length, uint64_t version) {
  if (length > kChunkSize) return InvalidArgument("truncate past the end of a chunk");
  const uint64_t old_len = length_;
  if (length == old_len) return SetVersion(version);
  std::array<uint32_t, kBlocksPerChunk> crcs = crcs_;
  uint32_t meta_first = 0;
  uint32_t meta_last = 0;
  if (length < old_len) {
    const uint32_t new_block = static_cast<uint32_t>(length / kBlockSize);
    const uint32_t new_valid = static_cast<uint32_t>(length % kBlockSize);
    if (new_valid != 0) {
      std::vector<char> buf(kBlockSize);
      uint32_t got = 0;
      RETURN_IF_ERROR(ReadVerifiedBlock(new_block, buf.data(), &got));
      crcs[new_block] = Crc32c(std::span<const char>(buf.data(), new_valid));
    }
    const uint32_t old_last = static_cast<uint32_t>((old_len - 1) / kBlockSize);
    // Entries past the end are meaningless; keep them zero for tidiness.
    for (uint32_t b = new_valid != 0 ? new_block + 1 : new_block; b <= old_last; ++b) crcs[b] = 0;
    meta_first = new_block;
    meta_last = old_last;
  } else {
    RETURN_IF_ERROR(CutFileTo(old_len));
    Status s = CutFileTo(length);
    if (!s.ok()) {
      (void)CutFileTo(old_len);
      return s;
    }
    const uint32_t old_block = static_cast<uint32_t>(old_len / kBlockSize);
    const uint32_t old_valid = static_cast<uint32_t>(old_len % kBlockSize);
    const uint32_t new_last = static_cast<uint32_t>((length - 1) / kBlockSize);
    for (uint32_t b = old_block; b <= new_last; ++b) {
      const uint64_t bs = static_cast<uint64_t>(b) * kBlockSize;
      const uint32_t valid = static_cast<uint32_t>(std::min<uint64_t>(kBlockSize, length - bs));
      if (b == old_block && old_valid != 0) {
        crcs[b] = Crc32cExtend(crcs_[b], std::span<const char>(Zeros(), valid - old_valid));
      } else {
        crcs[b] = ZeroCrc(valid);
      }
    }
    meta_first = old_block;
    meta_last = new_last;
  }
  const auto old_crcs = crcs_;
  const uint64_t old_version = version_;
  crcs_ = crcs;
  length_ = length;
  version_ = version;
  Status s = StoreMetadata(meta_first, meta_last);
  if (!s.ok()) {
    crcs_ = old_crcs;
    length_ = old_len;
    version_ = old_version;
    return s;
  }
  // Only after the header no longer claims them are the dropped bytes cut.
  if (length < old_len) RETURN_IF_ERROR(CutFileTo(length));
  return Status();
}

Status ChunkFile::Read(uint64_t offset, uint64_t len, std::string* out) {
  out->clear();
  if (offset >= length_ || len == 0) return Status();
  const uint64_t end = len > length_ - offset ? length_ : offset + len;
  const uint32_t first = static_cast<uint32_t>(offset / kBlockSize);
  const uint32_t last = static_cast<uint32_t>((end - 1) / kBlockSize);
  const uint64_t read_start = static_cast<uint64_t>(first) * kBlockSize;
  const uint64_t read_end =
      std::min<uint64_t>(static_cast<uint64_t>(last + 1) * kBlockSize, length_);
  out->resize(read_end - read_start);
  Status s = PreadFull(out->data(), out->size(), kChunkHeaderSize + read_start, "read");
  for (uint32_t b = first; s.ok() && b <= last; ++b) {
    const uint64_t bs = static_cast<uint64_t>(b) * kBlockSize;
    const uint64_t be = std::min<uint64_t>(bs + kBlockSize, length_);
    if (Crc32c(std::span<const char>(out->data() + (bs - read_start), be - bs)) != crcs_[b]) {
      s = Corrupt("chunk " + ChunkIdHex(chunk_id_) + " block " + std::to_string(b) +
                  ": CRC32C mismatch (" + path_ + ")");
    }
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
  if (version == version_) return Status();
  const uint64_t old_version = version_;
  version_ = version;
  Status s = StoreHeader();
  if (!s.ok()) version_ = old_version;
  return s;
}

Status ChunkFile::Sync() {
  if (::fdatasync(fd_) != 0) return DiskError("fdatasync " + path_, errno);
  return Status();
}

}  // namespace ddbfs::chunkserver
