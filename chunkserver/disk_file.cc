#include "disk_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ddbfs::chunkserver {

Status DiskError(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return Status(ErrorCode::kNoSpace, what + ": no space left on device");
  }
  return IoError(what + ": " + std::strerror(err));
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return DiskError("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return DiskError("fsync " + dir, err);
  return Status();
}

Result<std::unique_ptr<DiskFile>> PosixDiskFile::Open(const std::string& path, bool create) {
  const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists("chunk file " + path + " already exists");
    if (errno == ENOENT) return NotFound("no chunk file " + path);
    return DiskError((create ? "create " : "open ") + path, errno);
  }
  return std::unique_ptr<DiskFile>(new PosixDiskFile(path, fd));
}

PosixDiskFile::~PosixDiskFile() { ::close(fd_); }

Status PosixDiskFile::Pread(uint64_t offset, std::span<char> buf, size_t* got) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n =
        ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return DiskError("read " + path_, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  *got = done;
  return Status();
}

Status PosixDiskFile::Pwrite(uint64_t offset, std::span<const char> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return DiskError("write " + path_, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status();
}

Status PosixDiskFile::Sync() {
  if (::fdatasync(fd_) != 0) return DiskError("fdatasync " + path_, errno);
  return Status();
}

void PosixDiskFile::StartWriteback(uint64_t offset, uint64_t len) {
  // Best effort: a failure here only means the next fdatasync does the work.
  (void)::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(len),
                          SYNC_FILE_RANGE_WRITE);
}

Status PosixDiskFile::Allocate(uint64_t offset, uint64_t len) {
  if (len == 0) return Status();
  if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(len)) !=
      0) {
    if (errno == EOPNOTSUPP || errno == ENOSYS) return Status();
    return DiskError("allocate space in " + path_, errno);
  }
  return Status();
}

Status PosixDiskFile::Punch(uint64_t offset, uint64_t len) {
  if (len == 0) return Status();
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) != 0) {
    if (errno == EOPNOTSUPP || errno == ENOSYS) return Status();
    return DiskError("free space in " + path_, errno);
  }
  return Status();
}

}  // namespace ddbfs::chunkserver
