// Writes on the mount and the chunk write leases under them: a writer holds a
// lease only while it writes (it renews when it sends), and the metaserver
// settles an expired lease within a second. The test cluster's leases last
// 2 s (ClusterOptions::lease_ms; 20 s by default), so these tests leave a
// file idle for longer than that on purpose: the idle time is the scenario,
// not a wait for a condition.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fuse_fixture.h"
#include "process.h"
#include "test_cluster.h"

namespace ddbfs::testing {
namespace {

class WriterLeaseTest : public FuseTest {
 protected:
  // Longer than a lease plus the settler's pass.
  static void IdlePastLease() {
    std::this_thread::sleep_for(std::chrono::milliseconds(ClusterOptions().lease_ms + 1000));
  }
};

// The first write came more than a lease after the create: it was written
// under the lease the create had taken on chunk 0, expired by then, so
// close(2) failed with EIO and the file stayed empty.
TEST_F(WriterLeaseTest, FirstWriteLongAfterCreateIsKept) {
  const int fd = ::open(P("late").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  IdlePastLease();
  ASSERT_EQ(::write(fd, "written late", 12), 12);
  EXPECT_EQ(::close(fd), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile(P("late")), "written late");
}

// Pieces already sent to the chunk servers, then no write for longer than a
// lease: nothing renewed the leases, so the commit at close failed (EIO) and
// every byte written since the open was lost.
TEST_F(WriterLeaseTest, IdleWriterKeepsItsData) {
  const int fd = ::open(P("idle").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "first", 5, 0), 5);
  ASSERT_EQ(::pwrite(fd, "second", 6, kMiB), 6);  // not contiguous: "first" is sent
  IdlePastLease();
  ASSERT_EQ(::pwrite(fd, "third", 5, 2 * kMiB), 5);
  EXPECT_EQ(::fsync(fd), 0) << std::strerror(errno);
  IdlePastLease();
  ASSERT_EQ(::pwrite(fd, "fourth", 6, 3 * kMiB), 6);
  ASSERT_EQ(::pwrite(fd, "fifth", 5, kMiB / 2), 5);
  IdlePastLease();
  EXPECT_EQ(::close(fd), 0) << std::strerror(errno);
  std::string want(3 * kMiB + 6, '\0');
  want.replace(0, 5, "first");
  want.replace(kMiB / 2, 5, "fifth");
  want.replace(kMiB, 6, "second");
  want.replace(2 * kMiB, 5, "third");
  want.replace(3 * kMiB, 6, "fourth");
  EXPECT_TRUE(ReadFile(P("idle")) == want);
}

// A file created and closed unwritten (touch, a lock file) left the lease
// the create had taken on chunk 0 behind: the next writer of the file waited
// until it expired (20 s by default).
TEST_F(WriterLeaseTest, WriteAfterTouchDoesNotWaitForLease) {
  CommandResult r = RunCommand({"touch", P("touched")});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(WriteFile(P("touched"), "now written"), 0);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(ClusterOptions().lease_ms / 2))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(ReadFile(P("touched")), "now written");
  // The same after a truncate of a new, unwritten file (SQLite's -shm).
  const int fd = ::open(P("shm").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 3), 0);
  const auto start2 = std::chrono::steady_clock::now();
  ASSERT_EQ(::pwrite(fd, "x", 1, 4095), 1);
  ASSERT_EQ(::pwrite(fd, "y", 1, 8191), 1);
  ASSERT_EQ(::fsync(fd), 0);
  const auto took2 = std::chrono::steady_clock::now() - start2;
  EXPECT_LT(took2, std::chrono::milliseconds(ClusterOptions().lease_ms / 2))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took2).count() << " ms";
  EXPECT_EQ(::close(fd), 0);
}

// A file created writable takes the lease on its chunk 0 in the create
// (CreateForWrite). Held open unwritten on this mount (a program that opens
// its output early), that lease kept a writer on another mount waiting
// until it expired: the committer gives it back after kIdleCommit.
TEST_F(WriterLeaseTest, FileHeldOpenUnwrittenDoesNotBlockAnotherMount) {
  const std::string other = work_->path() + "/mnt-lease";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  std::unique_ptr<Process> second = Mount(other, {});
  ASSERT_NE(second, nullptr);
  const int fd = ::open(P("held").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  // Past kIdleCommit and a committer pass, well within the 2 s lease.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const std::string there = other + "/" + name_ + "/held";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(WriteFile(there, "from the other mount"), 0);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(ClusterOptions().lease_ms / 2))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(::close(fd), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile(there), "from the other mount");
  Unmount(other, second.release());
}

}  // namespace
}  // namespace ddbfs::testing
