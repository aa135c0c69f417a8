// `ddbfs add`, `get` and `cat` with the real binary on a real cluster.

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace ddbfs::testing {
namespace {

namespace fs = std::filesystem;

class TransferTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = TestCluster::Start().release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr); }
  static std::string Meta() { return cluster_->meta_address(); }

  // src/: nested directories, an empty file, a 1 MiB file, a symlink,
  // modes 0600/0755/0750/0700, and old mtimes on everything.
  static void BuildTree(const std::string& src) {
    fs::create_directories(src + "/nested/deeper");
    fs::create_directories(src + "/emptydir");
    WriteLocal(src + "/empty", "", 0644);
    WriteLocal(src + "/one.bin", RandomData(1 << 20, 7), 0600);
    WriteLocal(src + "/run.sh", "#!/bin/sh\necho hi\n", 0755);
    WriteLocal(src + "/nested/deeper/leaf.txt", "leaf\n", 0644);
    fs::create_symlink("../one.bin", src + "/nested/link");
    SetMtime(src + "/empty", 981173106, 0);             // 2001-02-03
    SetMtime(src + "/one.bin", 1262304000, 123456789);  // 2010-01-01
    SetMtime(src + "/run.sh", 1400000000, 5);
    SetMtime(src + "/nested/deeper/leaf.txt", 1500000000, 999999999);
    ASSERT_EQ(::chmod((src + "/nested").c_str(), 0750), 0);
    ASSERT_EQ(::chmod((src + "/emptydir").c_str(), 0700), 0);
    SetMtime(src + "/nested/deeper", 1300000000, 1);
    SetMtime(src + "/nested", 1300000001, 2);
    SetMtime(src + "/emptydir", 1300000002, 3);
  }

  static TestCluster* cluster_;
};

TestCluster* TransferTest::cluster_ = nullptr;

TEST_F(TransferTest, AddThenGetATreeKeepsBytesModesMtimesAndSymlinks) {
  TempDir work;
  const std::string src = work.path() + "/src";
  BuildTree(src);
  auto add = Ddbfs(Meta(), {"add", "-q", src, "/tree"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  EXPECT_EQ(add.out, "");
  EXPECT_EQ(add.err, "");

  const std::string back = work.path() + "/back";
  auto get = Ddbfs(Meta(), {"get", "-q", "/tree", back});
  ASSERT_EQ(get.exit_code, 0) << Show(get);
  EXPECT_EQ(get.err, "");
  EXPECT_EQ(DescribeLocalTree(back), DescribeLocalTree(src));

  // The same tree, through the library's view.
  auto client = cluster_->NewClient();
  ASSERT_TRUE(client);
  auto one = client->ResolvePath("/tree/one.bin");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->mode, 0600u);
  EXPECT_EQ(one->mtime_ns, 1262304000123456789);
  EXPECT_EQ(one->size, 1u << 20);
  // A file's chunk 0 is placed by its Create and written once; an empty file
  // gets no chunk at all.
  auto chunks = client->Chunks(one->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ(chunks->front().version, 1);
  EXPECT_EQ(chunks->front().length, 1u << 20);
  auto empty = client->ResolvePath("/tree/empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->size, 0u);
  EXPECT_TRUE(client->Chunks(empty->inode)->empty());
}

TEST_F(TransferTest, AddFollowsCpRulesForExistingAndNewDestinations) {
  TempDir work;
  WriteLocal(work.path() + "/a.txt", "A", 0644);
  WriteLocal(work.path() + "/b.txt", "BB", 0644);
  fs::create_directories(work.path() + "/dir");
  WriteLocal(work.path() + "/dir/c.txt", "CCC", 0644);

  auto mk = Ddbfs(Meta(), {"mkdir", "/into"});
  ASSERT_EQ(mk.exit_code, 0) << Show(mk);
  // Several sources into an existing directory; a directory source keeps its name.
  auto add = Ddbfs(Meta(), {"add", work.path() + "/a.txt", work.path() + "/b.txt",
                            work.path() + "/dir", "/into"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  EXPECT_EQ(add.out.rfind("added 3 files and 1 directory (", 0), 0u) << add.out;
  EXPECT_EQ(add.err, "");  // not a TTY: no progress line
  auto ls = Ddbfs(Meta(), {"ls", "/into", "/into/dir"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_EQ(ls.out, "/into:\na.txt\nb.txt\ndir\n\n/into/dir:\nc.txt\n");

  // A trailing slash promises a directory: a missing one is an error (as cp
  // says), and nothing is created.
  auto slash = Ddbfs(Meta(), {"add", "-q", work.path() + "/a.txt", "/into/missing/"});
  EXPECT_EQ(slash.exit_code, 2) << Show(slash);
  EXPECT_TRUE(OneErrorLine(slash.err)) << slash.err;
  EXPECT_NE(slash.err.find("/into/missing: no such directory"), std::string::npos) << slash.err;
  EXPECT_EQ(Ddbfs(Meta(), {"ls", "/into/missing"}).exit_code, 2);

  // A new destination name: the file is created under that name.
  add = Ddbfs(Meta(), {"add", "-q", work.path() + "/a.txt", "/into/renamed.txt"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  auto cat = Ddbfs(Meta(), {"cat", "/into/renamed.txt", "/into/b.txt"});
  ASSERT_EQ(cat.exit_code, 0) << Show(cat);
  EXPECT_EQ(cat.out, "ABB");

  // Adding over an existing file fails (exit 3) unless --force.
  WriteLocal(work.path() + "/a.txt", "changed", 0644);
  add = Ddbfs(Meta(), {"add", work.path() + "/a.txt", "/into"});
  EXPECT_EQ(add.exit_code, 3) << Show(add);
  EXPECT_TRUE(OneErrorLine(add.err)) << add.err;
  EXPECT_NE(add.err.find("/into/a.txt: already exists; use `ddbfs rm` first"), std::string::npos)
      << add.err;
  cat = Ddbfs(Meta(), {"cat", "/into/a.txt"});
  EXPECT_EQ(cat.out, "A");
  add = Ddbfs(Meta(), {"add", "-q", "--force", work.path() + "/a.txt", "/into"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  cat = Ddbfs(Meta(), {"cat", "/into/a.txt"});
  EXPECT_EQ(cat.out, "changed");

  // The same rules on the way back; a second get refuses to overwrite.
  auto get = Ddbfs(Meta(), {"get", "-q", "/into/a.txt", "/into/dir", work.path() + "/dir"});
  ASSERT_EQ(get.exit_code, 0) << Show(get);
  EXPECT_EQ(ReadLocal(work.path() + "/dir/a.txt"), "changed");
  EXPECT_EQ(ReadLocal(work.path() + "/dir/dir/c.txt"), "CCC");
  get = Ddbfs(Meta(), {"get", "-q", "/into/a.txt", work.path() + "/dir"});
  EXPECT_EQ(get.exit_code, 3) << Show(get);
  EXPECT_TRUE(OneErrorLine(get.err)) << get.err;
}

TEST_F(TransferTest, ManySmallFilesInParallelAndCatStreamsBigFiles) {
  TempDir work;
  const std::string src = work.path() + "/small";
  fs::create_directories(src);
  for (int i = 0; i < 300; ++i) {
    WriteLocal(src + "/f" + std::to_string(i), std::string(static_cast<size_t>(i), 'x'), 0644);
  }
  const std::string big = RandomData(9 << 20, 9);
  WriteLocal(work.path() + "/big.bin", big, 0644);
  auto add = Ddbfs(Meta(), {"add", "-q", "-j", "8", src, work.path() + "/big.bin", "/"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  auto ls = Ddbfs(Meta(), {"ls", "/small"});
  ASSERT_EQ(ls.exit_code, 0);
  EXPECT_EQ(std::count(ls.out.begin(), ls.out.end(), '\n'), 300);
  auto cat = Ddbfs(Meta(), {"cat", "/big.bin"});
  ASSERT_EQ(cat.exit_code, 0) << Show(cat);
  EXPECT_TRUE(cat.out == big) << "cat output differs (" << cat.out.size() << " bytes)";
  cat = Ddbfs(Meta(), {"cat", "/small/f250"});
  EXPECT_EQ(cat.out, std::string(250, 'x'));
}

TEST(TransferFailureTest, FailedGetLeavesNoPartialFile) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  TempDir work;
  WriteLocal(work.path() + "/f.bin", RandomData(5 << 20, 1), 0644);
  auto add = Ddbfs(cluster->meta_address(), {"add", "-q", work.path() + "/f.bin", "/f.bin"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->KillChunkServer(i, SIGKILL);
  const std::string dest = work.path() + "/dest";
  fs::create_directories(dest);
  auto get = Ddbfs(cluster->meta_address(), {"get", "/f.bin", dest});
  // Unavailable, once the client has waited for a replica as long as it
  // waits for the metaserver (20 s): the servers could be coming back.
  EXPECT_EQ(get.exit_code, 9) << Show(get);
  EXPECT_TRUE(OneErrorLine(get.err)) << get.err;
  EXPECT_NE(get.err.find("no reachable replica"), std::string::npos) << get.err;
  EXPECT_TRUE(fs::is_empty(dest)) << "a partial or temporary file was left behind";
}

// A flipped byte in one replica's chunk file: `cat` still prints the right
// bytes and `info` then shows one current replica fewer.
TEST(TransferFailureTest, CorruptReplicaIsSkippedByCatAndLeavesInfo) {
  // No repair: it would copy the chunk to the third server within a tenth
  // of a second of the drop, before `info` could show it.
  ClusterOptions o;
  o.metaserver_args = {"--repair-interval-ms", "0"};
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  const std::string meta = cluster->meta_address();
  TempDir work;
  const std::string data = RandomData(2 << 20, 3);
  WriteLocal(work.path() + "/f.bin", data, 0644);
  auto add = Ddbfs(meta, {"add", "-q", work.path() + "/f.bin", "/f.bin"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);
  auto info = Ddbfs(meta, {"info", "/f.bin"});
  EXPECT_NE(info.out.find("2/2 current replicas"), std::string::npos) << info.out;

  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto attr = client->ResolvePath("/f.bin");
  ASSERT_TRUE(attr.ok());
  auto chunks = client->Chunks(attr->inode);
  ASSERT_TRUE(chunks.ok());
  const ChunkView ch = chunks->front();
  int bad = -1;  // readers try the first listed replica first
  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    if (cluster->chunk_server_id(i) == ch.replicas.front().server_id) bad = i;
  }
  ASSERT_GE(bad, 0);
  std::string file;
  char name[40];
  std::snprintf(name, sizeof name, "%016llx.chunk", static_cast<unsigned long long>(ch.chunk_id));
  for (const auto& e : fs::recursive_directory_iterator(cluster->chunk_data_dir(bad))) {
    if (e.path().filename() == name) file = e.path().string();
  }
  ASSERT_FALSE(file.empty());
  {
    int fd = ::open(file.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, 8192 + 70000), 1);
    b = static_cast<char>(~b);
    ASSERT_EQ(::pwrite(fd, &b, 1, 8192 + 70000), 1);
    ::close(fd);
  }
  auto cat = Ddbfs(meta, {"cat", "/f.bin"});
  ASSERT_EQ(cat.exit_code, 0) << Show(cat);
  EXPECT_EQ(cat.err, "");
  EXPECT_TRUE(cat.out == data) << "cat printed other bytes";
  ASSERT_TRUE(WaitFor(
      [&] {
        info = Ddbfs(meta, {"info", "/f.bin"});
        return info.out.find("1/2 current replicas") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << info.out;
}

// A symlink already at the destination of `get` is never written through:
// without --force it is an existing name (exit 3), with --force the link
// itself is replaced; the file it points to is untouched either way.
TEST_F(TransferTest, GetNeverWritesThroughASymlinkAtTheDestination) {
  TempDir work("ddbfs-cli-symlink");
  WriteLocal(work.path() + "/src.txt", "fresh", 0644);
  ASSERT_EQ(Ddbfs(Meta(), {"add", "-q", work.path() + "/src.txt", "/through.txt"}).exit_code, 0);
  WriteLocal(work.path() + "/victim", "secret", 0600);
  fs::create_directories(work.path() + "/dest");
  fs::create_symlink(work.path() + "/victim", work.path() + "/dest/through.txt");
  auto get = Ddbfs(Meta(), {"get", "-q", "/through.txt", work.path() + "/dest"});
  EXPECT_EQ(get.exit_code, 3) << Show(get);
  EXPECT_EQ(ReadLocal(work.path() + "/victim"), "secret");
  get = Ddbfs(Meta(), {"get", "-q", "--force", "/through.txt", work.path() + "/dest"});
  EXPECT_EQ(get.exit_code, 0) << Show(get);
  EXPECT_EQ(ReadLocal(work.path() + "/victim"), "secret");
  EXPECT_FALSE(fs::is_symlink(work.path() + "/dest/through.txt"));
  EXPECT_EQ(ReadLocal(work.path() + "/dest/through.txt"), "fresh");
}

// FIFOs and device nodes come back as such (cp -a would do the same);
// `ls -l` shows their types.
TEST_F(TransferTest, GetMakesFifosAndDevicesAgain) {
  auto client = cluster_->NewClient();
  ASSERT_TRUE(client);
  auto dir = client->Mkdir(kRootInode, "specials", 0755);
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(client->Mknod(dir->inode, "pipe", FileType::kFifo, 0640).ok());
  auto dev = client->Mknod(dir->inode, "null2", FileType::kCharDevice, 0600, makedev(1, 3));
  ASSERT_TRUE(dev.ok()) << dev.status();
  auto ls = Ddbfs(Meta(), {"ls", "-l", "/specials"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_NE(ls.out.find("crw-------"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("prw-r-----"), std::string::npos) << ls.out;
  TempDir work("ddbfs-cli-special");
  auto get = Ddbfs(Meta(), {"get", "-q", "/specials", work.path() + "/back"});
  ASSERT_EQ(get.exit_code, 0) << Show(get);
  struct stat st;
  ASSERT_EQ(::lstat((work.path() + "/back/pipe").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::lstat((work.path() + "/back/null2").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
}

// Eight `ddbfs add -f` of eight different files to one target at once: each
// replaces the file atomically (a new inode renamed over the old one), so
// the stored content is exactly one of the eight, from a run that exited 0,
// its replicas are identical, and no temporary name is left behind.
TEST_F(TransferTest, EightConcurrentForcedAddsLeaveExactlyOneWholeContent) {
  TempDir work("ddbfs-cli-race");
  constexpr int kWriters = 8;
  std::vector<std::string> contents;
  for (int i = 0; i < kWriters; ++i) {
    contents.push_back(RandomData(5 << 20, 300 + i));
    fs::create_directories(work.path() + "/w" + std::to_string(i));
    WriteLocal(work.path() + "/w" + std::to_string(i) + "/race.bin", contents.back(), 0644);
  }
  ASSERT_EQ(Ddbfs(Meta(), {"mkdir", "/race"}).exit_code, 0);
  std::vector<CommandResult> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = Ddbfs(Meta(), {"add", "-q", "-f",
                                  work.path() + "/w" + std::to_string(i) + "/race.bin", "/race"});
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> succeeded;
  for (int i = 0; i < kWriters; ++i) {
    if (results[i].exit_code == 0) {
      succeeded.insert(i);
    } else {
      EXPECT_TRUE(OneErrorLine(results[i].err)) << Show(results[i]);
    }
  }
  ASSERT_FALSE(succeeded.empty());
  auto cat = Ddbfs(Meta(), {"cat", "/race/race.bin"});
  ASSERT_EQ(cat.exit_code, 0) << Show(cat);
  int matches = 0;
  for (int i : succeeded) matches += cat.out == contents[i] ? 1 : 0;
  EXPECT_EQ(matches, 1) << "the stored file is not one successful writer's whole content";
  auto ls = Ddbfs(Meta(), {"ls", "/race"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_EQ(ls.out, "race.bin\n") << "temporary files left behind";
}

}  // namespace
}  // namespace ddbfs::testing
