#pragma once

// One chunk replica on disk: an 8192-byte header region (header block and a
// CRC32C per 64 KiB block) followed by the chunk's data. The format is
// specified byte by byte in docs/chunk_format.md.
//
// Thread-safety: a ChunkFile is used by one thread at a time; ChunkStore
// serializes access per chunk id. Ownership: it owns its file descriptor.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ddbfs/constants.h"
#include "ddbfs/status.h"

namespace ddbfs::chunkserver {

inline constexpr char kChunkMagic[8] = {'D', 'D', 'B', 'F', 'S', 'C', 'K', '1'};
inline constexpr uint32_t kChunkFormatVersion = 1;
inline constexpr uint32_t kChunkHeaderSize = 8192;
// Size of the header block proper; the CRC table fills the rest.
inline constexpr uint32_t kHeaderBlockSize = 4096;
// Offset of the header block's own CRC32C (it covers bytes [0, 4092)).
inline constexpr uint32_t kHeaderCrcOffset = kHeaderBlockSize - 4;

// Maps an errno from a disk operation to a Status: ENOSPC/EDQUOT become
// kNoSpace, everything else kIoError. `what` names the operation and file.
Status DiskError(const std::string& what, int err);
// A chunk id as 16 lower-case hex digits, as in file names and messages.
std::string ChunkIdHex(uint64_t chunk_id);

class ChunkFile {
 public:
  // Creates `path` (it must not exist) as an empty chunk (length 0) and
  // writes its header. On failure nothing is left behind.
  static Result<std::unique_ptr<ChunkFile>> Create(const std::string& path, uint64_t chunk_id,
                                                   uint64_t version);
  // Opens an existing chunk file and verifies its header: bad magic, CRC or
  // fields give kChecksumMismatch, a missing file kNotFound.
  static Result<std::unique_ptr<ChunkFile>> Open(const std::string& path);

  ~ChunkFile();
  ChunkFile(const ChunkFile&) = delete;
  ChunkFile& operator=(const ChunkFile&) = delete;

  uint64_t chunk_id() const { return chunk_id_; }
  uint64_t version() const { return version_; }
  uint64_t length() const { return length_; }
  const std::string& path() const { return path_; }

  // Writes `data` at `offset` (offset + size <= kChunkSize) and sets the
  // version. A write past the length leaves a hole of zeros. Partially
  // covered blocks are read, verified and merged (kChecksumMismatch if the
  // old block is corrupt). Data goes to disk before the CRC table and the
  // header, so on failure the header still describes the old replica.
  Status Write(uint64_t offset, std::span<const char> data, uint64_t version);

  // Sets the length (shorter: bytes dropped; longer: zeros) and the version.
  Status Truncate(uint64_t length, uint64_t version);

  // Reads up to `len` bytes at `offset` into *out; bytes at or past the
  // length are not returned (short read). Every block touched is checked
  // against its CRC32C: a mismatch is kChecksumMismatch and *out is empty.
  Status Read(uint64_t offset, uint64_t len, std::string* out);

  // Sets the version only (a write of no bytes).
  Status SetVersion(uint64_t version);

  // fdatasync: everything written so far is durable.
  Status Sync();

 private:
  ChunkFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  Status LoadHeader();
  // Writes the CRC table entries [first, last] and then the header block.
  Status StoreMetadata(uint32_t first_block, uint32_t last_block);
  Status StoreHeader();
  // Reads the valid bytes of block `b` (under the current length) into
  // `buf` and checks them against the block's CRC.
  Status ReadVerifiedBlock(uint32_t b, char* buf, uint32_t* valid);
  Status PreadFull(char* buf, size_t len, uint64_t file_offset, const char* what);
  Status PwriteFull(const char* buf, size_t len, uint64_t file_offset, const char* what);
  // Cuts the file back to the header plus `length` bytes of data.
  Status CutFileTo(uint64_t length);

  const std::string path_;
  int fd_ = -1;
  uint64_t chunk_id_ = 0;
  uint64_t version_ = 0;
  uint64_t length_ = 0;
  std::array<uint32_t, kBlocksPerChunk> crcs_{};
};

}  // namespace ddbfs::chunkserver
