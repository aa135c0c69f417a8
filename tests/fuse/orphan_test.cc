// Files unlinked while open (docs/fuse.md, "Files unlinked while open"):
// the metaserver keeps them as orphans of the mount's client session, and
// reclaims them with their chunks when the mount dies.

#include <signal.h>

#include "fuse_fixture.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

// The metaserver of this suite declares a mount dead after 3 s without a
// session renewal.
constexpr int kSessionTimeoutMs = 3000;

class OrphanFuseTest : public FuseTest {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions o;
    o.session_timeout_ms = kSessionTimeoutMs;
    cluster_ = TestCluster::Start(o).release();
    if (cluster_ == nullptr) return;
    work_ = new TempDir("ddbfs-fuse-orphan");
    mnt_ = work_->path() + "/mnt";
    ::mkdir(mnt_.c_str(), 0755);
    mount_ = Mount(mnt_, {"-o", "allow_other"}).release();
  }

  // Replica files of `chunk_id` over every chunk server's folder.
  static int ChunkFilesOnDisk(int64_t chunk_id) {
    int n = 0;
    for (int i = 0; i < cluster_->chunk_server_count(); ++i) {
      n += FindChunkFile(cluster_->chunk_data_dir(i), chunk_id).empty() ? 0 : 1;
    }
    return n;
  }
};

TEST_F(OrphanFuseTest, AFileUnlinkedWhileOpenIsReclaimedWhenItsMountIsKilled) {
  // A mount of its own, to be killed.
  const std::string mnt2 = work_->path() + "/mnt2";
  ASSERT_EQ(::mkdir(mnt2.c_str(), 0755), 0);
  std::unique_ptr<Process> victim = Mount(mnt2, {"-o", "allow_other"});
  ASSERT_NE(victim, nullptr);
  const std::string path = mnt2 + "/" + name_ + "/doomed";
  const std::string head = RandomData(3 * kMiB, 1);
  ASSERT_EQ(WriteFile(path, head), 0);
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const InodeId inode = static_cast<InodeId>(Stat(path).st_ino);

  // Unlinked, it stays readable and writable through the descriptor.
  ASSERT_EQ(::unlink(path.c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ErrnoOf([&] { return ::access(path.c_str(), F_OK); }), ENOENT);
  const std::string tail = RandomData(2 * kMiB, 2);
  ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(head.size())),
            static_cast<ssize_t>(tail.size()));
  ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);
  EXPECT_TRUE(PRead(fd, head.size() + tail.size(), 0) == head + tail);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(head.size() + tail.size()));
  EXPECT_EQ(st.st_nlink, 0u);

  // The metaserver holds it without a name: nobody else sees one.
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  Result<Attr> dir = client->ResolvePath("/" + name_);
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto names = client->ListDir(dir->inode);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(names->empty()) << names->size() << " names, first: " << names->front().name;
  EXPECT_TRUE(ListNames(mnt_ + "/" + name_).empty());
  Result<Attr> orphan = client->GetAttr(inode);
  ASSERT_TRUE(orphan.ok()) << orphan.status();
  EXPECT_EQ(orphan->nlink, 0u);
  EXPECT_EQ(orphan->size, head.size() + tail.size());
  auto chunks = client->Chunks(inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 1u);
  const int64_t chunk_id = chunks->front().chunk_id;
  EXPECT_EQ(ChunkFilesOnDisk(chunk_id), 2);

  // The mount dies with the file open: nobody will close it.
  const auto killed = std::chrono::steady_clock::now();
  victim->Stop(SIGKILL);
  (void)::close(fd);  // fails: the daemon is gone
  RunCommand({"fusermount3", "-uz", mnt2});

  // Within the session timeout (and a GC round trip) the metaserver deletes
  // the inode and the chunk servers their replica files.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto st2 = client->ClusterStatus();
        return client->GetAttr(inode).status().code() == ErrorCode::kNotFound &&
               ChunkFilesOnDisk(chunk_id) == 0 && st2.ok() && st2->pending_deletions == 0;
      },
      std::chrono::seconds(30)))
      << "the orphan of the killed mount is still there";
  EXPECT_GE(std::chrono::steady_clock::now() - killed,
            std::chrono::milliseconds(kSessionTimeoutMs / 2))
      << "reclaimed before the session could have expired";
}

TEST_F(OrphanFuseTest, AFileUnlinkedWhileOpenGoesAtItsLastClose) {
  ASSERT_EQ(::mkdir(P("d").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("d/f"), "data"), 0);
  const InodeId inode = static_cast<InodeId>(Stat(P("d/f")).st_ino);
  const int fd1 = ::open(P("d/f").c_str(), O_RDONLY);
  const int fd2 = ::open(P("d/f").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd1, 0);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(::unlink(P("d/f").c_str()), 0);
  // No name is left behind: its directory is empty.
  EXPECT_EQ(::rmdir(P("d").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(::write(fd2, "+more", 5), 5);
  EXPECT_EQ(PRead(fd1, 100, 0), "data+more");
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(::close(fd2), 0);
  // One descriptor is still open: it lives on.
  ASSERT_TRUE(client->GetAttr(inode).ok());
  EXPECT_EQ(PRead(fd1, 100, 0), "data+more");
  EXPECT_EQ(::close(fd1), 0);
  // The last close releases it at once, long before any session timeout.
  EXPECT_TRUE(
      WaitFor([&] { return client->GetAttr(inode).status().code() == ErrorCode::kNotFound; },
              std::chrono::milliseconds(kSessionTimeoutMs / 2)))
      << "the unlinked file outlived its last close";
}

}  // namespace
}  // namespace ddbfs::testing
