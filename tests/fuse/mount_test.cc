// ddbfs-mount on a real cluster: real syscalls and ordinary programs on the
// mount. One cluster and one mount (-f -o allow_other) for the suite; each
// test works in its own folder of the mount. Runs as root.

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
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

TEST_F(FuseTest, SmallFileRoundTripAndStat) {
  ASSERT_EQ(WriteFile(P("a.txt"), "hello world", 0640), 0);
  EXPECT_EQ(ReadFile(P("a.txt")), "hello world");
  struct stat st = Stat(P("a.txt"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 11);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_TRUE(S_ISDIR(Stat(dir_).st_mode));
  // It is really in DDBFS, under the same path, with the same inode number.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("a.txt"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size, 11u);
  EXPECT_EQ(static_cast<ino_t>(a->inode), st.st_ino);
  // An empty file, and overwriting with O_TRUNC.
  ASSERT_EQ(WriteFile(P("empty"), ""), 0);
  EXPECT_EQ(Stat(P("empty")).st_size, 0);
  ASSERT_EQ(WriteFile(P("a.txt"), "bye"), 0);
  EXPECT_EQ(ReadFile(P("a.txt")), "bye");
  EXPECT_EQ(Stat(P("a.txt")).st_size, 3);
}

TEST_F(FuseTest, LargeSparseFileAcrossChunkBoundary) {
  const std::string a = RandomData(3 * kMiB, 1);
  const std::string b = RandomData(kMiB, 2);
  const off_t a_off = static_cast<off_t>(kChunkSize - kMiB - kMiB / 2);  // 62.5 MiB: crosses 64
  const off_t b_off = 69 * static_cast<off_t>(kMiB);
  int fd = ::open(P("sparse").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, a.data(), a.size(), a_off), static_cast<ssize_t>(a.size()));
  ASSERT_EQ(::pwrite(fd, b.data(), b.size(), b_off), static_cast<ssize_t>(b.size()));
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(Stat(P("sparse")).st_size, 70 * static_cast<off_t>(kMiB));

  fd = ::open(P("sparse").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(PRead(fd, a.size(), a_off) == a);
  EXPECT_TRUE(PRead(fd, b.size(), b_off) == b);
  EXPECT_EQ(PRead(fd, kMiB, 10 * kMiB), std::string(kMiB, '\0'));    // a hole
  EXPECT_EQ(PRead(fd, kMiB, b_off + static_cast<off_t>(kMiB)), "");  // EOF
  ::close(fd);

  // Sequential 1 MiB writes, read back in one piece.
  const std::string c = RandomData(5 * kMiB + 123, 3);
  ASSERT_EQ(WriteFile(P("seq"), c), 0);
  EXPECT_TRUE(ReadFile(P("seq")) == c);
  EXPECT_EQ(Stat(P("seq")).st_size, static_cast<off_t>(c.size()));
}

TEST_F(FuseTest, ReadsSeeWritesNotYetClosed) {
  const int fd = ::open(P("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abcdef", 6), 6);
  EXPECT_EQ(PRead(fd, 100, 0), "abcdef");  // same descriptor
  const int fd2 = ::open(P("f").c_str(), O_RDONLY);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(PRead(fd2, 100, 0), "abcdef");  // another descriptor
  ASSERT_EQ(::pwrite(fd, "XY", 2, 2), 2);
  EXPECT_EQ(PRead(fd2, 100, 0), "abXYef");
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 6);
  EXPECT_EQ(::close(fd2), 0);
  EXPECT_EQ(::close(fd), 0);
  EXPECT_EQ(ReadFile(P("f")), "abXYef");
}

// keep_cache: an open that finds the file as this mount's last open for
// reading found it (no client changed it since) keeps the kernel's pages,
// so reading it again needs no chunk server. (A file changed on another
// mount is read afresh: ProgramsTest.TwoMountsCloseToOpenAndNamespace.)
TEST_F(FuseTest, AFileUnchangedSinceItsLastOpenIsReadFromThePageCache) {
  const std::string data = RandomData(3 * kMiB + 5, 71);
  ASSERT_EQ(WriteFile(P("cached"), data), 0);
  ASSERT_TRUE(ReadFile(P("cached")) == data);  // from the chunk servers, into the page cache
  // With every chunk server stopped, only the page cache can answer.
  for (int i = 0; i < 3; ++i) cluster_->chunk_server_process(i)->Signal(SIGSTOP);
  std::atomic<bool> done{false};
  std::string again;
  std::thread reader([&] {
    again = ReadFile(P("cached"));
    done = true;
  });
  const bool quick = WaitFor([&] { return done.load(); }, std::chrono::seconds(3));
  for (int i = 0; i < 3; ++i) cluster_->chunk_server_process(i)->Signal(SIGCONT);
  reader.join();
  EXPECT_TRUE(quick) << "the second open did not keep the cached pages";
  EXPECT_TRUE(again == data);
}

TEST_F(FuseTest, AppendAndExclusiveCreate) {
  ASSERT_EQ(WriteFile(P("log"), "one\n", 0644, O_APPEND), 0);
  ASSERT_EQ(WriteFile(P("log"), "two\n", 0644, O_APPEND), 0);
  EXPECT_EQ(ReadFile(P("log")), "one\ntwo\n");
  EXPECT_EQ(ErrnoOf([&] { return ::open(P("log").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644); }),
            EEXIST);
  const int fd = ::open(P("new").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  EXPECT_GE(fd, 0);
  ::close(fd);
}

TEST_F(FuseTest, DirectoriesAndErrnos) {
  ASSERT_EQ(::mkdir(P("d").c_str(), 0750), 0);
  EXPECT_EQ(Stat(P("d")).st_mode & 07777, 0750u);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir(P("d").c_str(), 0755); }), EEXIST);
  ASSERT_EQ(WriteFile(P("d/f"), "x"), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::rmdir(P("d").c_str()); }), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf([&] { return ::open(P("d/missing").c_str(), O_RDONLY); }), ENOENT);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir(P("missing/sub").c_str(), 0755); }), ENOENT);
  EXPECT_EQ(ErrnoOf([&] { return ::open(P("d/f/x").c_str(), O_CREAT | O_WRONLY, 0644); }), ENOTDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::open(P("d").c_str(), O_WRONLY); }), EISDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::unlink(P("d").c_str()); }), EISDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::rmdir(P("d/f").c_str()); }), ENOTDIR);
  const std::string long_name(256, 'n');
  EXPECT_EQ(ErrnoOf([&] { return ::open(P(long_name).c_str(), O_CREAT | O_WRONLY, 0644); }),
            ENAMETOOLONG);
  struct stat st;
  EXPECT_EQ(ErrnoOf([&] { return ::stat(P(long_name).c_str(), &st); }), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir(P(long_name).c_str(), 0755); }), ENAMETOOLONG);
  const std::string max_name(255, 'm');
  EXPECT_EQ(WriteFile(P(max_name), "ok"), 0);
  ASSERT_EQ(::unlink(P("d/f").c_str()), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::unlink(P("d/f").c_str()); }), ENOENT);
  EXPECT_EQ(::rmdir(P("d").c_str()), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::stat(P("d").c_str(), &st); }), ENOENT);
  EXPECT_EQ(ListNames(dir_), std::set<std::string>{max_name});
}

TEST_F(FuseTest, RenameVariants) {
  ASSERT_EQ(WriteFile(P("a"), "A"), 0);
  ASSERT_EQ(WriteFile(P("b"), "B"), 0);
  ASSERT_EQ(WriteFile(P("c"), "C"), 0);
  // Over an existing file.
  ASSERT_EQ(::rename(P("a").c_str(), P("b").c_str()), 0);
  EXPECT_EQ(ReadFile(P("b")), "A");
  EXPECT_EQ(ErrnoOf([&] { return ::access(P("a").c_str(), F_OK); }), ENOENT);
  // RENAME_NOREPLACE onto an existing name.
  EXPECT_EQ(ErrnoOf([&] {
              return ::renameat2(AT_FDCWD, P("c").c_str(), AT_FDCWD, P("b").c_str(),
                                 RENAME_NOREPLACE);
            }),
            EEXIST);
  EXPECT_EQ(ReadFile(P("b")), "A");
  EXPECT_EQ(ReadFile(P("c")), "C");
  EXPECT_EQ(::renameat2(AT_FDCWD, P("c").c_str(), AT_FDCWD, P("n").c_str(), RENAME_NOREPLACE), 0);
  // RENAME_EXCHANGE swaps.
  ASSERT_EQ(::renameat2(AT_FDCWD, P("b").c_str(), AT_FDCWD, P("n").c_str(), RENAME_EXCHANGE), 0);
  EXPECT_EQ(ReadFile(P("b")), "C");
  EXPECT_EQ(ReadFile(P("n")), "A");
  // Directories: over an empty one, not over a full one; into another folder.
  ASSERT_EQ(::mkdir(P("d1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("d2").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(P("d3").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("d3/x"), "x"), 0);
  EXPECT_EQ(::rename(P("d1").c_str(), P("d2").c_str()), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("d2").c_str(), P("d3").c_str()); }), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("b").c_str(), P("d2").c_str()); }), EISDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("d2").c_str(), P("b").c_str()); }), ENOTDIR);
  EXPECT_EQ(ErrnoOf([&] { return ::rename(P("nope").c_str(), P("z").c_str()); }), ENOENT);
  EXPECT_EQ(::rename(P("n").c_str(), P("d3/n").c_str()), 0);
  EXPECT_EQ(ReadFile(P("d3/n")), "A");
  EXPECT_EQ(ListNames(dir_), (std::set<std::string>{"b", "d2", "d3"}));
  EXPECT_EQ(ListNames(P("d3")), (std::set<std::string>{"n", "x"}));
}

TEST_F(FuseTest, SymlinksAndHardLinks) {
  ASSERT_EQ(::symlink("target/x", P("dangling").c_str()), 0);
  char buf[256];
  ssize_t n = ::readlink(P("dangling").c_str(), buf, sizeof buf);
  ASSERT_EQ(n, 8);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "target/x");
  EXPECT_TRUE(S_ISLNK(Stat(P("dangling")).st_mode));
  EXPECT_EQ(Stat(P("dangling")).st_size, 8);
  EXPECT_EQ(ErrnoOf([&] { return ::open(P("dangling").c_str(), O_RDONLY); }), ENOENT);

  ASSERT_EQ(WriteFile(P("f"), "data"), 0);
  ASSERT_EQ(::symlink("f", P("l").c_str()), 0);
  EXPECT_EQ(ReadFile(P("l")), "data");
  EXPECT_EQ(ErrnoOf([&] { return ::symlink("f", P("l").c_str()); }), EEXIST);

  ASSERT_EQ(::link(P("f").c_str(), P("g").c_str()), 0);
  EXPECT_EQ(Stat(P("f")).st_nlink, 2u);
  EXPECT_EQ(Stat(P("g")).st_nlink, 2u);
  EXPECT_EQ(Stat(P("f")).st_ino, Stat(P("g")).st_ino);
  EXPECT_EQ(ReadFile(P("g")), "data");
  EXPECT_EQ(ErrnoOf([&] { return ::link(P("f").c_str(), P("g").c_str()); }), EEXIST);
  ASSERT_EQ(::unlink(P("f").c_str()), 0);
  EXPECT_EQ(Stat(P("g")).st_nlink, 1u);
  EXPECT_EQ(ReadFile(P("g")), "data");
}

TEST_F(FuseTest, TruncateChmodChownUtimens) {
  ASSERT_EQ(WriteFile(P("t"), std::string(1000, 'x')), 0);
  ASSERT_EQ(::truncate(P("t").c_str(), 10), 0);
  EXPECT_EQ(Stat(P("t")).st_size, 10);
  EXPECT_EQ(ReadFile(P("t")), std::string(10, 'x'));
  ASSERT_EQ(::truncate(P("t").c_str(), 100), 0);
  EXPECT_EQ(ReadFile(P("t")), std::string(10, 'x') + std::string(90, '\0'));

  // ftruncate between writes on one descriptor.
  int fd = ::open(P("u").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, std::string(50, 'y').data(), 50, 0), 50);
  ASSERT_EQ(::ftruncate(fd, 20), 0);
  ASSERT_EQ(::pwrite(fd, "zz", 2, 30), 2);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(ReadFile(P("u")), std::string(20, 'y') + std::string(10, '\0') + "zz");
  EXPECT_EQ(Stat(P("u")).st_size, 32);

  ASSERT_EQ(::chmod(P("t").c_str(), 04711), 0);
  EXPECT_EQ(Stat(P("t")).st_mode & 07777, 04711u);
  ASSERT_EQ(::chmod(P("t").c_str(), 0600), 0);
  EXPECT_EQ(Stat(P("t")).st_mode & 07777, 0600u);
  ASSERT_EQ(::chown(P("t").c_str(), 1234, 5678), 0);
  EXPECT_EQ(Stat(P("t")).st_uid, 1234u);
  EXPECT_EQ(Stat(P("t")).st_gid, 5678u);
  ASSERT_EQ(::lchown(P("t").c_str(), static_cast<uid_t>(-1), 42), 0);
  EXPECT_EQ(Stat(P("t")).st_uid, 1234u);
  EXPECT_EQ(Stat(P("t")).st_gid, 42u);

  struct timespec times[2] = {{1000, 5}, {2000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, P("t").c_str(), times, 0), 0);
  struct stat st = Stat(P("t"));
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 7);
  struct timespec now_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, P("t").c_str(), now_omit, 0), 0);
  st = Stat(P("t"));
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_LT(std::abs(st.st_mtim.tv_sec - ::time(nullptr)), 60);

  // futimens on a descriptor with written data: the new mtime stays.
  fd = ::open(P("v").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "v", 1), 1);
  struct timespec old[2] = {{3000, 0}, {4000, 9}};
  ASSERT_EQ(::futimens(fd, old), 0);
  ASSERT_EQ(::close(fd), 0);
  st = Stat(P("v"));
  EXPECT_EQ(st.st_mtim.tv_sec, 4000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 9);
  EXPECT_EQ(st.st_size, 1);
}

TEST_F(FuseTest, FsyncMakesDataVisibleBeforeClose) {
  const std::string data = RandomData(2 * kMiB + 17, 4);
  const int fd = ::open(P("s").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::fdatasync(fd), 0);
  // Another client sees all of it while the descriptor is still open.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> a = client->ResolvePath(DdbfsPath("s"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size, data.size());
  auto reader = client->OpenReader(a->inode);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string back(data.size(), '\0');
  size_t got = 0;
  while (got < back.size()) {
    Result<size_t> n = (*reader)->Read(got, std::span<char>(back.data() + got, back.size() - got));
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    got += *n;
  }
  EXPECT_EQ(got, data.size());
  EXPECT_TRUE(back == data);
  EXPECT_EQ(::close(fd), 0);
}

TEST_F(FuseTest, UnlinkedOpenFileStaysReadable) {
  ASSERT_EQ(WriteFile(P("keep"), "keep me"), 0);
  const InodeId keep_inode = static_cast<InodeId>(Stat(P("keep")).st_ino);
  const int fd = ::open(P("keep").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(P("keep").c_str()), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::access(P("keep").c_str(), F_OK); }), ENOENT);
  EXPECT_TRUE(ListNames(dir_).empty());
  EXPECT_EQ(PRead(fd, 100, 0), "keep me");
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 7);
  EXPECT_EQ(::close(fd), 0);
  // After the last close nothing is left in DDBFS either.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> d = client->ResolvePath("/" + name_);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto l = client->ListDir(d->inode);
        return l.ok() && l->empty() &&
               client->GetAttr(keep_inode).status().code() == ErrorCode::kNotFound;
      },
      std::chrono::seconds(5)));

  // Renaming over an open file: the open descriptor keeps the old content.
  ASSERT_EQ(WriteFile(P("old"), "old content"), 0);
  ASSERT_EQ(WriteFile(P("new"), "new content"), 0);
  const InodeId old_inode = static_cast<InodeId>(Stat(P("old")).st_ino);
  const int fd2 = ::open(P("old").c_str(), O_RDONLY);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(::rename(P("new").c_str(), P("old").c_str()), 0);
  EXPECT_EQ(PRead(fd2, 100, 0), "old content");
  EXPECT_EQ(ReadFile(P("old")), "new content");
  EXPECT_EQ(ListNames(dir_), std::set<std::string>{"old"});
  EXPECT_EQ(::close(fd2), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto l = client->ListDir(d->inode);
        return l.ok() && l->size() == 1 &&
               client->GetAttr(old_inode).status().code() == ErrorCode::kNotFound;
      },
      std::chrono::seconds(5)));
}

TEST_F(FuseTest, ThousandFilesListed) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(WriteFile(P("file" + std::to_string(i)), std::to_string(i)), 0) << i;
  }
  const auto created = std::chrono::steady_clock::now();
  std::set<std::string> names = ListNames(dir_);
  EXPECT_EQ(names.size(), 1000u);
  EXPECT_TRUE(names.count("file0") && names.count("file999"));
  CommandResult ls = RunCommand({"ls", "-l", dir_});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_EQ(std::count(ls.out.begin(), ls.out.end(), '\n'), 1001);  // "total" + 1000
  EXPECT_EQ(ReadFile(P("file777")), "777");
  CommandResult rm = RunCommand({"rm", "-r", dir_});
  ASSERT_EQ(rm.exit_code, 0) << Show(rm);
  struct stat st;
  EXPECT_EQ(ErrnoOf([&] { return ::stat(dir_.c_str(), &st); }), ENOENT);
  const auto end = std::chrono::steady_clock::now();
  using ms = std::chrono::milliseconds;
  std::cout << "1000 files: create " << std::chrono::duration_cast<ms>(created - start).count()
            << " ms, list+read+rm " << std::chrono::duration_cast<ms>(end - created).count()
            << " ms\n";
}

TEST_F(FuseTest, CpTreeInAndOutAndDiff) {
  TempDir local("ddbfs-fuse-src");
  const std::string src = local.path() + "/tree";
  std::filesystem::create_directories(src + "/a/b/c");
  std::filesystem::create_directories(src + "/empty");
  struct F {
    std::string path;
    size_t size;
    mode_t mode;
  };
  const std::vector<F> files = {{"zero", 0, 0644},
                                {"one", 1, 0600},
                                {"a/page", 4095, 0755},
                                {"a/b/med", 100000, 0640},
                                {"a/b/c/big", 1572864, 0644}};
  uint64_t seed = 10;
  for (const F& f : files) {
    const std::string p = src + "/" + f.path;
    std::ofstream(p, std::ios::binary) << RandomData(f.size, seed++);
    ASSERT_EQ(::chmod(p.c_str(), f.mode), 0);
    struct timespec t[2] = {{1500000000, 0}, {1600000000, 123456789}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), t, 0), 0);
  }
  ASSERT_EQ(::symlink("a/page", (src + "/link").c_str()), 0);

  CommandResult cp = RunCommand({"cp", "-a", src, P("tree")});
  ASSERT_EQ(cp.exit_code, 0) << Show(cp);
  CommandResult diff = RunCommand({"diff", "-r", "--no-dereference", src, P("tree")});
  EXPECT_EQ(diff.exit_code, 0) << Show(diff);
  for (const F& f : files) {
    struct stat st = Stat(P("tree/" + f.path));
    EXPECT_EQ(st.st_mode & 07777, f.mode) << f.path;
    EXPECT_EQ(st.st_size, static_cast<off_t>(f.size)) << f.path;
    EXPECT_EQ(st.st_mtim.tv_sec, 1600000000) << f.path;
    EXPECT_EQ(st.st_mtim.tv_nsec, 123456789) << f.path;
  }
  EXPECT_TRUE(S_ISLNK(Stat(P("tree/link")).st_mode));

  // And back out, then mv and rm -rf inside the mount.
  const std::string back = local.path() + "/back";
  cp = RunCommand({"cp", "-a", P("tree"), back});
  ASSERT_EQ(cp.exit_code, 0) << Show(cp);
  diff = RunCommand({"diff", "-r", "--no-dereference", src, back});
  EXPECT_EQ(diff.exit_code, 0) << Show(diff);
  CommandResult mv = RunCommand({"mv", P("tree/a"), P("moved")});
  ASSERT_EQ(mv.exit_code, 0) << Show(mv);
  EXPECT_EQ(ReadFile(P("moved/b/c/big")), ReadFile(src + "/a/b/c/big"));
  CommandResult rm = RunCommand({"rm", "-rf", P("tree"), P("moved")});
  ASSERT_EQ(rm.exit_code, 0) << Show(rm);
  EXPECT_TRUE(ListNames(dir_).empty());
}

TEST_F(FuseTest, MknodMakesFifosSocketsAndDevices) {
  ASSERT_EQ(::mkfifo(P("fifo").c_str(), 0640), 0) << std::strerror(errno);
  struct stat st = Stat(P("fifo"));
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(::mknod(P("sock").c_str(), S_IFSOCK | 0600, 0), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISSOCK(Stat(P("sock")).st_mode));
  EXPECT_EQ(::mknod(P("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
  st = Stat(P("null"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(::mknod(P("reg").c_str(), S_IFREG | 0600, 0), 0);
  EXPECT_TRUE(S_ISREG(Stat(P("reg")).st_mode));
  // A FIFO on the mount is a pipe between local processes.
  CommandResult r =
      RunCommand({"sh", "-c", "(echo through > " + P("fifo") + " &) ; cat " + P("fifo")}, "",
                 std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "through\n");
  // The device node opens this machine's device (nodev is not set here).
  EXPECT_EQ(ReadFile(P("null")), "");
  // Stored in DDBFS with their types.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  auto a = client->ResolvePath(DdbfsPath("null"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->type, FileType::kCharDevice);
  EXPECT_EQ(a->rdev, makedev(1, 3));
  // Only root makes device nodes; a user may make a FIFO.
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  r = RunCommand({"runuser", "-u", "nobody", "--", "sh", "-c",
                  "mknod " + P("dev2") + " c 1 3; mkfifo " + P("userfifo")});
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << Show(r);
  EXPECT_TRUE(S_ISFIFO(Stat(P("userfifo")).st_mode));
  struct stat none;
  EXPECT_NE(::lstat(P("dev2").c_str(), &none), 0);
  for (const char* n : {"fifo", "sock", "null", "reg", "userfifo"}) {
    EXPECT_EQ(::unlink(P(n).c_str()), 0) << n;
  }
}

TEST_F(FuseTest, ExtendedAttributes) {
  ASSERT_EQ(WriteFile(P("f"), "data"), 0);
  const std::string f = P("f");
  const std::string bin("v\0\xff", 3);
  ASSERT_EQ(::setxattr(f.c_str(), "user.colour", "blue", 4, 0), 0) << std::strerror(errno);
  ASSERT_EQ(::setxattr(f.c_str(), "user.bin", bin.data(), bin.size(), 0), 0);
  char buf[256];
  EXPECT_EQ(::getxattr(f.c_str(), "user.colour", nullptr, 0), 4);  // size query
  ssize_t n = ::getxattr(f.c_str(), "user.colour", buf, sizeof buf);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(std::string(buf, 4), "blue");
  EXPECT_EQ(::getxattr(f.c_str(), "user.bin", buf, sizeof buf), 3);
  EXPECT_EQ(std::string(buf, 3), bin);
  EXPECT_EQ(ErrnoOf([&] { return ::getxattr(f.c_str(), "user.colour", buf, 2); }), ERANGE);
  EXPECT_EQ(ErrnoOf([&] { return ::getxattr(f.c_str(), "user.none", buf, sizeof buf); }), ENODATA);
  EXPECT_EQ(ErrnoOf([&] { return ::setxattr(f.c_str(), "user.colour", "x", 1, XATTR_CREATE); }),
            EEXIST);
  EXPECT_EQ(ErrnoOf([&] { return ::setxattr(f.c_str(), "user.new", "x", 1, XATTR_REPLACE); }),
            ENODATA);
  n = ::listxattr(f.c_str(), buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), std::string("user.bin\0user.colour\0", 21));
  EXPECT_EQ(
      ErrnoOf([&] { return ::setxattr(f.c_str(), "system.posix_acl_access", "x", 1, 0); }) != 0,
      true);
  ASSERT_EQ(::removexattr(f.c_str(), "user.bin"), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::removexattr(f.c_str(), "user.bin"); }), ENODATA);
  // Real programs: setfattr/getfattr, and cp -a keeps them.
  CommandResult r = RunCommand({"cp", "-a", f, P("copy")});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  n = ::getxattr(P("copy").c_str(), "user.colour", buf, sizeof buf);
  ASSERT_EQ(n, 4) << std::strerror(errno);
  EXPECT_EQ(std::string(buf, 4), "blue");
  // Another local user: read needs read permission, write needs write.
  ASSERT_EQ(::chmod(f.c_str(), 0600), 0);
  r = RunCommand({"runuser", "-u", "nobody", "--", "sh", "-c",
                  "getfattr -n user.colour " + f + "; setfattr -n user.x -v 1 " + P("copy")});
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << Show(r);
  EXPECT_EQ(ErrnoOf([&] { return ::getxattr(P("copy").c_str(), "user.x", buf, sizeof buf); }),
            ENODATA);
  // Kept by the cluster: another client sees them.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  auto a = client->ResolvePath(DdbfsPath("f"));
  ASSERT_TRUE(a.ok());
  auto v = client->GetXattr(a->inode, "user.colour");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "blue");
}

// A setgid directory gives new nodes its group (and new directories its
// setgid bit), also for another local user on a root mount.
TEST_F(FuseTest, SetgidDirectoryGivesItsGroup) {
  struct passwd* pw = ::getpwnam("nobody");
  ASSERT_NE(pw, nullptr);
  const std::string shared = P("shared");
  ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(::chown(shared.c_str(), 0, 4242), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 02777), 0);
  CommandResult r = RunCommand(
      {"runuser", "-u", "nobody", "--", "sh", "-c",
       "echo x > " + shared + "/f && mkdir " + shared + "/d && ln -s f " + shared + "/l"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  struct stat st = Stat(shared + "/f");
  EXPECT_EQ(st.st_uid, pw->pw_uid);
  EXPECT_EQ(st.st_gid, 4242u);
  st = Stat(shared + "/d");
  EXPECT_EQ(st.st_uid, pw->pw_uid);
  EXPECT_EQ(st.st_gid, 4242u);
  EXPECT_TRUE(st.st_mode & S_ISGID) << "a new directory keeps the setgid bit";
  EXPECT_EQ(Stat(shared + "/l").st_gid, 4242u);
  // Root's own creates follow the same rule.
  ASSERT_EQ(WriteFile(shared + "/rootfile", "r"), 0);
  EXPECT_EQ(Stat(shared + "/rootfile").st_gid, 4242u);
}

TEST_F(FuseTest, StatfsReportsClusterCapacity) {
  struct statvfs sv;
  ASSERT_EQ(::statvfs(dir_.c_str(), &sv), 0);
  EXPECT_GT(sv.f_blocks, 0u);
  EXPECT_LE(sv.f_bavail, sv.f_blocks);
  EXPECT_EQ(sv.f_namemax, 255u);
  CommandResult df = RunCommand({"df", "-P", mnt_});
  EXPECT_EQ(df.exit_code, 0) << Show(df);
}

// An unprivileged user on a root mount with allow_other: the kernel checks
// permissions (default_permissions), and new files are the user's.
TEST_F(FuseTest, UnprivilegedUserGetsEacces) {
  struct passwd* pw = ::getpwnam("nobody");
  ASSERT_NE(pw, nullptr);
  const uid_t nobody = pw->pw_uid;
  ASSERT_EQ(WriteFile(P("secret"), "root only", 0600), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  ASSERT_EQ(::mkdir(P("closed").c_str(), 0755), 0);
  auto as_nobody = [](const std::string& script) {
    return RunCommand({"runuser", "-u", "nobody", "--", "sh", "-c", script});
  };
  CommandResult r = as_nobody("cat " + P("secret"));
  EXPECT_NE(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << Show(r);
  r = as_nobody("echo x >> " + P("secret"));
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << Show(r);
  r = as_nobody("echo x > " + P("closed/x"));
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << Show(r);
  r = as_nobody("chmod 0644 " + P("secret"));
  EXPECT_NE(r.exit_code, 0) << Show(r);
  EXPECT_EQ(Stat(P("secret")).st_mode & 07777, 0600u);
  EXPECT_EQ(ReadFile(P("secret")), "root only");

  r = as_nobody("echo mine > " + P("mine") + " && mkdir " + P("mydir") + " && cat " + P("mine"));
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "mine\n");
  EXPECT_EQ(Stat(P("mine")).st_uid, nobody);
  EXPECT_EQ(Stat(P("mydir")).st_uid, nobody);
  r = as_nobody("chmod 0600 " + P("mine") + " && stat -c %a " + P("mine"));
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "600\n");
}

TEST_F(FuseTest, ReadOnlyMount) {
  ASSERT_EQ(WriteFile(P("f"), "read me"), 0);
  const std::string ro = work_->path() + "/ro";
  ASSERT_EQ(::mkdir(ro.c_str(), 0755), 0);
  std::unique_ptr<Process> p = Mount(ro, {"-o", "ro,attr_timeout=0.5"});
  ASSERT_NE(p, nullptr);
  const std::string f = ro + "/" + name_ + "/f";
  EXPECT_EQ(ReadFile(f), "read me");
  EXPECT_EQ(ErrnoOf([&] { return ::open(f.c_str(), O_WRONLY); }), EROFS);
  EXPECT_EQ(ErrnoOf([&] { return ::mkdir((ro + "/x").c_str(), 0755); }), EROFS);
  EXPECT_EQ(ErrnoOf([&] { return ::unlink(f.c_str()); }), EROFS);
  Unmount(ro, p.release());
  EXPECT_EQ(ReadFile(P("f")), "read me");
}

TEST_F(FuseTest, RefusesBadMountPoints) {
  const std::string bin = cluster_->bin("ddbfs-mount");
  const std::string meta = cluster_->meta_address();
  CommandResult r = RunCommand({bin, "--meta", meta, work_->path() + "/missing"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << Show(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Show(r);

  const std::string full = work_->path() + "/full";
  ASSERT_EQ(::mkdir(full.c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(full + "/x", "x"), 0);
  r = RunCommand({bin, "--meta", meta, full});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << Show(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Show(r);
  EXPECT_FALSE(IsFuseMount(full));

  r = RunCommand({bin, "--meta", meta, full + "/x", "-o", "bogus"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Show(r);
}

// Without -f: the command returns once mounted, the daemon serves, and it
// exits when unmounted.
TEST_F(FuseTest, DaemonizesAndUnmounts) {
  const std::string mnt = work_->path() + "/daemon";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  CommandResult r = RunCommand({cluster_->bin("ddbfs-mount"), "--meta", cluster_->meta_address(),
                                mnt, "-o", "attr_timeout=2,entry_timeout=2"},
                               "", std::chrono::seconds(30));
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(IsFuseMount(mnt));
  // The daemon: the process whose command line names this mount point.
  pid_t daemon = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (!std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    std::string cmdline = ReadFile(e.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("ddbfs-mount") != std::string::npos &&
        cmdline.find(mnt + " ") != std::string::npos) {
      daemon = static_cast<pid_t>(std::stol(pid));
    }
  }
  EXPECT_GT(daemon, 0);
  EXPECT_EQ(WriteFile(mnt + "/" + name_ + "/f", "via daemon"), 0);
  EXPECT_EQ(ReadFile(P("f")), "via daemon");
  r = RunCommand({"fusermount3", "-u", mnt});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_FALSE(IsFuseMount(mnt));
  if (daemon > 0) {
    const bool gone = WaitFor([&] { return ::kill(daemon, 0) != 0; }, std::chrono::seconds(10));
    EXPECT_TRUE(gone) << "ddbfs-mount still runs after unmount";
    if (!gone) ::kill(daemon, SIGKILL);
  }
}

// What `cmake --install` (scripts/install) puts on the system, and mount(8)
// using it: `mount -t ddbfs SOURCE DIR -o ...` and an fstab line of type
// ddbfs (util-linux looks for /sbin/mount.ddbfs: the test links the built
// one there when none is installed, and removes the link afterwards).
TEST_F(FuseTest, MountTypeDdbfsAndFstabLinesWork) {
  const std::string build =
      std::filesystem::path(cluster_->bin("ddbfs-mount")).parent_path().parent_path();
  const std::string root = work_->path() + "/destdir";
  CommandResult r = RunCommand({"env", "DESTDIR=" + root, "cmake", "--install", build}, "",
                               std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  for (const std::string f :
       {"/sbin/mount.ddbfs", "/usr/local/bin/ddbfs-mount", "/usr/local/bin/ddbfs",
        "/usr/local/bin/ddbfs-metaserver", "/usr/local/bin/ddbfs-chunkserver"}) {
    EXPECT_EQ(::access((root + f).c_str(), X_OK), 0) << f << " not installed";
  }
  EXPECT_NE(ReadFile(root + "/sbin/mount.ddbfs").find("/usr/local/bin/ddbfs-mount"),
            std::string::npos);

  const std::string helper = "/sbin/mount.ddbfs";
  bool linked = false;
  struct stat st;
  if (::lstat(helper.c_str(), &st) != 0) {
    ASSERT_EQ(::symlink(cluster_->bin("mount.ddbfs").c_str(), helper.c_str()), 0)
        << std::strerror(errno);
    linked = true;
  }
  const std::string program = "DDBFS_MOUNT_PROGRAM=" + cluster_->bin("ddbfs-mount");
  ASSERT_EQ(WriteFile(P("seen"), "through mount -t"), 0);

  const std::string a = work_->path() + "/mount-t";
  ASSERT_EQ(::mkdir(a.c_str(), 0755), 0);
  r = RunCommand({"env", program, "mount", "-t", "ddbfs", cluster_->meta_address(), a, "-o",
                  "noatime,_netdev,defaults"},
                 "", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(IsFuseMount(a));
  EXPECT_EQ(ReadFile(a + "/" + name_ + "/seen"), "through mount -t");
  EXPECT_NE(ReadFile("/proc/mounts").find(" " + a + " fuse.ddbfs "), std::string::npos);
  r = RunCommand({"umount", a}, "", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_FALSE(IsFuseMount(a));

  const std::string b = work_->path() + "/fstab-mnt";
  ASSERT_EQ(::mkdir(b.c_str(), 0755), 0);
  const std::string fstab = work_->path() + "/fstab";
  ASSERT_EQ(WriteFile(fstab, cluster_->meta_address() + " " + b +
                                 " ddbfs _netdev,nofail,ro,attr_timeout=2 0 0\n"),
            0);
  r = RunCommand({"env", program, "mount", "-T", fstab, b}, "", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(IsFuseMount(b));
  EXPECT_EQ(ReadFile(b + "/" + name_ + "/seen"), "through mount -t");
  EXPECT_EQ(WriteFile(b + "/" + name_ + "/new", "x"), EROFS) << "the fstab line's ro";
  r = RunCommand({"umount", b}, "", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_FALSE(IsFuseMount(b));

  // A wrong option is one clear line and no mount.
  r = RunCommand(
      {"env", program, "mount", "-t", "ddbfs", cluster_->meta_address(), a, "-o", "bogus_option"},
      "", std::chrono::seconds(30));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown mount option 'bogus_option'"), std::string::npos) << Show(r);
  EXPECT_FALSE(IsFuseMount(a));
  if (linked) ::unlink(helper.c_str());
}

// A write the chunk servers never take is reported by close(2), not lost:
// a cluster of its own whose chunk servers are all killed after a first write.
// The writer waits -o io_timeout for them to come back (2 s here) first.
TEST_F(FuseTest, WriteErrorReportedAtClose) {
  ClusterOptions o;
  o.chunk_servers = 2;
  std::unique_ptr<TestCluster> c = TestCluster::Start(o);
  ASSERT_NE(c, nullptr);
  const std::string mnt = work_->path() + "/doomed";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  auto p = std::make_unique<Process>(
      cluster_->bin("ddbfs-mount"),
      std::vector<std::string>{"--meta", c->meta_address(), mnt, "-f", "-o", "io_timeout=2"},
      mnt + ".log");
  ASSERT_TRUE(WaitFor([&] { return IsFuseMount(mnt); }, std::chrono::seconds(20))) << p->LogTail();
  ASSERT_EQ(WriteFile(mnt + "/ok", "fine"), 0);
  EXPECT_EQ(ReadFile(mnt + "/ok"), "fine");
  const int fd = ::open((mnt + "/lost").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  c->KillChunkServer(0);
  c->KillChunkServer(1);
  // Buffered by the writer: write(2) succeeds, the commit at close fails.
  EXPECT_EQ(::write(fd, "0123456789", 10), 10);
  const auto start = std::chrono::steady_clock::now();
  const int rc = ::close(fd);
  const int err = errno;
  EXPECT_EQ(rc, -1);
  EXPECT_NE(err, 0);
  std::cout << "close failed with " << std::strerror(err) << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count()
            << " ms\n";
  CommandResult r = RunCommand({"fusermount3", "-u", mnt});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(p->Wait(std::chrono::seconds(20)).has_value());
}

// A write drops a file's security.capability (the kernel asks for it
// before each write and removes it). The mount answers "none" from a cache
// for files it created; a setxattr of it through the mount must forget
// that, or the capability would survive the write.
TEST_F(FuseTest, WriteDropsAFileCapabilitySetAfterItsCreate) {
  const std::string f = P("tool");
  const int fd = ::open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "v1", 2), 2);  // the cache now says "none"
  // struct vfs_cap_data, revision 2: magic, then permitted/inheritable
  // pairs; CAP_NET_RAW (13) permitted.
  uint32_t cap[5] = {0x02000000u, 1u << 13, 0, 0, 0};
  ASSERT_EQ(::setxattr(f.c_str(), "security.capability", cap, sizeof cap, 0), 0)
      << std::strerror(errno);
  char got[64];
  ASSERT_EQ(::getxattr(f.c_str(), "security.capability", got, sizeof got),
            static_cast<ssize_t>(sizeof cap));
  ASSERT_EQ(::write(fd, "v2", 2), 2);
  EXPECT_EQ(::getxattr(f.c_str(), "security.capability", got, sizeof got), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(::close(fd), 0);
  EXPECT_EQ(ReadFile(f), "v1v2");
}

// The mount answers getxattr itself for a node whose attributes say it has
// none (ls -l asks for security.selinux of every file). A node that has
// some must still be asked for, and another client's setxattr must show
// once the attribute timeout (1 s here) has passed.
TEST_F(FuseTest, GetxattrSeesAttributesSetByAnotherClient) {
  const std::string f = P("f");
  ASSERT_EQ(WriteFile(f, "x"), 0);
  char buf[64];
  EXPECT_EQ(ErrnoOf([&] { return ::getxattr(f.c_str(), "user.k", buf, sizeof buf); }), ENODATA);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  auto a = client->ResolvePath(DdbfsPath("f"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(client->SetXattr(a->inode, "user.k", "v1", 0).ok());
  // Made by the other client, never seen by the mount before: its first
  // stat carries "has attributes".
  auto dir = client->ResolvePath("/" + name_);
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto g = client->Create(dir->inode, "g", 0644);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(client->SetXattr(g->inode, "user.k", "v2", 0).ok());
  struct stat st;
  ASSERT_EQ(::stat(P("g").c_str(), &st), 0);
  ASSERT_EQ(::getxattr(P("g").c_str(), "user.k", buf, sizeof buf), 2) << std::strerror(errno);
  EXPECT_EQ(std::string(buf, 2), "v2");
  // The mount knew f had none: after the attribute timeout it asks again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  ASSERT_EQ(::getxattr(f.c_str(), "user.k", buf, sizeof buf), 2) << std::strerror(errno);
  EXPECT_EQ(std::string(buf, 2), "v1");
  // Removed through the mount: gone at once; set again: there at once.
  ASSERT_EQ(::removexattr(f.c_str(), "user.k"), 0);
  EXPECT_EQ(ErrnoOf([&] { return ::getxattr(f.c_str(), "user.k", buf, sizeof buf); }), ENODATA);
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  ASSERT_EQ(::setxattr(f.c_str(), "user.k", "v3", 2, 0), 0);
  ASSERT_EQ(::getxattr(f.c_str(), "user.k", buf, sizeof buf), 2) << std::strerror(errno);
  EXPECT_EQ(std::string(buf, 2), "v3");
}

// After a change of a directory's entries the kernel asks for its
// attributes again; the mount answers with those the metaserver sent with
// the change. They must be exactly the metaserver's: mtime, ctime and nlink
// after create, mkdir, rmdir and unlink, and the ctime a rename gives.
TEST_F(FuseTest, DirectoryAttributesAfterAChangeAreTheMetaserversOnes) {
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  const std::string d = P("d");
  ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  auto same = [&](const std::string& path, const std::string& ddbfs_path, const char* step) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << step;
    auto a = client->ResolvePath(ddbfs_path);
    ASSERT_TRUE(a.ok()) << step << ": " << a.status();
    EXPECT_EQ(st.st_nlink, a->nlink) << step;
    EXPECT_EQ(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, a->mtime_ns) << step;
    EXPECT_EQ(st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec, a->ctime_ns) << step;
  };
  same(d, DdbfsPath("d"), "mkdir");
  ASSERT_EQ(WriteFile(d + "/f", "x"), 0);
  same(d, DdbfsPath("d"), "create");
  ASSERT_EQ(::mkdir((d + "/sub").c_str(), 0755), 0);
  same(d, DdbfsPath("d"), "mkdir inside");
  EXPECT_EQ(::mknod((d + "/fifo").c_str(), S_IFIFO | 0644, 0), 0);
  same(d, DdbfsPath("d"), "mknod inside");
  ASSERT_EQ(::rmdir((d + "/sub").c_str()), 0);
  same(d, DdbfsPath("d"), "rmdir inside");
  ASSERT_EQ(::unlink((d + "/f").c_str()), 0);
  same(d, DdbfsPath("d"), "unlink inside");
  ASSERT_EQ(::chmod(d.c_str(), 0700), 0);
  same(d, DdbfsPath("d"), "chmod");
  // A change kept for d, then d itself renamed: its ctime moves.
  ASSERT_EQ(WriteFile(d + "/g", "x"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(::rename(d.c_str(), P("e").c_str()), 0);
  same(P("e"), DdbfsPath("e"), "rename of the directory");
}

}  // namespace
}  // namespace ddbfs::testing
