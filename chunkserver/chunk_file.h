#pragma once

// One chunk replica on disk, format 2: two header slots (the newer valid one
// wins) and two physical places per 64 KiB block (shadow blocks), so that a
// crash at any moment leaves the chunk as it was after some complete
// operation since the last Sync, every block with a matching CRC32C. The
// format and the argument are in docs/chunk_format.md.
//
// Thread-safety: Read, CheckIdentity and the accessors may run on many
// threads at once; every other method needs exclusive use (ChunkStore's
// stripe lock). Ownership: it owns its DiskFile.

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ddbfs/constants.h"
#include "ddbfs/status.h"
#include "disk_file.h"

namespace ddbfs::chunkserver {

inline constexpr char kChunkMagic[8] = {'D', 'D', 'B', 'F', 'S', 'C', 'K', '2'};
inline constexpr uint32_t kChunkFormatVersion = 2;
// Each of the two header slots.
inline constexpr uint32_t kHeaderSlotSize = 8192;
// Offset of a slot's own CRC32C (it covers the slot's bytes before it).
inline constexpr uint32_t kHeaderCrcOffset = kHeaderSlotSize - 4;
// File offset of place A of block 0; place B of block b is kChunkSize later.
inline constexpr uint64_t kDataOffset = 2 * kHeaderSlotSize;

// Writes of at least this many contiguous bytes start their writeback at
// once (DiskFile::StartWriteback).
inline constexpr uint64_t kWritebackMin = 1u << 20;

// A file opened with a verified newest header that changed at most this
// many blocks is not sealed at open (ChunkFile::Open): reading them again at
// the next open costs less than two disk flushes now.
inline constexpr size_t kLazySealMaxBlocks = 16;

// Where a block's bytes are (the per-block map of a header).
enum class BlockPlace : uint8_t { kZero = 0, kA = 1, kB = 2 };

// A chunk id as 16 lower-case hex digits, as in file names and messages.
std::string ChunkIdHex(uint64_t chunk_id);
// File offset of `place` (kA or kB) of block `b`.
uint64_t PlaceOffset(uint32_t b, BlockPlace place);

class ChunkFile {
 public:
  // Creates `path` (it must not exist) as an empty chunk (length 0), synced
  // if `sync`. On failure nothing is left behind. Unsynced, the new file is
  // durable only from its first Sync() (a crash before it may leave no
  // valid header: kChecksumMismatch at Open, like any unsynced write).
  static Result<std::unique_ptr<ChunkFile>> Create(const std::string& path, uint64_t chunk_id,
                                                   uint64_t version, bool sync = true);
  static Result<std::unique_ptr<ChunkFile>> Create(std::unique_ptr<DiskFile> disk,
                                                   uint64_t chunk_id, uint64_t version,
                                                   bool sync = true);
  // The folder that holds this new file's name is fsynced with the next
  // Sync() (after an unsynced Create: the name is durable with the data).
  void SyncFolderWithNextSync(std::string folder) { folder_to_sync_ = std::move(folder); }
  // Opens an existing chunk file and recovers it: the newest valid header
  // slot wins if the blocks it changed since its base pass their CRCs, else
  // its base (the older slot). A recovered file is synced and left with a
  // header that needs no verification next time, except when the newest
  // header won with at most kLazySealMaxBlocks changed blocks: then nothing
  // is written at open, and the first Write, Truncate, SetVersion or Sync
  // seals it first (docs/chunk_format.md, "Opening"). No valid header (or a
  // format-1 file: see chunk_file_v1.h) is kChecksumMismatch, a missing
  // file kNotFound.
  static Result<std::unique_ptr<ChunkFile>> Open(const std::string& path);
  static Result<std::unique_ptr<ChunkFile>> Open(std::unique_ptr<DiskFile> disk);

  ChunkFile(const ChunkFile&) = delete;
  ChunkFile& operator=(const ChunkFile&) = delete;

  uint64_t chunk_id() const { return cur_.chunk_id; }
  uint64_t version() const { return cur_.version; }
  uint64_t length() const { return cur_.length; }
  const std::string& path() const { return disk_->path(); }

  // Writes `data` at `offset` (offset + size <= kChunkSize) and sets the
  // version. A write past the length leaves a hole of zeros. Partially
  // covered blocks are read, verified and merged (kChecksumMismatch if the
  // old block is corrupt). Space is reserved first: a full disk is kNoSpace
  // before any byte changed. On failure the replica is as it was.
  Status Write(uint64_t offset, std::span<const char> data, uint64_t version);
  // Sets the length (shorter: bytes dropped; longer: zeros) and the version.
  Status Truncate(uint64_t length, uint64_t version);
  // Reads up to `len` bytes at `offset` into *out; bytes at or past the
  // length are not returned (short read). Every block touched is checked
  // against its CRC32C: a mismatch is kChecksumMismatch and *out is empty.
  Status Read(uint64_t offset, uint64_t len, std::string* out) const;
  // Sets the version only (a write of no bytes).
  Status SetVersion(uint64_t version);
  // Re-reads the current header slot from disk and checks that it is intact
  // and still this replica of `chunk_id` at the version and sequence held
  // in memory (catches a file copied over this one). kChecksumMismatch if not.
  Status CheckIdentity(uint64_t chunk_id) const;

  // fdatasync: everything written so far is durable, and the places the
  // previous durable header used and the new one does not are freed. Then
  // the same header is written again without its list of changed blocks
  // (not synced), so that a later open has nothing to verify.
  Status Sync();
  // Sync twice: the header without a list of changed blocks is durable as
  // well. For a file written once (a copy, an upgrade) before it is renamed
  // into place.
  Status SyncAndSeal();

  // True if Open took a newest header with changed blocks and wrote nothing
  // (see Open): the next change, or SealDurable, seals it.
  bool unsealed() const { return unsealed_; }
  // Sequence number of the current header (while unsealed: the one Open
  // took).
  uint64_t header_seq() const { return cur_.seq; }
  // For a file left unsealed by Open whose header and data the caller has
  // made durable since (syncfs of its file system): frees what the header
  // does not use and writes its copy without dirty bits to the other slot,
  // unsynced, as Sync() does. Nothing if the file is not unsealed.
  Status SealDurable();
  // If Open left the file unsealed: fdatasync, then SealDurable(). Called
  // first by every change.
  Status SealIfOpenedUnsealed();

  // In-memory form of a header slot (docs/chunk_format.md).
  struct Header {
    uint64_t chunk_id = 0;
    uint64_t version = 0;
    uint64_t length = 0;
    uint64_t seq = 0;       // higher wins
    uint64_t base_seq = 0;  // seq of the durable header when this one was written
    std::array<BlockPlace, kBlocksPerChunk> place{};
    std::array<uint32_t, kBlocksPerChunk> crc{};
    std::bitset<kBlocksPerChunk> dirty;  // blocks changed since base_seq
  };

 private:
  // Bytes to write at one file offset (data points into the caller's
  // buffer or into a buffer the plan owns).
  struct Piece {
    uint64_t file_offset = 0;
    std::span<const char> data;
    uint64_t reserve_from = 0;  // [reserve_from, end) is new space (allocated, freed on failure)
  };
  struct Plan;

  explicit ChunkFile(std::unique_ptr<DiskFile> disk) : disk_(std::move(disk)) {}

  Status Recover();
  // Syncs, frees the places `punch`'s dirty blocks do not use in cur_, and
  // writes cur_ without dirty bits to the other slot, synced: the state a
  // later open takes without verifying anything.
  Status Seal(const Header& punch);
  // Reads the valid bytes of block `b` under header `h` into `buf` and
  // checks them against its CRC (kChecksumMismatch names the block).
  Status ReadVerifiedBlock(const Header& h, uint32_t b, char* buf) const;
  // Adds to `plan` the change of block `b` to the length `new_len` with
  // the chunk bytes [lo, hi) taken from `src` (lo == hi: no data, only
  // zeros past the old length).
  Status PlanBlock(uint32_t b, uint64_t new_len, uint64_t lo, uint64_t hi, const char* src,
                   Plan* plan) const;
  // Reserves, writes the plan's pieces and then the header `next`.
  Status Apply(Plan* plan);
  // Writes `next` to the slot that is not durable; on success it is cur_.
  Status StoreHeader(Header next);
  // Frees the places of `h`'s dirty blocks that `h` does not use.
  void PunchUnused(const Header& h);

  std::unique_ptr<DiskFile> disk_;
  Header cur_;                   // the state the last header write described
  std::vector<char> cur_image_;  // cur_'s slot as on disk (CheckIdentity compares it)
  Header durable_;               // the header on disk as of the last fdatasync
  int cur_slot_ = 0;             // the slot holding cur_
  int durable_slot_ = 0;         // the slot holding durable_
  uint64_t max_seq_ = 0;         // highest seq ever seen or written
  Status broken_;                // sticky: a header write failed, the slot may be torn
  std::string folder_to_sync_;   // fsynced by the next Sync(), then cleared
  bool unsealed_ = false;        // Open took a verified, dirty newest header and wrote nothing
};

}  // namespace ddbfs::chunkserver
