// The mount through a metaserver outage: requests made while it is down wait
// and retry, and complete when it is back within -o io_timeout; past that
// they fail with EIO, never hang, and the mount keeps working afterwards.
// Each test kills the metaserver, so the suite has its own cluster.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fuse_fixture.h"

namespace ddbfs::testing {
namespace {

class OutageTest : public FuseTest {
 protected:
  static void SetUpTestSuite() {
    cluster_ = TestCluster::Start().release();
    if (cluster_ == nullptr) return;
    work_ = new TempDir("ddbfs-outage");
    mnt_ = work_->path() + "/mnt";
    ::mkdir(mnt_.c_str(), 0755);
    // Short kernel caches, so that a stat during the outage reaches the mount.
    mount_ = Mount(mnt_, {"-o", "allow_other,attr_timeout=0.2,entry_timeout=0.2,io_timeout=4"})
                 .release();
  }

  void TearDown() override {
    // A test that failed half-way leaves the metaserver down.
    cluster_->StartMetaserver();
  }

  static int StatErrno(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? 0 : errno;
  }
};

TEST_F(OutageTest, RequestsWaitForAMetaserverBackWithinTheIoTimeout) {
  ASSERT_EQ(WriteFile(P("kept"), "before the outage"), 0);
  cluster_->StopMetaserver(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the kernel's caches
  const auto start = std::chrono::steady_clock::now();
  auto stat = std::async(std::launch::async, [&] { return StatErrno(P("kept")); });
  auto read = std::async(std::launch::async, [&] { return ReadFile(P("kept")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  cluster_->StartMetaserver();
  EXPECT_EQ(stat.get(), 0);
  EXPECT_EQ(read.get(), "before the outage");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(1500));  // they did wait for it
  ASSERT_EQ(WriteFile(P("after"), "after the outage"), 0);
  EXPECT_EQ(ReadFile(P("after")), "after the outage");
}

TEST_F(OutageTest, RequestsFailWithEioAfterTheIoTimeoutAndTheMountSurvives) {
  ASSERT_EQ(WriteFile(P("f"), "data"), 0);
  cluster_->StopMetaserver(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(StatErrno(P("f")), EIO);
  EXPECT_EQ(::mkdir(P("d").c_str(), 0755), -1);
  EXPECT_EQ(errno, EIO);
  const auto took = std::chrono::steady_clock::now() - start;
  // Two requests of io_timeout=4 s each, with room for a slow machine; the
  // client's default would retry for 20 s per request.
  EXPECT_LT(took, std::chrono::seconds(16))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  cluster_->StartMetaserver();
  EXPECT_EQ(StatErrno(P("f")), 0);
  const int fd = ::open(P("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  char buf[16];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  const int read_errno = errno;
  ::close(fd);
  EXPECT_EQ(n, 4) << std::strerror(read_errno) << "\n" << mount_->LogTail();
  ASSERT_EQ(::mkdir(P("d").c_str(), 0755), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace ddbfs::testing
