// POSIX behaviour of the mount (issue 7): fallocate, fcntl and flock locks,
// shared writable mmap, O_DIRECT, files over 4 GiB, timestamps, the
// clearing of setuid/setgid bits, and the errnos Linux gives. Each test
// asserts the exact errno and the state left behind; what depends on
// permissions runs also as `nobody` (a forked child that drops root).

#include <fcntl.h>
#include <grp.h>
#include <linux/falloc.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "fuse_fixture.h"
#include "process.h"
#include "test_cluster.h"

namespace ddbfs::testing {
namespace {

constexpr int64_t kSecond = 1000000000LL;

int64_t Ns(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * kSecond + t.tv_nsec;
}

int64_t NowNs() {
  struct timespec t;
  ::clock_gettime(CLOCK_REALTIME, &t);
  return Ns(t);
}

// Sets atime and mtime of `path` (seconds since the epoch, nanoseconds).
int SetTimes(const std::string& path, int64_t atime_ns, int64_t mtime_ns) {
  struct timespec ts[2] = {{static_cast<time_t>(atime_ns / kSecond), atime_ns % kSecond},
                           {static_cast<time_t>(mtime_ns / kSecond), mtime_ns % kSecond}};
  return ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

class PosixTest : public FuseTest {
 protected:
  void SetUp() override {
    FuseTest::SetUp();
    struct passwd* pw = ::getpwnam("nobody");
    ASSERT_NE(pw, nullptr);
    nobody_uid_ = pw->pw_uid;
    nobody_gid_ = pw->pw_gid;
  }

  // Runs `fn` in a forked child that has dropped root for nobody (no
  // supplementary groups, no capabilities left); returns what `fn` returns
  // (0 or an errno), 250 if the identity could not be changed, -1 if the
  // child died. The child makes only system calls.
  int AsNobody(const std::function<int()>& fn) const {
    return AsUser(nobody_uid_, nobody_gid_, fn);
  }

  static int AsUser(uid_t uid, gid_t gid, const std::function<int()>& fn) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
          ::setresuid(uid, uid, uid) != 0) {
        ::_exit(250);
      }
      ::_exit(fn());
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // The mode as another client of the cluster sees it.
  uint32_t ClusterMode(const std::string& rel) {
    auto client = cluster_->NewClient();
    if (client == nullptr) return 0xffffffff;
    Result<Attr> a = client->ResolvePath(DdbfsPath(rel));
    return a.ok() ? a->mode : 0xffffffff;
  }

  uid_t nobody_uid_ = 0;
  gid_t nobody_gid_ = 0;
};

// errno of a failing call in a child (0: it succeeded).
int Err(int rc) { return rc < 0 ? errno : 0; }

// errno of an open(2) that should fail; 0 if it succeeded (and the
// descriptor is closed, so that it does not keep the mount busy).
int OpenErrno(const std::string& path, int flags, mode_t mode = 0644) {
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

// A descriptor closed at scope exit: a failed ASSERT must not leave the
// mount busy for the suite's unmount.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  operator int() const { return fd_; }
  int Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd);
  }

 private:
  int fd_;
};

// ---- fallocate

TEST_F(PosixTest, FallocateGrowsFileAndHolesReadZero) {
  Fd fd(::open(P("f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
  // fallocate(2) itself (posix_fallocate would fall back to writing zeros).
  ASSERT_EQ(::fallocate(fd, 0, 0, static_cast<off_t>(kMiB)), 0) << std::strerror(errno);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kMiB));
  EXPECT_EQ(PRead(fd, kMiB, 0), "head" + std::string(kMiB - 4, '\0'));
  // Inside the file: nothing changes.
  ASSERT_EQ(::fallocate(fd, 0, 4096, 4096), 0);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kMiB));
  EXPECT_EQ(PRead(fd, 4, 0), "head");
  // KEEP_SIZE beyond the end: success, the size stays.
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * static_cast<off_t>(kMiB)), 0);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kMiB));
  // A write not committed yet survives a fallocate that grows the file.
  ASSERT_EQ(::pwrite(fd, "pending", 7, 2 * kMiB), 7);
  ASSERT_EQ(::fallocate(fd, 0, 0, 3 * static_cast<off_t>(kMiB)), 0);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 3 * static_cast<off_t>(kMiB));
  EXPECT_EQ(PRead(fd, 9, 2 * kMiB - 1), std::string("\0pending\0", 9));
  // posix_fallocate across the 64 MiB chunk boundary, sparse.
  const off_t at = static_cast<off_t>(kChunkSize) - 4096;
  ASSERT_EQ(::posix_fallocate(fd, at, 8192), 0);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, at + 8192);
  EXPECT_EQ(PRead(fd, 8192, at), std::string(8192, '\0'));
  EXPECT_EQ(PRead(fd, 100, at + 8192), "");
  ASSERT_EQ(fd.Close(), 0);
  // Stored in the cluster: another client sees the size.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("f"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size, static_cast<uint64_t>(at + 8192));
  EXPECT_EQ(ReadFile(P("f")).substr(0, 4), "head");
}

TEST_F(PosixTest, FallocatePunchHoleZeroesRangeAndKeepsSize) {
  const size_t size = 256 * 1024;
  std::string model = RandomData(size, 7);
  ASSERT_EQ(WriteFile(P("f"), model), 0);
  Fd fd(::open(P("f").c_str(), O_RDWR));
  ASSERT_GE(fd, 0);
  auto zero = [&](size_t off, size_t len) {
    for (size_t i = off; i < std::min(model.size(), off + len); ++i) model[i] = '\0';
  };
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 65536), 0)
      << std::strerror(errno);
  zero(4096, 65536);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(size));
  EXPECT_TRUE(PRead(fd, size, 0) == model);
  // A range crossing the end: zeros up to the end, the size stays.
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, size - 1000, kMiB), 0);
  zero(size - 1000, kMiB);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(size));
  // Writes not committed yet, through this and another descriptor: the
  // hole punched afterwards wins where it covers them.
  Fd fd2(::open(P("f").c_str(), O_WRONLY));
  ASSERT_GE(fd2, 0);
  const std::string y(8192, 'y');
  ASSERT_EQ(::pwrite(fd2, y.data(), y.size(), 100000), 8192);
  model.replace(100000, 8192, y);
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 101000, 2048), 0);
  zero(101000, 2048);
  EXPECT_TRUE(PRead(fd, size, 0) == model);
  // ZERO_RANGE inside, and beyond the end (grows the file unless KEEP_SIZE).
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_ZERO_RANGE, 30000, 5000), 0) << std::strerror(errno);
  zero(30000, 5000);
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, size - 10, 4096), 0);
  zero(size - 10, 10);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(size));
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_ZERO_RANGE, size - 10, 4096), 0);
  model += std::string(4096 - 10, '\0');
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(size - 10 + 4096));
  EXPECT_TRUE(PRead(fd, model.size() + 10, 0) == model);
  ASSERT_EQ(fd2.Close(), 0);
  ASSERT_EQ(fd.Close(), 0);
  EXPECT_TRUE(ReadFile(P("f")) == model);
  // Another client reads the same.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("f"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size, model.size());
  auto reader = client->OpenReader(a->inode);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string back(model.size(), '\0');
  Result<size_t> n = (*reader)->Read(0, std::span<char>(back.data(), back.size()));
  ASSERT_TRUE(n.ok()) << n.status();
  back.resize(*n);
  EXPECT_TRUE(back == model);
}

TEST_F(PosixTest, FallocateUnsupportedModeIsEopnotsupp) {
  ASSERT_EQ(WriteFile(P("f"), "0123456789"), 0);
  Fd fd(::open(P("f").c_str(), O_RDWR));
  ASSERT_GE(fd, 0);
  // What the mount supports works on this descriptor...
  EXPECT_EQ(::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096), 0) << std::strerror(errno);
  // ...and the rest answers as Linux does.
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096); }),
            EOPNOTSUPP);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 4096); }), EOPNOTSUPP);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4); }), EOPNOTSUPP);
  EXPECT_EQ(
      ErrnoOf([&] { return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE, 0, 4); }),
      EOPNOTSUPP);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(fd, 0, 0, 0); }), EINVAL);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(fd, 0, 0, -5); }), EINVAL);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(fd, 0, -1, 5); }), EINVAL);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(-1, 0, 0, 5); }), EBADF);
  Fd ro(::open(P("f").c_str(), O_RDONLY));
  ASSERT_GE(ro, 0);
  EXPECT_EQ(ErrnoOf([&] { return ::fallocate(ro, 0, 0, 100); }), EBADF);
  EXPECT_EQ(ro.Close(), 0);
  EXPECT_EQ(fd.Close(), 0);
  EXPECT_EQ(ReadFile(P("f")), "0123456789");
}

// ---- locks: the kernel's, among the processes of this mount

TEST_F(PosixTest, FcntlLocksConflictBetweenProcesses) {
  ASSERT_EQ(WriteFile(P("lock"), std::string(300, 'l')), 0);
  const std::string path = P("lock");
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  Fd fd(::open(path.c_str(), O_RDWR));
  ASSERT_GE(fd, 0);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 100;
  ASSERT_EQ(::fcntl(fd, F_SETLK, &fl), 0) << std::strerror(errno);
  const pid_t parent = ::getpid();

  // Another process, as nobody: [50, 60) conflicts, [100, 200) does not.
  const int child = AsNobody([&] {
    Fd cfd(::open(path.c_str(), O_RDWR));
    if (cfd < 0) return 10;
    struct flock c {};
    c.l_type = F_WRLCK;
    c.l_whence = SEEK_SET;
    c.l_start = 50;
    c.l_len = 10;
    if (::fcntl(cfd, F_SETLK, &c) == 0 || errno != EAGAIN) return 11;
    c.l_type = F_RDLCK;
    if (::fcntl(cfd, F_SETLK, &c) == 0 || errno != EAGAIN) return 12;
    c.l_type = F_WRLCK;
    if (::fcntl(cfd, F_GETLK, &c) != 0) return 13;
    if (c.l_type != F_WRLCK || c.l_pid != parent || c.l_start != 0 || c.l_len != 100) return 14;
    struct flock free_range {};
    free_range.l_type = F_WRLCK;
    free_range.l_whence = SEEK_SET;
    free_range.l_start = 100;
    free_range.l_len = 100;
    if (::fcntl(cfd, F_SETLK, &free_range) != 0) return 15;
    // A write lock needs a descriptor open for writing.
    Fd rfd(::open(path.c_str(), O_RDONLY));
    if (rfd < 0) return 16;
    free_range.l_start = 200;
    if (::fcntl(rfd, F_SETLK, &free_range) == 0 || errno != EBADF) return 17;
    return 0;
  });
  EXPECT_EQ(child, 0) << "the child's check " << child << " failed";

  // The other way round: a child holds [100, 200) until told to go.
  int ready[2];
  int go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    Fd cfd(::open(path.c_str(), O_RDWR));
    struct flock c {};
    c.l_type = F_WRLCK;
    c.l_whence = SEEK_SET;
    c.l_start = 100;
    c.l_len = 100;
    const char ok = (cfd >= 0 && ::fcntl(cfd, F_SETLK, &c) == 0) ? 'y' : 'n';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    char b;
    if (::read(go[0], &b, 1) != 1) ::_exit(1);
    ::_exit(0);  // exiting releases the lock
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  EXPECT_EQ(ok, 'y');
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 150;
  probe.l_len = 10;
  EXPECT_EQ(ErrnoOf([&] { return ::fcntl(fd, F_SETLK, &probe); }), EAGAIN);
  ASSERT_EQ(::fcntl(fd, F_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_WRLCK);
  EXPECT_EQ(probe.l_pid, holder);
  EXPECT_EQ(probe.l_start, 100);
  EXPECT_EQ(probe.l_len, 100);
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  probe.l_type = F_WRLCK;
  probe.l_start = 150;
  probe.l_len = 10;
  EXPECT_EQ(::fcntl(fd, F_SETLK, &probe), 0) << std::strerror(errno);
  for (int p : {ready[0], ready[1], go[0], go[1]}) ::close(p);
  EXPECT_EQ(fd.Close(), 0);
}

TEST_F(PosixTest, FlockExclusiveBlocksSecondOpenFileDescription) {
  ASSERT_EQ(WriteFile(P("lock"), "x"), 0);
  const std::string path = P("lock");
  Fd fd1(::open(path.c_str(), O_RDONLY));
  Fd fd2(::open(path.c_str(), O_RDONLY));
  ASSERT_GE(fd1, 0);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(::flock(fd1, LOCK_EX), 0) << std::strerror(errno);
  EXPECT_EQ(ErrnoOf([&] { return ::flock(fd2, LOCK_EX | LOCK_NB); }), EWOULDBLOCK);
  EXPECT_EQ(ErrnoOf([&] { return ::flock(fd2, LOCK_SH | LOCK_NB); }), EWOULDBLOCK);
  // A duplicate shares the open file description, and so the lock.
  const int dup = ::dup(fd1);
  EXPECT_EQ(::flock(dup, LOCK_EX | LOCK_NB), 0);
  ::close(dup);
  // Another process (nobody) is refused too.
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open(path.c_str(), O_RDONLY));
              if (fd < 0) return 100;
              return Err(::flock(fd, LOCK_EX | LOCK_NB));
            }),
            EWOULDBLOCK);
  ASSERT_EQ(::flock(fd1, LOCK_UN), 0);
  EXPECT_EQ(::flock(fd2, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::flock(fd1, LOCK_SH | LOCK_NB); }), EWOULDBLOCK);
  EXPECT_EQ(fd2.Close(), 0);  // closing the description releases its lock
  EXPECT_EQ(::flock(fd1, LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open(path.c_str(), O_RDONLY));
              if (fd < 0) return 100;
              const int sh = Err(::flock(fd, LOCK_SH | LOCK_NB));
              return sh != 0 ? sh : 200 + Err(::flock(fd, LOCK_EX | LOCK_NB));
            }),
            200 + EWOULDBLOCK);
  EXPECT_EQ(fd1.Close(), 0);
}

// ---- mmap

TEST_F(PosixTest, SharedMmapWriteSeenByNewOpen) {
  const size_t len = 3 * 4096;
  for (const bool msync_first : {true, false}) {
    const std::string name = msync_first ? "synced" : "unsynced";
    Fd fd(::open(P(name).c_str(), O_CREAT | O_RDWR, 0644));
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(len)), 0);
    void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(m, MAP_FAILED) << std::strerror(errno);
    char* p = static_cast<char*>(m);
    std::memcpy(p + 100, "mapped bytes", 12);
    std::memcpy(p + 8192 + 5, "page three", 10);
    if (msync_first) {
      ASSERT_EQ(::msync(m, len, MS_SYNC), 0) << std::strerror(errno);
    }
    ASSERT_EQ(::munmap(m, len), 0);
    ASSERT_EQ(fd.Close(), 0) << name;
    std::string want(len, '\0');
    want.replace(100, 12, "mapped bytes");
    want.replace(8192 + 5, 10, "page three");
    EXPECT_TRUE(ReadFile(P(name)) == want) << name;
    // In the cluster: another client reads the bytes.
    auto client = cluster_->NewClient();
    ASSERT_NE(client, nullptr);
    Result<Attr> a = client->ResolvePath(DdbfsPath(name));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->size, len);
    auto reader = client->OpenReader(a->inode);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::string back(len, '\0');
    Result<size_t> n = (*reader)->Read(0, std::span<char>(back.data(), back.size()));
    ASSERT_TRUE(n.ok()) << n.status();
    back.resize(*n);
    EXPECT_TRUE(back == want) << name;
  }
}

TEST_F(PosixTest, MmapWriteAcrossChunkBoundaryOfSparseFile) {
  static_assert(kChunkSize == 64 * kMiB);
  const off_t size = static_cast<off_t>(kChunkSize + kMiB);
  Fd fd(::open(P("big").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, size), 0);
  const off_t map_off = static_cast<off_t>(kChunkSize) - 2 * 4096;
  const size_t map_len = 4 * 4096;
  void* m = ::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, map_off);
  ASSERT_NE(m, MAP_FAILED) << std::strerror(errno);
  const std::string pattern = RandomData(8192, 9);  // [64 MiB - 4 KiB, 64 MiB + 4 KiB)
  std::memcpy(static_cast<char*>(m) + 4096, pattern.data(), pattern.size());
  ASSERT_EQ(::msync(m, map_len, MS_SYNC), 0) << std::strerror(errno);
  ASSERT_EQ(::munmap(m, map_len), 0);
  ASSERT_EQ(fd.Close(), 0);

  struct stat st = Stat(P("big"));
  EXPECT_EQ(st.st_size, size);
  Fd rfd(::open(P("big").c_str(), O_RDONLY));
  ASSERT_GE(rfd, 0);
  EXPECT_TRUE(PRead(rfd, 8192, static_cast<off_t>(kChunkSize) - 4096) == pattern);
  EXPECT_EQ(PRead(rfd, 4096, map_off), std::string(4096, '\0'));
  EXPECT_EQ(PRead(rfd, 4096, static_cast<off_t>(kChunkSize) + 4096), std::string(4096, '\0'));
  EXPECT_EQ(PRead(rfd, 4096, 0), std::string(4096, '\0'));
  EXPECT_EQ(PRead(rfd, 4096, size - 4096), std::string(4096, '\0'));
  EXPECT_EQ(rfd.Close(), 0);
  // Both chunks hold data; nothing else was written.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("big"));
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[0].index, 0);
  EXPECT_EQ((*chunks)[1].index, 1);
  EXPECT_LE((*chunks)[1].length, 2 * 4096u);
}

// ---- O_DIRECT and large sparse files

TEST_F(PosixTest, ODirectWriteAndReadRoundTrip) {
  constexpr size_t kLen = 4 * 4096;
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> out(static_cast<char*>(std::aligned_alloc(4096, kLen)));
  std::unique_ptr<char, Free> in(static_cast<char*>(std::aligned_alloc(4096, kLen)));
  ASSERT_TRUE(out && in);
  const std::string data = RandomData(kLen, 11);
  std::memcpy(out.get(), data.data(), kLen);
  Fd fd(::open(P("direct").c_str(), O_CREAT | O_RDWR | O_DIRECT, 0644));
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::pwrite(fd, out.get(), kLen, 0), static_cast<ssize_t>(kLen)) << std::strerror(errno);
  ASSERT_EQ(::pwrite(fd, out.get(), 4096, static_cast<off_t>(kMiB)), 4096);
  std::memset(in.get(), 0, kLen);
  ASSERT_EQ(::pread(fd, in.get(), kLen, 0), static_cast<ssize_t>(kLen)) << std::strerror(errno);
  EXPECT_EQ(std::memcmp(in.get(), data.data(), kLen), 0);
  std::memset(in.get(), 1, kLen);
  ASSERT_EQ(::pread(fd, in.get(), 4096, static_cast<off_t>(kMiB)), 4096);
  EXPECT_EQ(std::memcmp(in.get(), data.data(), 4096), 0);
  ASSERT_EQ(::pread(fd, in.get(), 4096, 8192 * 4), 4096);  // a hole
  EXPECT_EQ(std::string(in.get(), 4096), std::string(4096, '\0'));
  ASSERT_EQ(fd.Close(), 0);
  const std::string back = ReadFile(P("direct"));
  ASSERT_EQ(back.size(), kMiB + 4096);
  EXPECT_TRUE(back.substr(0, kLen) == data);
  EXPECT_TRUE(back.substr(kMiB) == data.substr(0, 4096));
}

TEST_F(PosixTest, SparseFileOverFourGiB) {
  const off_t at = 5LL << 30;
  const std::string tail = "bytes after five GiB";
  Fd fd(::open(P("huge").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), at), static_cast<ssize_t>(tail.size()))
      << std::strerror(errno);
  ASSERT_EQ(fd.Close(), 0);
  struct stat st = Stat(P("huge"));
  EXPECT_EQ(st.st_size, at + static_cast<off_t>(tail.size()));
  // Holes take no space: a few bytes of data are a block or so, not 5 GiB.
  EXPECT_LE(st.st_blocks, 8) << "st_blocks counts the holes";
  EXPECT_GE(st.st_blocks, 1);
  Fd rfd(::open(P("huge").c_str(), O_RDONLY));
  ASSERT_GE(rfd, 0);
  EXPECT_EQ(PRead(rfd, tail.size() + 10, at), tail);
  EXPECT_EQ(PRead(rfd, 4096, 4LL << 30), std::string(4096, '\0'));
  EXPECT_EQ(PRead(rfd, 4096, at - 4096), std::string(4096, '\0'));
  EXPECT_EQ(PRead(rfd, 4096, 0), std::string(4096, '\0'));
  EXPECT_EQ(rfd.Close(), 0);
  // A dense file counts its bytes.
  ASSERT_EQ(WriteFile(P("dense"), std::string(100000, 'd')), 0);
  EXPECT_EQ(Stat(P("dense")).st_blocks, (100000 + 511) / 512);
  // Shrinking gives the space back; growing adds none.
  ASSERT_EQ(::truncate(P("dense").c_str(), 1000), 0);
  EXPECT_EQ(Stat(P("dense")).st_blocks, 2);
  ASSERT_EQ(::truncate(P("huge").c_str(), 4096), 0);
  EXPECT_EQ(Stat(P("huge")).st_blocks, 0);
  ASSERT_EQ(::truncate(P("huge").c_str(), at), 0);
  EXPECT_EQ(Stat(P("huge")).st_blocks, 0);
}

TEST_F(PosixTest, SeekDataAndSeekHoleFollowTheChunksThatExist) {
  constexpr off_t kChunk = 64LL << 20;
  Fd fd(::open(P("holes").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd, 0);
  // Data in chunk 0 and chunk 3; chunks 1 and 2 are a hole. Not closed:
  // the writes are still this mount's own when lseek asks.
  ASSERT_EQ(::pwrite(fd, "a", 1, 10), 1);
  const off_t far = 3 * kChunk + 100;
  ASSERT_EQ(::pwrite(fd, "b", 1, far), 1);
  const off_t size = far + 1;
  EXPECT_EQ(::lseek(fd, 0, SEEK_DATA), 0);
  EXPECT_EQ(::lseek(fd, 5, SEEK_DATA), 5);
  EXPECT_EQ(::lseek(fd, 0, SEEK_HOLE), kChunk);
  EXPECT_EQ(::lseek(fd, kChunk + 7, SEEK_HOLE), kChunk + 7);
  EXPECT_EQ(::lseek(fd, kChunk, SEEK_DATA), 3 * kChunk);
  EXPECT_EQ(::lseek(fd, 3 * kChunk, SEEK_HOLE), size);  // the end is a hole
  errno = 0;
  EXPECT_EQ(::lseek(fd, size, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  errno = 0;
  EXPECT_EQ(::lseek(fd, size + 5, SEEK_HOLE), -1);
  EXPECT_EQ(errno, ENXIO);
  ASSERT_EQ(fd.Close(), 0);
  // A file without any chunk is one hole: no data at all.
  Fd empty(::open(P("allhole").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(empty, 0);
  ASSERT_EQ(::ftruncate(empty, 2 * kChunk), 0);
  errno = 0;
  EXPECT_EQ(::lseek(empty, 0, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  EXPECT_EQ(::lseek(empty, 0, SEEK_HOLE), 0);
  ASSERT_EQ(empty.Close(), 0);
  // cp skips the hole: the copy of 192 MiB takes far less than one chunk.
  ASSERT_EQ(std::system(("cp --sparse=auto " + P("holes") + " " + P("holes.copy")).c_str()), 0);
  EXPECT_LT(Stat(P("holes.copy")).st_blocks * 512, kChunk);
  EXPECT_EQ(ReadFile(P("holes.copy")), ReadFile(P("holes")));
}

// ---- timestamps

TEST_F(PosixTest, WriteUpdatesMtimeAndCtime) {
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);
  const int64_t t0 = NowNs();
  Fd fd(::open(P("f").c_str(), O_WRONLY | O_APPEND));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "more", 4), 4);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);  // before close: the write is not committed yet
  EXPECT_GE(Ns(st.st_mtim), t0);
  EXPECT_GE(Ns(st.st_ctim), t0);
  EXPECT_EQ(st.st_size, 5);
  ASSERT_EQ(fd.Close(), 0);
  st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_mtim), t0);
  EXPECT_GE(Ns(st.st_ctim), t0);
  EXPECT_EQ(Ns(st.st_atim), 1000 * kSecond) << "a write does not change atime";
  // Truncating changes both too.
  ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);
  const int64_t t1 = NowNs();
  ASSERT_EQ(::truncate(P("f").c_str(), 2), 0);
  st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_mtim), t1);
  EXPECT_GE(Ns(st.st_ctim), t1);
}

TEST_F(PosixTest, ChmodUpdatesCtimeOnly) {
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond + 5), 0);
  const int64_t before = Ns(Stat(P("f")).st_ctim);
  const int64_t t0 = NowNs();
  ASSERT_EQ(::chmod(P("f").c_str(), 0600), 0);
  struct stat st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_ctim), t0);
  EXPECT_GT(Ns(st.st_ctim), before);
  EXPECT_EQ(Ns(st.st_mtim), 2000 * kSecond + 5);
  EXPECT_EQ(Ns(st.st_atim), 1000 * kSecond);
  const int64_t t1 = NowNs();
  ASSERT_EQ(::chown(P("f").c_str(), 1234, 1234), 0);
  st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_ctim), t1);
  EXPECT_EQ(Ns(st.st_mtim), 2000 * kSecond + 5);
  EXPECT_EQ(Ns(st.st_atim), 1000 * kSecond);
}

TEST_F(PosixTest, RenameUpdatesNodeCtimeAndBothParents) {
  ASSERT_EQ(::mkdir(P("a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("b").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("a/f"), "x"), 0);
  for (const char* n : {"a", "b", "a/f"}) ASSERT_EQ(SetTimes(P(n), kSecond, 2 * kSecond), 0) << n;
  const int64_t node_before = Ns(Stat(P("a/f")).st_ctim);
  const int64_t t0 = NowNs();
  ASSERT_EQ(::rename(P("a/f").c_str(), P("b/g").c_str()), 0);
  struct stat st = Stat(P("b/g"));
  EXPECT_GE(Ns(st.st_ctim), t0);
  EXPECT_GT(Ns(st.st_ctim), node_before);
  EXPECT_EQ(Ns(st.st_mtim), 2 * kSecond) << "a rename does not change the node's mtime";
  for (const char* n : {"a", "b"}) {
    st = Stat(P(n));
    EXPECT_GE(Ns(st.st_mtim), t0) << n;
    EXPECT_GE(Ns(st.st_ctim), t0) << n;
  }
  // Within one directory.
  ASSERT_EQ(SetTimes(P("b"), kSecond, 2 * kSecond), 0);
  const int64_t t1 = NowNs();
  ASSERT_EQ(::rename(P("b/g").c_str(), P("b/h").c_str()), 0);
  st = Stat(P("b"));
  EXPECT_GE(Ns(st.st_mtim), t1);
  EXPECT_GE(Ns(st.st_ctim), t1);
  EXPECT_GE(Ns(Stat(P("b/h")).st_ctim), t1);
}

TEST_F(PosixTest, LinkAndUnlinkUpdateNodeCtimeAndDirMtime) {
  ASSERT_EQ(::mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(SetTimes(P("f"), kSecond, 2 * kSecond), 0);
  ASSERT_EQ(SetTimes(P("d"), kSecond, 2 * kSecond), 0);
  const int64_t t0 = NowNs();
  ASSERT_EQ(::link(P("f").c_str(), P("d/g").c_str()), 0);
  struct stat st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_ctim), t0);
  EXPECT_EQ(Ns(st.st_mtim), 2 * kSecond);
  EXPECT_EQ(st.st_nlink, 2u);
  st = Stat(P("d"));
  EXPECT_GE(Ns(st.st_mtim), t0);
  EXPECT_GE(Ns(st.st_ctim), t0);

  ASSERT_EQ(SetTimes(P("f"), kSecond, 2 * kSecond), 0);
  ASSERT_EQ(SetTimes(P("d"), kSecond, 2 * kSecond), 0);
  const int64_t t1 = NowNs();
  ASSERT_EQ(::unlink(P("d/g").c_str()), 0);
  st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_ctim), t1);
  EXPECT_EQ(Ns(st.st_mtim), 2 * kSecond);
  EXPECT_EQ(st.st_nlink, 1u);
  st = Stat(P("d"));
  EXPECT_GE(Ns(st.st_mtim), t1);
  EXPECT_GE(Ns(st.st_ctim), t1);
}

TEST_F(PosixTest, UtimensatNanosecondsNowAndOmit) {
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(::chmod(P("f").c_str(), 0666), 0);
  ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond + 123456789, 2000 * kSecond + 987654321), 0);
  struct stat st = Stat(P("f"));
  EXPECT_EQ(Ns(st.st_atim), 1000 * kSecond + 123456789);
  EXPECT_EQ(Ns(st.st_mtim), 2000 * kSecond + 987654321);
  const int64_t t0 = NowNs();
  struct timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, P("f").c_str(), now_omit, 0), 0);
  st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_atim), t0);
  EXPECT_EQ(Ns(st.st_mtim), 2000 * kSecond + 987654321);
  EXPECT_GE(Ns(st.st_ctim), t0);
  struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  const int64_t t1 = NowNs();
  ASSERT_EQ(::utimensat(AT_FDCWD, P("f").c_str(), omit_now, 0), 0);
  const struct stat after = Stat(P("f"));
  EXPECT_EQ(Ns(after.st_atim), Ns(st.st_atim));
  EXPECT_GE(Ns(after.st_mtim), t1);
  // Both omitted: nothing changes, not even ctime.
  struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, P("f").c_str(), omit, 0), 0);
  EXPECT_EQ(Ns(Stat(P("f")).st_ctim), Ns(after.st_ctim));

  // Another user with write permission may set "now" but not a given time.
  const std::string f = P("f");
  EXPECT_EQ(AsNobody([&] { return Err(::utimensat(AT_FDCWD, f.c_str(), nullptr, 0)); }), 0);
  EXPECT_EQ(AsNobody([&] {
              struct timespec ts[2] = {{5, 0}, {5, 0}};
              return Err(::utimensat(AT_FDCWD, f.c_str(), ts, 0));
            }),
            EPERM);
  EXPECT_GT(Stat(P("f")).st_mtim.tv_sec, 5);
  ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
  EXPECT_EQ(AsNobody([&] { return Err(::utimensat(AT_FDCWD, f.c_str(), nullptr, 0)); }), EACCES);
}

// relatime: a read updates atime if it is not after mtime or ctime, or is
// more than 24 h old; otherwise it leaves it (and a read never moves ctime).
TEST_F(PosixTest, ReadUpdatesAtimeWithRelatimeRules) {
  ASSERT_EQ(WriteFile(P("f"), "data", 0644), 0);
  ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);  // atime before mtime
  struct stat st = Stat(P("f"));
  const int64_t ctime = Ns(st.st_ctim);
  const int64_t t0 = NowNs();
  EXPECT_EQ(ReadFile(P("f")), "data");
  st = Stat(P("f"));
  EXPECT_GE(Ns(st.st_atim), t0);
  EXPECT_EQ(Ns(st.st_mtim), 2000 * kSecond);
  EXPECT_EQ(Ns(st.st_ctim), ctime) << "an atime update does not change ctime";
  // Now atime is after mtime and ctime and recent: a read leaves it.
  const int64_t atime = Ns(st.st_atim);
  EXPECT_EQ(ReadFile(P("f")), "data");
  EXPECT_EQ(Ns(Stat(P("f")).st_atim), atime);
  // After mtime (in the past) but more than a day old: updated.
  const int64_t now = NowNs();
  ASSERT_EQ(SetTimes(P("f"), now - 25 * 3600 * kSecond, now - 30 * 3600 * kSecond), 0);
  // ctime is now too: make atime later than ctime is impossible without
  // touching ctime, so this case also covers "atime <= ctime".
  const int64_t t1 = NowNs();
  EXPECT_EQ(ReadFile(P("f")), "data");
  EXPECT_GE(Ns(Stat(P("f")).st_atim), t1);
  // A read as another user counts too.
  ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);
  const std::string f = P("f");
  const int64_t t2 = NowNs();
  EXPECT_EQ(AsNobody([&] {
              char buf[8];
              Fd fd(::open(f.c_str(), O_RDONLY));
              if (fd < 0) return errno;
              const ssize_t n = ::read(fd, buf, sizeof buf);
              fd.Close();
              return n == 4 ? 0 : 100;
            }),
            0);
  EXPECT_GE(Ns(Stat(P("f")).st_atim), t2);
}

// atime is sent after the read, in the background: another client sees it
// soon; a utimensat of atime right after a read keeps the explicit time
// (the read's unsent update must not land after it), in this mount's stat
// and in the cluster.
TEST_F(PosixTest, ExplicitAtimeAfterAReadWins) {
  ASSERT_EQ(WriteFile(P("f"), "data", 0644), 0);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  auto atime = [&] {
    Result<Attr> a = client->ResolvePath(DdbfsPath("f"));
    return a.ok() ? a->atime_ns : -1;
  };
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);  // a read updates it
    const int64_t t0 = NowNs();
    EXPECT_EQ(ReadFile(P("f")), "data");
    EXPECT_GE(Ns(Stat(P("f")).st_atim), t0) << "this mount shows it at once";
    EXPECT_TRUE(WaitFor([&] { return atime() >= t0; }, std::chrono::seconds(5)))
        << "another client sees it soon: " << atime();
    // Read, then set atime at once (before the mount's next batch).
    ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);
    EXPECT_EQ(ReadFile(P("f")), "data");
    ASSERT_EQ(SetTimes(P("f"), 1500 * kSecond, 2000 * kSecond), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(Ns(Stat(P("f")).st_atim), 1500 * kSecond) << "round " << round;
    EXPECT_EQ(atime(), 1500 * kSecond) << "round " << round;
  }
}

// The mount's atime options: noatime never updates it, strictatime at the
// first read through every descriptor (also what relatime skips), relatime
// (accepted too, though libfuse does not know it) as the default.
TEST_F(PosixTest, NoatimeAndStrictatimeMountOptions) {
  ASSERT_EQ(WriteFile(P("f"), "data"), 0);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  auto atime = [&] {
    Result<Attr> a = client->ResolvePath(DdbfsPath("f"));
    return a.ok() ? a->atime_ns : -1;
  };
  for (const std::string opt : {"noatime", "strictatime", "relatime"}) {
    const std::string m = work_->path() + "/" + opt;
    ASSERT_EQ(::mkdir(m.c_str(), 0755), 0);
    std::unique_ptr<Process> p = Mount(m, {"-o", opt});
    ASSERT_NE(p, nullptr);
    const std::string f = m + "/" + name_ + "/f";
    // The mount sends atime updates within about 0.2 s: waited for, and
    // given 1 s where none must come.
    if (opt == "noatime") {
      ASSERT_EQ(SetTimes(P("f"), 1000 * kSecond, 2000 * kSecond), 0);  // relatime would update
      EXPECT_EQ(ReadFile(f), "data");
      std::this_thread::sleep_for(std::chrono::seconds(1));
      EXPECT_EQ(atime(), 1000 * kSecond);
    } else {
      // After mtime and ctime, recent, and before the read to come.
      const int64_t recent = NowNs() + 300000000;
      ASSERT_EQ(SetTimes(P("f"), recent, 2000 * kSecond), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      const int64_t t0 = NowNs();
      EXPECT_EQ(ReadFile(f), "data");
      if (opt == "strictatime") {
        EXPECT_TRUE(WaitFor([&] { return atime() >= t0; }, std::chrono::seconds(5))) << atime();
      } else {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        EXPECT_EQ(atime(), recent);
      }
    }
    Unmount(m, p.release());
  }
}

// ---- setuid / setgid

TEST_F(PosixTest, ChownClearsSetuidAndSetgid) {
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(::chmod(P("f").c_str(), 06755), 0);
  ASSERT_EQ(::chown(P("f").c_str(), 1234, 1234), 0);
  EXPECT_EQ(Stat(P("f")).st_mode & 07777, 0755u);
  EXPECT_EQ(ClusterMode("f"), 0755u);
  // Setgid without group execute is not a privilege: it stays (as on Linux).
  ASSERT_EQ(WriteFile(P("g"), "x"), 0);
  ASSERT_EQ(::chmod(P("g").c_str(), 06745), 0);
  ASSERT_EQ(::chown(P("g").c_str(), 1234, -1), 0);
  EXPECT_EQ(Stat(P("g")).st_mode & 07777, 02745u);
  // A directory keeps both.
  ASSERT_EQ(::mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(P("d").c_str(), 06755), 0);
  ASSERT_EQ(::chown(P("d").c_str(), 1234, 1234), 0);
  EXPECT_EQ(Stat(P("d")).st_mode & 07777, 06755u);
  // The owner (nobody) changing the group of its own file clears them too.
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  const std::string mine = P("mine");
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open(mine.c_str(), O_CREAT | O_WRONLY, 0755));
              if (fd < 0) return errno;
              fd.Close();
              if (::chmod(mine.c_str(), 04755) != 0) return errno;
              return Err(::chown(mine.c_str(), static_cast<uid_t>(-1), ::getgid()));
            }),
            0);
  EXPECT_EQ(Stat(mine).st_mode & 07777, 0755u);
}

TEST_F(PosixTest, WriteByNonOwnerClearsSetuid) {
  ASSERT_EQ(WriteFile(P("f"), "data"), 0);
  ASSERT_EQ(::chmod(P("f").c_str(), 06777), 0);
  ASSERT_EQ(WriteFile(P("u"), "data"), 0);
  ASSERT_EQ(::chmod(P("u").c_str(), 04766), 0);
  for (const char* name : {"f", "u"}) {
    const std::string path = P(name);
    EXPECT_EQ(AsNobody([&] {
                Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND));
                if (fd < 0) return errno;
                if (::write(fd, "+", 1) != 1) return errno;
                return Err(fd.Close());
              }),
              0)
        << name;
  }
  EXPECT_EQ(Stat(P("f")).st_mode & 07777, 0777u);
  EXPECT_EQ(Stat(P("u")).st_mode & 07777, 0766u);
  EXPECT_EQ(ClusterMode("f"), 0777u);
  EXPECT_EQ(ClusterMode("u"), 0766u);
  EXPECT_EQ(ReadFile(P("f")), "data+");
  // Root (CAP_FSETID) keeps the bits when it writes.
  ASSERT_EQ(WriteFile(P("r"), "data"), 0);
  ASSERT_EQ(::chmod(P("r").c_str(), 06777), 0);
  ASSERT_EQ(WriteFile(P("r"), "more", 0644, O_APPEND), 0);
  EXPECT_EQ(Stat(P("r")).st_mode & 07777, 06777u);
  EXPECT_EQ(ClusterMode("r"), 06777u);
}

// A descriptor that reads around the page cache (the file grew on another
// client while the kernel still caches its old size, docs/fuse.md) does not
// pass through the kernel's clearing of the bits on write: the mount clears
// them itself.
TEST_F(PosixTest, WriteByNonOwnerClearsSetuidAroundThePageCache) {
  ASSERT_EQ(WriteFile(P("f"), "data"), 0);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("f"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(::chmod(P("f").c_str(), 06777), 0);  // the kernel caches size 4 from here
  {
    auto w = client->OpenWriter(a->inode);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE((*w)->Write(4, std::span<const char>("grown", 5)).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  const std::string path = P("f");
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open(path.c_str(), O_RDWR));
              if (fd < 0) return errno;
              char b[16];
              // All 9 bytes: this descriptor reads around the stale size.
              if (::pread(fd, b, sizeof b, 0) != 9) return 100;
              if (::pwrite(fd, "+", 1, 9) != 1) return errno;
              return Err(fd.Close());
            }),
            0);
  EXPECT_EQ(Stat(P("f")).st_mode & 07777, 0777u);
  EXPECT_EQ(ClusterMode("f"), 0777u);
  EXPECT_EQ(ReadFile(P("f")), "datagrown+");
}

TEST_F(PosixTest, TruncateByNonOwnerClearsSetuid) {
  for (const char* name : {"t", "ft", "otrunc"}) {
    ASSERT_EQ(WriteFile(P(name), std::string(100, 'x')), 0);
    ASSERT_EQ(::chmod(P(name).c_str(), 06777), 0);
  }
  const std::string t = P("t");
  const std::string ft = P("ft");
  const std::string ot = P("otrunc");
  EXPECT_EQ(AsNobody([&] { return Err(::truncate(t.c_str(), 10)); }), 0);
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open(ft.c_str(), O_WRONLY));
              if (fd < 0) return errno;
              const int e = Err(::ftruncate(fd, 20));
              fd.Close();
              return e;
            }),
            0);
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open(ot.c_str(), O_WRONLY | O_TRUNC));
              if (fd < 0) return errno;
              return Err(fd.Close());
            }),
            0);
  struct stat st = Stat(t);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(st.st_size, 10);
  st = Stat(ft);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(st.st_size, 20);
  st = Stat(ot);
  EXPECT_EQ(st.st_mode & 07777, 0777u);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(ClusterMode("t"), 0777u);
  EXPECT_EQ(ClusterMode("otrunc"), 0777u);
}

// ---- errnos

TEST_F(PosixTest, SymlinkLoopIsEloop) {
  ASSERT_EQ(::symlink("b", P("a").c_str()), 0);
  ASSERT_EQ(::symlink("a", P("b").c_str()), 0);
  ASSERT_EQ(::symlink("self", P("self").c_str()), 0);
  struct stat st;
  EXPECT_EQ(OpenErrno(P("a"), O_RDONLY), ELOOP);
  EXPECT_EQ(OpenErrno(P("self"), O_CREAT | O_WRONLY, 0644), ELOOP);
  EXPECT_EQ(ErrnoOf([&] { return ::stat(P("b").c_str(), &st); }), ELOOP);
  EXPECT_EQ(OpenErrno(P("a/x"), O_RDONLY), ELOOP);
  EXPECT_EQ(ErrnoOf([&] { return ::lstat(P("a").c_str(), &st); }), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(::symlink("f", P("l").c_str()), 0);
  EXPECT_EQ(OpenErrno(P("l"), O_RDONLY | O_NOFOLLOW), ELOOP);
  EXPECT_EQ(ListNames(dir_), (std::set<std::string>{"a", "b", "f", "l", "self"}));
}

TEST_F(PosixTest, NameTooLongInEveryCreatingCall) {
  const std::string long_name(256, 'n');
  const std::string max_name(255, 'm');
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  EXPECT_EQ(OpenErrno(P(long_name), O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir(P(long_name).c_str(), 0755); }), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf([&] { return ::mkfifo(P(long_name).c_str(), 0644); }), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("f").c_str(), P(long_name).c_str()); }), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf([&] { return ::link(P("f").c_str(), P(long_name).c_str()); }), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf([&] { return ::symlink("f", P(long_name).c_str()); }), ENAMETOOLONG);
  EXPECT_EQ(ListNames(dir_), std::set<std::string>{"f"});
  // 255 bytes is fine for each; a symlink's target may hold longer names.
  EXPECT_EQ(::link(P("f").c_str(), P(max_name).c_str()), 0);
  EXPECT_EQ(::rename(P(max_name).c_str(), P(max_name.substr(1) + "r").c_str()), 0);
  EXPECT_EQ(::mkdir(P(std::string(255, 'd')).c_str(), 0755), 0);
  EXPECT_EQ(::symlink(long_name.c_str(), P(std::string(255, 's')).c_str()), 0);
  char buf[300];
  EXPECT_EQ(::readlink(P(std::string(255, 's')).c_str(), buf, sizeof buf), 256);
  EXPECT_EQ(ListNames(dir_).size(), 4u);
}

TEST_F(PosixTest, NotDirIsDirAndNotEmpty) {
  ASSERT_EQ(WriteFile(P("f"), "x"), 0);
  ASSERT_EQ(::mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("full").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("full/x"), "x"), 0);
  ASSERT_EQ(::mkdir(P("full2").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("full2/sub").c_str(), 0755), 0);
  struct stat st;
  // ENOTDIR
  EXPECT_EQ(OpenErrno(P("f/x"), O_RDONLY), ENOTDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir(P("f/x").c_str(), 0755); }), ENOTDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::stat(P("f/").c_str(), &st); }), ENOTDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::rmdir(P("f").c_str()); }), ENOTDIR);
  EXPECT_EQ(OpenErrno(P("f"), O_RDONLY | O_DIRECTORY), ENOTDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("d").c_str(), P("f").c_str()); }), ENOTDIR);
  // EISDIR
  EXPECT_EQ(OpenErrno(P("d"), O_WRONLY), EISDIR);
  EXPECT_EQ(OpenErrno(P("d"), O_RDWR), EISDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::unlink(P("d").c_str()); }), EISDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("f").c_str(), P("d").c_str()); }), EISDIR);
  Fd dfd(::open(P("d").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(dfd, 0);
  char b;
  EXPECT_EQ(ErrnoOf([&] { return ::read(dfd, &b, 1); }), EISDIR);
  dfd.Close();
  // ENOTEMPTY
  EXPECT_EQ(ErrnoOf([&] { return ::rmdir(P("full").c_str()); }), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("d").c_str(), P("full").c_str()); }), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("full2").c_str(), P("full").c_str()); }), ENOTEMPTY);
  // Nothing moved.
  EXPECT_EQ(ListNames(dir_), (std::set<std::string>{"d", "f", "full", "full2"}));
  EXPECT_EQ(ListNames(P("full")), std::set<std::string>{"x"});
  EXPECT_EQ(ListNames(P("full2")), std::set<std::string>{"sub"});
  EXPECT_EQ(ReadFile(P("f")), "x");
  EXPECT_TRUE(S_ISDIR(Stat(P("d")).st_mode));
}

TEST_F(PosixTest, NoExdevWithinOneMount) {
  ASSERT_EQ(::mkdir(P("a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("a/deep").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("b").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("a/deep/f"), "f"), 0);
  ASSERT_EQ(WriteFile(P("b/g"), "g"), 0);
  // Across directories, across the suite's folders, and to the mount's root.
  EXPECT_EQ(::rename(P("a/deep/f").c_str(), P("b/f").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(::link(P("b/f").c_str(), P("a/deep/hard").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(::rename(P("a/deep").c_str(), P("b/deep").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(
      ::renameat2(AT_FDCWD, P("b/g").c_str(), AT_FDCWD, P("b/deep/hard").c_str(), RENAME_EXCHANGE),
      0)
      << std::strerror(errno);
  const std::string top = mnt_ + "/" + name_ + "-top";
  EXPECT_EQ(::rename(P("b/deep").c_str(), top.c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(::rename(top.c_str(), P("deep").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile(P("b/f")), "f");
  EXPECT_EQ(ReadFile(P("deep/hard")), "g");
  EXPECT_EQ(ReadFile(P("b/g")), "f");
  EXPECT_EQ(Stat(P("b/f")).st_nlink, 2u);
}

TEST_F(PosixTest, StickyDirectoryProtectsOtherUsersEntries) {
  const std::string tmp = P("tmp");
  ASSERT_EQ(::mkdir(tmp.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(tmp.c_str(), 01777), 0);
  ASSERT_EQ(WriteFile(tmp + "/rootfile", "root's"), 0);
  ASSERT_EQ(::chmod((tmp + "/rootfile").c_str(), 0666), 0);
  ASSERT_EQ(::mkdir((tmp + "/rootdir").c_str(), 0755), 0);
  EXPECT_EQ(AsNobody([&] { return Err(::unlink((tmp + "/rootfile").c_str())); }), EPERM);
  EXPECT_EQ(AsNobody([&] { return Err(::rmdir((tmp + "/rootdir").c_str())); }), EPERM);
  EXPECT_EQ(AsNobody([&] {
              return Err(::rename((tmp + "/rootfile").c_str(), (tmp + "/taken").c_str()));
            }),
            EPERM);
  // Replacing root's file with one's own is removing it too.
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open((tmp + "/mine").c_str(), O_CREAT | O_WRONLY, 0644));
              if (fd < 0) return 100 + errno;
              fd.Close();
              return Err(::rename((tmp + "/mine").c_str(), (tmp + "/rootfile").c_str()));
            }),
            EPERM);
  // Writing into root's 0666 file is allowed (the sticky bit guards names).
  EXPECT_EQ(AsNobody([&] {
              Fd fd(::open((tmp + "/rootfile").c_str(), O_WRONLY | O_APPEND));
              if (fd < 0) return errno;
              if (::write(fd, "!", 1) != 1) return errno;
              return Err(fd.Close());
            }),
            0);
  // Its own entries it may remove.
  EXPECT_EQ(AsNobody([&] { return Err(::unlink((tmp + "/mine").c_str())); }), 0);
  EXPECT_EQ(ListNames(tmp), (std::set<std::string>{"rootdir", "rootfile"}));
  EXPECT_EQ(ReadFile(tmp + "/rootfile"), "root's!");
  // Without the sticky bit the same unlink succeeds.
  ASSERT_EQ(::chmod(tmp.c_str(), 0777), 0);
  EXPECT_EQ(AsNobody([&] { return Err(::unlink((tmp + "/rootfile").c_str())); }), 0);
  EXPECT_EQ(ListNames(tmp), std::set<std::string>{"rootdir"});
}

// ---- POSIX ACLs (docs/fuse.md, "POSIX ACLs"): what ext4 does, through
// setfacl/getfacl and cp -a, with the kernel and the metaserver both
// honouring them.

TEST_F(PosixTest, PosixAclsGrantLimitAndFollowChmodLikeExt4) {
  const std::string f = P("acl-file");
  ASSERT_EQ(WriteFile(f, "secret"), 0);
  ASSERT_EQ(::chmod(f.c_str(), 0600), 0);
  auto read_as_nobody = [&] {
    return AsNobody([&] {
      Fd fd(::open(f.c_str(), O_RDONLY));
      return fd < 0 ? errno : 0;
    });
  };
  auto write_as_nobody = [&] {
    return AsNobody([&] {
      Fd fd(::open(f.c_str(), O_WRONLY | O_APPEND));
      return fd < 0 ? errno : 0;
    });
  };
  EXPECT_EQ(read_as_nobody(), EACCES);
  CommandResult r = RunCommand({"setfacl", "-m", "u:nobody:r", f});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  struct stat st;
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u) << "the group bits show the mask";
  EXPECT_EQ(read_as_nobody(), 0);
  EXPECT_EQ(write_as_nobody(), EACCES);
  // The mask limits the named entry.
  ASSERT_EQ(RunCommand({"setfacl", "-m", "m::-", f}).exit_code, 0);
  EXPECT_EQ(read_as_nobody(), EACCES);
  // chmod sets the mask again.
  ASSERT_EQ(::chmod(f.c_str(), 0660), 0);
  EXPECT_EQ(read_as_nobody(), 0);
  r = RunCommand({"getfacl", "-c", f});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "user::rw-\nuser:nobody:r--\ngroup::---\nmask::rw-\nother::---\n\n");
  EXPECT_EQ(ClusterMode("acl-file"), 0660u) << "another client sees the mode the ACL set";
  // Only the owner changes an ACL.
  EXPECT_EQ(AsNobody([&] {
              const char v[] = "\x02\0\0\0";
              return Err(::setxattr(f.c_str(), "system.posix_acl_access", v, 4, 0));
            }),
            EPERM);
  // setfacl -b: back to the mode alone.
  ASSERT_EQ(RunCommand({"setfacl", "-b", f}).exit_code, 0);
  char buf[64];
  EXPECT_EQ(
      Err(static_cast<int>(::getxattr(f.c_str(), "system.posix_acl_access", buf, sizeof buf))),
      ENODATA);
  EXPECT_EQ(read_as_nobody(), EACCES);
  // A default ACL only on a directory.
  r = RunCommand({"setfacl", "-d", "-m", "u:nobody:r", f});
  EXPECT_NE(r.exit_code, 0) << Show(r);
  // A directory's ACL lets nobody create in root's 0755 directory: the
  // kernel and the metaserver (which checks creates as the caller) agree.
  const std::string team = P("acl-team");
  ASSERT_EQ(::mkdir(team.c_str(), 0755), 0);
  ASSERT_EQ(RunCommand({"setfacl", "-m", "u:nobody:rwx", team}).exit_code, 0);
  EXPECT_EQ(AsNobody([&] {
              Fd c(::open((team + "/mine").c_str(), O_CREAT | O_WRONLY, 0644));
              return c < 0 ? errno : 0;
            }),
            0);
  ASSERT_EQ(::stat((team + "/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody_uid_);
}

TEST_F(PosixTest, NewNodesInheritTheDefaultAclAndOtherwiseTheUmaskApplies) {
  const std::string d = P("acl-dir");
  ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  CommandResult r = RunCommand({"setfacl", "-d", "-m", "u:nobody:rwx,g::rwx,o::-", d});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const mode_t old_umask = ::umask(077);
  const int fd = ::open((d + "/f").c_str(), O_CREAT | O_WRONLY, 0666);
  const int mk = ::mkdir((d + "/sub").c_str(), 0777);
  const int fifo = ::mkfifo((d + "/p").c_str(), 0666);
  const int plain_fd = ::open(P("plain").c_str(), O_CREAT | O_WRONLY, 0666);
  const int plain_dir = ::mkdir(P("plain-dir").c_str(), 0777);
  ::umask(old_umask);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ::close(fd);
  ASSERT_GE(plain_fd, 0);
  ::close(plain_fd);
  ASSERT_EQ(mk, 0);
  ASSERT_EQ(fifo, 0);
  ASSERT_EQ(plain_dir, 0);
  struct stat st;
  // ext4 gives the same: the umask (077) is ignored under a default ACL.
  ASSERT_EQ(::stat((d + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ASSERT_EQ(::stat((d + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0770u);
  ASSERT_EQ(::lstat((d + "/p").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ASSERT_EQ(::stat(P("plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "without a default ACL the umask applies";
  ASSERT_EQ(::stat(P("plain-dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  r = RunCommand({"getfacl", "-c", d + "/f"});
  EXPECT_EQ(r.out,
            "user::rw-\nuser:nobody:rwx\t#effective:rw-\ngroup::rwx\t#effective:rw-\n"
            "mask::rw-\nother::---\n\n")
      << Show(r);
  r = RunCommand({"getfacl", "-c", "-d", d + "/sub"});
  EXPECT_EQ(r.out, "user::rwx\nuser:nobody:rwx\ngroup::rwx\nmask::rwx\nother::---\n\n") << Show(r);
  // nobody writes the new file through its named entry.
  EXPECT_EQ(AsNobody([&] {
              Fd w(::open((d + "/f").c_str(), O_WRONLY));
              if (w < 0) return errno;
              return ::write(w, "x", 1) == 1 ? 0 : errno;
            }),
            0);
  // cp -a carries the ACLs out to a local folder and back.
  TempDir local_dir("ddbfs-acl");
  const std::string local = local_dir.path() + "/acl-copy";
  r = RunCommand({"cp", "-a", d, local});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = RunCommand({"cp", "-a", local, P("acl-back")});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(RunCommand({"getfacl", "-c", P("acl-back/sub")}).out,
            RunCommand({"getfacl", "-c", d + "/sub"}).out);
  EXPECT_EQ(RunCommand({"getfacl", "-c", P("acl-back/f")}).out,
            RunCommand({"getfacl", "-c", d + "/f"}).out);
}

// fsync(2) makes the file's data durable whichever descriptor wrote it
// (docs/fuse.md, "Consistency model"): data committed at an earlier close
// without an fdatasync is synced by an fsync through a later, read-only
// descriptor. With the servers of its replicas stopped, that fsync cannot
// confirm it and fails with EIO instead of claiming durability; with them
// running it succeeds.
TEST_F(PosixTest, FsyncThroughALaterDescriptorSyncsDataClosedUnsynced) {
  const std::string f = P("closed-unsynced");
  ASSERT_EQ(WriteFile(f, std::string(100000, 'c')), 0);  // open, write, close: no fsync
  // The last close's release reaches the mount just after close(2) returns.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    Fd fd(::open(f.c_str(), O_RDONLY));
    ASSERT_GE(fd, 0);
    EXPECT_EQ(Err(::fsync(fd)), 0);
  }
  // Again, and the servers holding the chunk go away before the fsync.
  ASSERT_EQ(WriteFile(f, std::string(100000, 'd')), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("closed-unsynced"));
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 1u);
  std::vector<int> stopped;
  for (const auto& r : chunks->front().replicas) {
    for (int i = 0; i < cluster_->chunk_server_count(); ++i) {
      if (cluster_->chunk_server_id(i) == r.server_id) stopped.push_back(i);
    }
  }
  ASSERT_EQ(stopped.size(), 2u);
  {
    // O_CLOEXEC: the servers started again below must not inherit it (it
    // would keep the mount busy).
    Fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_GE(fd, 0);
    for (int i : stopped) cluster_->KillChunkServer(i, SIGKILL);
    EXPECT_EQ(Err(::fsync(fd)), EIO);
  }
  for (int i : stopped) cluster_->StartChunkServer(i);
  EXPECT_EQ(ReadFile(f), std::string(100000, 'd'));
}

}  // namespace
}  // namespace ddbfs::testing
