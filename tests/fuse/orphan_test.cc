// Files unlinked while open (docs/fuse.md, "Files unlinked while open"):
// the metaserver keeps them as orphans of every mount's client session that
// has them open, and reclaims them with their chunks when the last of those
// mounts closes them or dies.

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

  // A second mount (another ddbfs-mount process: another client session).
  std::unique_ptr<Process> MountB() {
    mnt_b_ = work_->path() + "/b-" + name_;
    if (::mkdir(mnt_b_.c_str(), 0755) != 0) return nullptr;
    return Mount(mnt_b_, {"-o", "allow_other"});
  }
  std::string PB(const std::string& rel) const { return mnt_b_ + "/" + name_ + "/" + rel; }

  // The one chunk of `inode`.
  static int64_t OnlyChunk(Client& client, InodeId inode) {
    auto chunks = client.Chunks(inode);
    EXPECT_TRUE(chunks.ok()) << chunks.status();
    if (!chunks.ok() || chunks->size() != 1) return 0;
    return chunks->front().chunk_id;
  }

  // The inode and its chunk are gone: metadata, replica files, GC queue.
  static bool Freed(Client& client, InodeId inode, int64_t chunk_id) {
    auto st = client.ClusterStatus();
    return client.GetAttr(inode).status().code() == ErrorCode::kNotFound &&
           ChunkFilesOnDisk(chunk_id) == 0 && st.ok() && st->pending_deletions == 0;
  }

  // Mount B has `inode` open after its last name went: it reads what was
  // there, writes more, syncs and reads it all back; the metaserver keeps
  // it (no name, nlink 0) and its chunk until B closes it, then frees both.
  void UseOnBThenClose(int fd, InodeId inode, const std::string& head, Client& client) {
    Result<Attr> kept = client.GetAttr(inode);
    ASSERT_TRUE(kept.ok()) << "removed while mount B has it open: " << kept.status();
    EXPECT_EQ(kept->nlink, 0u);
    const int64_t chunk_id = OnlyChunk(client, inode);
    ASSERT_NE(chunk_id, 0);
    EXPECT_TRUE(PRead(fd, head.size(), 0) == head) << "mount B lost the old data";
    const std::string tail = RandomData(kMiB + 17, 7);
    ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(head.size())),
              static_cast<ssize_t>(tail.size()))
        << std::strerror(errno);
    ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);
    EXPECT_TRUE(PRead(fd, head.size() + tail.size(), 0) == head + tail);
    Result<Attr> after = client.GetAttr(inode);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->size, head.size() + tail.size());
    EXPECT_GT(ChunkFilesOnDisk(chunk_id), 0);
    ASSERT_EQ(::close(fd), 0);
    // B's release goes in a batch (200 ms), then GC removes the replicas.
    EXPECT_TRUE(WaitFor([&] { return Freed(client, inode, chunk_id); }, std::chrono::seconds(20)))
        << "the file outlived the close of its last holder";
  }

  std::string mnt_b_;
};

TEST_F(OrphanFuseTest, FileUnlinkedOnOneMountStaysReadableAndWritableOnAnotherThatHasItOpen) {
  std::unique_ptr<Process> b = MountB();
  ASSERT_NE(b, nullptr);
  const std::string head = RandomData(3 * kMiB, 3);
  ASSERT_EQ(WriteFile(P("f"), head), 0);
  const InodeId inode = static_cast<InodeId>(Stat(P("f")).st_ino);
  const int fd = ::open(PB("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  // Mount A (which never opened it) removes its only name.
  ASSERT_EQ(::unlink(P("f").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ErrnoOf([&] { return ::access(P("f").c_str(), F_OK); }), ENOENT);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  UseOnBThenClose(fd, inode, head, *client);
  Unmount(mnt_b_, b.release());
}

TEST_F(OrphanFuseTest, FileRenamedOverOnOneMountStaysReadableAndWritableOnAnotherThatHasItOpen) {
  std::unique_ptr<Process> b = MountB();
  ASSERT_NE(b, nullptr);
  const std::string head = RandomData(2 * kMiB, 4);
  ASSERT_EQ(WriteFile(P("f"), head), 0);
  ASSERT_EQ(WriteFile(P("new"), "replacement"), 0);
  const InodeId inode = static_cast<InodeId>(Stat(P("f")).st_ino);
  const int fd = ::open(PB("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  // Mount A has the file open too, and closes it after the rename: B still
  // holds it.
  const int fd_a = ::open(P("f").c_str(), O_RDONLY);
  ASSERT_GE(fd_a, 0) << std::strerror(errno);
  ASSERT_EQ(::rename(P("new").c_str(), P("f").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(PRead(fd_a, head.size(), 0).size(), head.size());
  ASSERT_EQ(::close(fd_a), 0);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  UseOnBThenClose(fd, inode, head, *client);
  Unmount(mnt_b_, b.release());
}

TEST_F(OrphanFuseTest, FileUnlinkedOnOneMountIsFreedWhenTheHoldingMountDies) {
  std::unique_ptr<Process> b = MountB();
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(WriteFile(P("f"), RandomData(kMiB, 5)), 0);
  const InodeId inode = static_cast<InodeId>(Stat(P("f")).st_ino);
  const int fd = ::open(PB("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::unlink(P("f").c_str()), 0) << std::strerror(errno);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->GetAttr(inode).ok()) << "removed while mount B has it open";
  const int64_t chunk_id = OnlyChunk(*client, inode);
  ASSERT_NE(chunk_id, 0);
  // B dies holding it: nobody will close it.
  const auto killed = std::chrono::steady_clock::now();
  b->Stop(SIGKILL);
  (void)::close(fd);  // fails: the daemon is gone
  RunCommand({"fusermount3", "-uz", mnt_b_});
  EXPECT_TRUE(WaitFor([&] { return Freed(*client, inode, chunk_id); }, std::chrono::seconds(30)))
      << "the file held by the killed mount is still there";
  EXPECT_GE(std::chrono::steady_clock::now() - killed,
            std::chrono::milliseconds(kSessionTimeoutMs / 2))
      << "freed before the killed mount's session could have expired";
}

TEST_F(OrphanFuseTest, FileOpenOnAnotherMountSurvivesAMetaserverRestart) {
  std::unique_ptr<Process> b = MountB();
  ASSERT_NE(b, nullptr);
  // Three files open on B lose their names: one before the restart (its
  // holders are in PostgreSQL), one right after it (B has most likely not
  // declared its open files to the new metaserver yet: every session from
  // before counts as holding it), one once B has declared them again (they
  // were in the old metaserver's memory only).
  const std::vector<std::string> names = {"before", "during", "after"};
  std::vector<std::string> heads;
  std::vector<InodeId> inodes;
  std::vector<int> fds;
  for (size_t i = 0; i < names.size(); ++i) {
    heads.push_back(RandomData(kMiB + i, 8 + static_cast<int>(i)));
    ASSERT_EQ(WriteFile(P(names[i]), heads[i]), 0);
    inodes.push_back(static_cast<InodeId>(Stat(P(names[i])).st_ino));
    // O_CLOEXEC: the metaserver started below must not inherit it.
    fds.push_back(::open(PB(names[i]).c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_GE(fds.back(), 0) << std::strerror(errno);
  }
  ASSERT_EQ(::unlink(P("before").c_str()), 0) << std::strerror(errno);
  const size_t declared = b->Log().size();
  const size_t declared_a = mount_->Log().size();
  cluster_->StopMetaserver();
  cluster_->StartMetaserver();
  ASSERT_EQ(::unlink(P("during").c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(WaitFor(
      [&] { return b->Log().find("declared the 3 file(s) open", declared) != std::string::npos; },
      std::chrono::seconds(20)))
      << "mount B did not declare its open files again; log:\n"
      << b->LogTail();
  // A's session too, else it would count as holding every file.
  EXPECT_TRUE(WaitFor(
      [&] {
        return mount_->Log().find("declared the 0 file(s) open", declared_a) != std::string::npos;
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(::unlink(P("after").c_str()), 0) << std::strerror(errno);
  auto client = cluster_->NewClient();
  ASSERT_NE(client, nullptr);
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    UseOnBThenClose(fds[i], inodes[i], heads[i], *client);
  }
  if (HasFailure()) {
    std::cout << "mount B log:\n"
              << b->LogTail(8000) << "\nmetaserver log:\n"
              << cluster_->metaserver_process(0)->LogTail(8000) << "\n";
  }
  Unmount(mnt_b_, b.release());
}

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
