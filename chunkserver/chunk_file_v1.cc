#include "chunk_file_v1.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "chunk_file.h"
#include "ddbfs/crc32c.h"
#include "disk_file.h"
#include "little_endian.h"

namespace ddbfs::chunkserver {

namespace {

constexpr char kMagic1[8] = {'D', 'D', 'B', 'F', 'S', 'C', 'K', '1'};
constexpr uint32_t kHeaderSize1 = 8192;  // header block + CRC table
constexpr uint32_t kHeaderBlock1 = 4096;

Status Corrupt(const std::string& m) { return Status(ErrorCode::kChecksumMismatch, m); }

// Copies the verified bytes of the format-1 file `in` into `out`.
Status Copy(DiskFile& in, const std::string& path, ChunkFile* out) {
  std::vector<char> header(kHeaderSize1);
  size_t got = 0;
  RETURN_IF_ERROR(in.Pread(0, header, &got));
  const char* h = header.data();
  if (got != kHeaderSize1) return Corrupt(path + ": format-1 header is truncated");
  if (Crc32c(std::span<const char>(h, kHeaderBlock1 - 4)) != Get32(h + kHeaderBlock1 - 4)) {
    return Corrupt(path + ": format-1 header CRC32C mismatch");
  }
  if (Get32(h + 8) != 1 || Get32(h + 12) != kHeaderSize1 || Get32(h + 40) != kBlockSize ||
      Get32(h + 44) != kBlocksPerChunk || Get64(h + 32) > kChunkSize) {
    return Corrupt(path + ": bad format-1 header fields");
  }
  const uint64_t version = Get64(h + 24);
  const uint64_t length = Get64(h + 32);
  std::vector<char> buf(kMaxIoSize);
  for (uint64_t off = 0; off < length; off += kMaxIoSize) {
    const uint64_t n = std::min<uint64_t>(kMaxIoSize, length - off);
    RETURN_IF_ERROR(in.Pread(kHeaderSize1 + off, std::span<char>(buf.data(), n), &got));
    if (got != n) return Corrupt(path + ": format-1 file is shorter than its length");
    for (uint64_t at = 0; at < n; at += kBlockSize) {
      const uint32_t b = static_cast<uint32_t>((off + at) / kBlockSize);
      const uint64_t valid = std::min<uint64_t>(kBlockSize, n - at);
      if (Crc32c(std::span<const char>(buf.data() + at, valid)) !=
          Get32(h + kHeaderBlock1 + 4 * b)) {
        return Corrupt(path + ": format-1 block " + std::to_string(b) + " CRC32C mismatch");
      }
    }
    RETURN_IF_ERROR(out->Write(off, std::span<const char>(buf.data(), n), version));
  }
  return out->SetVersion(version);
}

}  // namespace

bool IsFormat1File(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[8] = {};
  const bool yes = ::pread(fd, magic, sizeof magic, 0) == sizeof magic &&
                   std::memcmp(magic, kMagic1, sizeof magic) == 0;
  ::close(fd);
  return yes;
}

Status UpgradeFormat1File(const std::string& path) {
  ASSIGN_OR_RETURN(auto in, PosixDiskFile::Open(path, /*create=*/false));
  char id_bytes[8] = {};
  size_t got = 0;
  RETURN_IF_ERROR(in->Pread(16, std::span<char>(id_bytes, 8), &got));
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // left by an upgrade that crashed
  auto out = ChunkFile::Create(tmp, Get64(id_bytes), 1);
  if (!out.ok()) return out.status();
  Status s = Copy(*in, path, out->get());
  if (s.ok()) s = (*out)->SyncAndSeal();
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = DiskError("rename " + tmp, errno);
  if (s.ok()) s = SyncDir(std::filesystem::path(path).parent_path().string());
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

}  // namespace ddbfs::chunkserver
