// kill -9 of a chunk server during a 1 GiB write through the mount (issue 9,
// "Fault tests"): a plain program writes 1 GiB of a verifiable pattern
// through `ddbfs-mount`, with an fsync every 64 MiB; once 256 MiB are
// fsynced, one chunk server holding a replica of the chunk being written is
// killed with SIGKILL while the write goes on. The write completes or fails
// with a clear error; every acknowledged byte (everything if it completed,
// else up to the last successful fsync) reads back through the mount; the
// metaserver declares the server dead and restores every chunk's goal with
// no one acting, and `ddbfs fsck` is clean. The suite has its own cluster.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"
#include "fuse_fixture.h"

namespace ddbfs::testing {
namespace {

constexpr size_t kTotal = size_t{1} << 30;
constexpr size_t kBlock = kMiB;
constexpr size_t kSyncEvery = 64 * kMiB;
constexpr size_t kKillAfter = 256 * kMiB;

// Block `b` of the pattern: 64-bit words that depend on the block and the
// word's place (splitmix64), so a block read at the wrong offset, a stale
// block or zeros never pass.
void FillBlock(size_t b, std::string* out) {
  out->resize(kBlock);
  for (size_t i = 0; i < kBlock; i += 8) {
    uint64_t z = (static_cast<uint64_t>(b) << 20 | i) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(out->data() + i, &z, 8);
  }
}

class KillWriteTest : public FuseTest {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions o;
    o.chunk_servers = 3;
    o.heartbeat_timeout_ms = 1000;  // dead after 1 s
    o.metaserver_args = {"--repair-interval-ms", "200", "--repair-mib-per-s", "512"};
    // No scrub reading 1 GiB behind the test's back.
    o.chunkserver_args = {"--scrub-interval-s", "0"};
    cluster_ = TestCluster::Start(o).release();
    if (cluster_ == nullptr) return;
    work_ = new TempDir("ddbfs-killwrite");
    mnt_ = work_->path() + "/mnt";
    ::mkdir(mnt_.c_str(), 0755);
    mount_ = Mount(mnt_, {"-o", "allow_other"}).release();
  }
};

TEST_F(KillWriteTest, Kill9OfAChunkServerDuringA1GiBWriteThroughTheMount) {
  const std::string path = P("big");
  const auto start = std::chrono::steady_clock::now();
  std::atomic<size_t> synced{0};  // bytes covered by a successful fsync
  std::atomic<bool> done{false};
  int write_errno = 0;  // 0: every write, fsync and the close succeeded
  std::string failed_call;
  std::thread writer([&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      write_errno = errno;
      failed_call = "open";
      done = true;
      return;
    }
    std::string block;
    for (size_t off = 0; off < kTotal; off += kBlock) {
      FillBlock(off / kBlock, &block);
      size_t put = 0;
      while (put < kBlock) {
        const ssize_t n = ::pwrite(fd, block.data() + put, kBlock - put, off + put);
        if (n < 0) break;
        put += static_cast<size_t>(n);
      }
      if (put < kBlock) {
        write_errno = errno;
        failed_call = "write at " + std::to_string(off);
        break;
      }
      if ((off + kBlock) % kSyncEvery == 0) {
        if (::fsync(fd) != 0) {
          write_errno = errno;
          failed_call = "fsync at " + std::to_string(off + kBlock);
          break;
        }
        synced = off + kBlock;
      }
    }
    if (::close(fd) != 0 && write_errno == 0) {
      write_errno = errno;
      failed_call = "close";
    }
    done = true;
  });

  // Kill a holder of the chunk being written once 256 MiB are fsynced.
  const bool reached =
      WaitFor([&] { return synced >= kKillAfter || done; }, std::chrono::seconds(60));
  const size_t synced_at_kill = synced;
  const bool in_progress = reached && !done;
  int victim = -1;
  int64_t victim_id = -1;
  if (in_progress) {
    auto client = cluster_->NewClient();
    auto dir = client ? client->Lookup(kRootInode, name_) : Result<Attr>(Internal("no client"));
    auto file = dir.ok() ? client->Lookup(dir->inode, "big") : dir;
    if (file.ok()) {
      // The servers placed for the file's last chunk: the one being written
      // (not committed yet, so not in its size; GetChunks would not list it).
      CommandResult holders = RunCommand(
          {"/usr/lib/postgresql/15/bin/psql", "-X", "-At", "-d", cluster_->db_url(), "-c",
           "SELECT r.server_id FROM ddbfs.replicas r WHERE r.chunk_id = (SELECT c.id FROM "
           "ddbfs.chunks c WHERE c.inode = " +
               std::to_string(file->inode) + " ORDER BY c.idx DESC LIMIT 1) ORDER BY 1 LIMIT 1"});
      if (holders.exit_code == 0 && !holders.out.empty()) victim_id = std::stoll(holders.out);
      for (int i = 0; i < cluster_->chunk_server_count(); ++i) {
        if (victim_id > 0 && cluster_->chunk_server_id(i) == victim_id) victim = i;
      }
    }
    if (victim >= 0) cluster_->KillChunkServer(victim, SIGKILL);
  }
  const bool done_at_kill = done;
  writer.join();
  const auto wrote = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(in_progress) << "the write was not in progress at 256 MiB (" << synced_at_kill
                           << " bytes fsynced, done " << done.load() << ", " << failed_call << ": "
                           << std::strerror(write_errno) << ")";
  ASSERT_GE(victim, 0) << "no chunk server holds a replica of the chunk being written";
  EXPECT_GE(synced_at_kill, kKillAfter);
  EXPECT_FALSE(done_at_kill) << "the write ended before the kill";

  // Completed, or failed with an errno that says why (never silently).
  size_t acknowledged = kTotal;
  if (write_errno != 0) {
    std::cout << "the write failed at " << failed_call << ": " << std::strerror(write_errno)
              << "\n";
    EXPECT_TRUE(write_errno == EIO || write_errno == ENOSPC || write_errno == ETIMEDOUT)
        << failed_call << ": " << std::strerror(write_errno);
    acknowledged = synced;
    EXPECT_GE(acknowledged, synced_at_kill);
  } else {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), kTotal);
  }
  std::cout << "wrote " << acknowledged / kMiB << " MiB in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(wrote).count()
            << " ms; chunk server " << victim_id << " killed after " << synced_at_kill / kMiB
            << " MiB fsynced\n";

  // Every acknowledged byte reads back (a new open: from the cluster, not
  // from the kernel's pages).
  {
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::string want, got(kBlock, '\0');
    size_t bad = 0;
    for (size_t off = 0; off < acknowledged; off += kBlock) {
      FillBlock(off / kBlock, &want);
      size_t have = 0;
      while (have < kBlock) {
        const ssize_t n = ::pread(fd, got.data() + have, kBlock - have, off + have);
        if (n <= 0) break;
        have += static_cast<size_t>(n);
      }
      if (have != kBlock || got != want) {
        if (bad++ == 0) ADD_FAILURE() << "the block at " << off << " does not read back";
      }
    }
    ::close(fd);
    EXPECT_EQ(bad, 0u) << "blocks of 1 MiB that did not read back";
  }

  // No one acts: the server is declared dead and every chunk is copied back
  // to its goal on the two left.
  ASSERT_TRUE(cluster_->WaitForAliveServers(2, 10000));
  auto client = cluster_->NewClient();
  ASSERT_TRUE(client);
  const bool restored = WaitFor(
      [&] {
        auto st = client->ClusterStatus();
        return st.ok() && st->chunks_under_goal == 0 && st->chunks_missing == 0;
      },
      std::chrono::seconds(60));
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(restored) << "goal not restored: " << st->chunks_under_goal << " under goal, "
                        << st->chunks_missing << " missing";
  EXPECT_GT(st->repair_chunks_copied, 0);
  CommandResult fsck =
      RunCommand({cluster_->bin("ddbfs"), "--meta", cluster_->meta_address(), "fsck"});
  EXPECT_EQ(fsck.exit_code, 0) << Show(fsck);
  std::cout << "goal restored, " << st->repair_chunks_copied << " chunks ("
            << st->repair_bytes_copied / kMiB << " MiB) copied; whole test "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count()
            << " ms\n";
}

}  // namespace
}  // namespace ddbfs::testing
