#pragma once

// The disk operations a ChunkFile needs on its one file, behind an interface
// so that tests can put a fault-injecting file underneath (one that loses or
// tears every write not yet synced when it "crashes"). Production uses
// PosixDiskFile.
//
// Thread-safety: Pread may run on many threads at once; the other methods
// are called by one thread at a time (ChunkStore's stripe lock).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ddbfs/status.h"

namespace ddbfs::chunkserver {

// Maps an errno from a disk operation to a Status: ENOSPC/EDQUOT become
// kNoSpace, everything else kIoError. `what` names the operation and file.
Status DiskError(const std::string& what, int err);
// fsync of a folder, so that names created or renamed in it are durable.
Status SyncDir(const std::string& dir);

class DiskFile {
 public:
  virtual ~DiskFile() = default;

  // The file's name, for messages.
  virtual const std::string& path() const = 0;
  // Reads up to buf.size() bytes at `offset`; *got is less only at the end
  // of the file.
  virtual Status Pread(uint64_t offset, std::span<char> buf, size_t* got) = 0;
  // Writes all of `data` at `offset` (the file grows as needed).
  virtual Status Pwrite(uint64_t offset, std::span<const char> data) = 0;
  // fdatasync: every write so far is durable.
  virtual Status Sync() = 0;
  // Reserves disk space for [offset, offset+len) without changing the file
  // size, so that a full disk fails here (kNoSpace) rather than in the
  // middle of a write. A file system that cannot reserve answers OK.
  virtual Status Allocate(uint64_t offset, uint64_t len) = 0;
  // Frees [offset, offset+len): it reads as zeros afterwards. Best effort
  // (a file system that cannot punch holes keeps the bytes).
  virtual Status Punch(uint64_t offset, uint64_t len) = 0;
  // Asks the kernel to start writing [offset, offset+len) to the disk now,
  // without waiting for it. A hint: nothing about durability changes (only
  // Sync makes bytes durable); it spreads a large write's disk work over
  // the write instead of leaving all of it to the next Sync.
  virtual void StartWriteback(uint64_t /*offset*/, uint64_t /*len*/) {}
};

// A real file (pread/pwrite/fdatasync/fallocate). Owns its descriptor.
class PosixDiskFile : public DiskFile {
 public:
  // Opens `path` read-write; with `create`, creates it (it must not exist:
  // kExists otherwise). A missing file is kNotFound.
  static Result<std::unique_ptr<DiskFile>> Open(const std::string& path, bool create);

  ~PosixDiskFile() override;
  PosixDiskFile(const PosixDiskFile&) = delete;
  PosixDiskFile& operator=(const PosixDiskFile&) = delete;

  const std::string& path() const override { return path_; }
  Status Pread(uint64_t offset, std::span<char> buf, size_t* got) override;
  Status Pwrite(uint64_t offset, std::span<const char> data) override;
  Status Sync() override;
  Status Allocate(uint64_t offset, uint64_t len) override;
  Status Punch(uint64_t offset, uint64_t len) override;
  void StartWriteback(uint64_t offset, uint64_t len) override;

 private:
  PosixDiskFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;
};

}  // namespace ddbfs::chunkserver
