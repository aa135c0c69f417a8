// Faults under libddbfs on a real cluster: chunk servers killed before a
// read and in the middle of a write, a corrupt replica on disk, and a
// metaserver restart in the middle of a sequence of calls.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST(FailoverTest, ReadFailsOverWhenAReplicaServerIsKilledBeforeTheRead) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(9 * kMiB + 17, 1);
  auto a = PutFile(*client, "read-kill", data);
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  ASSERT_EQ(CurrentReplicas(chunks->front()), 2);
  // Readers try the first listed replica first: kill its server.
  int victim = IndexOfServer(*cluster, chunks->front().replicas.front().server_id);
  ASSERT_GE(victim, 0);
  cluster->KillChunkServer(victim, SIGKILL);

  auto back = ReadAll(*client, a->inode);  // pooled connections to the dead server
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
  auto fresh = cluster->NewClient();
  ASSERT_TRUE(fresh);
  back = ReadAll(*fresh, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
}

// Kills the server of replica `which` (as Chunks lists them) of chunk 0
// after the first pieces of an overwrite were handed to the writer.
void KillDuringWrite(size_t which) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto a = PutFile(*client, "mid-write", Bytes(24 * kMiB, 2));
  ASSERT_TRUE(a.ok()) << a.status();
  auto before = client->Chunks(a->inode);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->front().replicas.size(), 2u);
  const int victim_id = before->front().replicas.at(which).server_id;
  const int victim = IndexOfServer(*cluster, victim_id);
  ASSERT_GE(victim, 0);

  const std::string v2 = Bytes(70 * kMiB, 3);  // overwrites chunk 0, adds chunk 1
  auto w = client->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(WriteAt(**w, 0, v2.substr(0, 9 * kMiB)).ok());
  cluster->KillChunkServer(victim, SIGKILL);
  Status s = WriteAt(**w, 9 * kMiB, v2.substr(9 * kMiB));
  ASSERT_TRUE(s.ok()) << s;
  s = (*w)->Sync();
  ASSERT_TRUE(s.ok()) << s;
  s = (*w)->Close();
  ASSERT_TRUE(s.ok()) << s;

  auto fresh = cluster->NewClient();
  ASSERT_TRUE(fresh);
  auto back = ReadAll(*fresh, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == v2) << FirstDifference(*back, v2);
  auto after = fresh->Chunks(a->inode);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  // Acknowledged means at goal: the third server replaced the dead one
  // (pipeline recovery) before the write was acknowledged.
  EXPECT_EQ(CurrentReplicas(after->front()), 2);
  for (const auto& r : after->front().replicas) {
    if (r.server_id == victim_id) {
      EXPECT_FALSE(r.current);
    }
  }
  EXPECT_EQ(CurrentReplicas(after->back()), 2);
}

TEST(FailoverTest, ReplicaThatDiesMidWriteIsReplacedWhenItWasTheFirstReplica) {
  KillDuringWrite(0);
}

TEST(FailoverTest, ReplicaThatDiesMidWriteIsReplacedWhenItWasTheSecondReplica) {
  KillDuringWrite(1);
}

TEST(FailoverTest, FlippedByteIsReadFromTheOtherReplicaAndTheBadOneReported) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(3 * kMiB + 5, 4);
  auto a = PutFile(*client, "flip", data);
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  const ChunkView ch = chunks->front();
  ASSERT_EQ(CurrentReplicas(ch), 2);
  const int bad_id = ch.replicas.front().server_id;  // the one readers try first
  int bad = IndexOfServer(*cluster, bad_id);
  ASSERT_GE(bad, 0);
  std::string path = FindChunkFile(cluster->chunk_data_dir(bad), ch.chunk_id);
  ASSERT_FALSE(path.empty()) << "no chunk file of chunk " << ch.chunk_id;
  {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const off_t where = 16384 + 2 * kMiB + 999;  // data place A of block 32 (format 2)
    char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, where), 1);
    b = static_cast<char>(b ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &b, 1, where), 1);
    ::close(fd);
  }
  auto back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);

  ASSERT_TRUE(WaitFor(
      [&] {
        auto now = client->Chunks(a->inode);
        return now.ok() && CurrentReplicas(now->front()) == 1;
      },
      std::chrono::seconds(10)))
      << "the corrupt replica was not reported";
  auto now = client->Chunks(a->inode);
  ASSERT_TRUE(now.ok());
  for (const auto& r : now->front().replicas) {
    if (r.current) {
      EXPECT_NE(r.server_id, bad_id);
    }
  }
  back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);
}

TEST(FailoverTest, MetaserverRestartDuringASequenceOfCallsIsTransparent) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string first = Bytes(kMiB + 3, 5);
  auto before = PutFile(*client, "before", first);
  ASSERT_TRUE(before.ok()) << before.status();
  auto during = client->Create(kRootInode, "during", 0644);
  ASSERT_TRUE(during.ok());
  auto w = client->OpenWriter(during->inode);
  ASSERT_TRUE(w.ok());
  const std::string second = Bytes(6 * kMiB, 6);
  ASSERT_TRUE(WriteAt(**w, 0, second).ok());  // pieces sent, commit pending

  cluster->StopMetaserver(SIGTERM);
  std::atomic<bool> started{false};
  std::vector<Status> results;
  std::thread calls([&] {
    started = true;
    auto d = client->Mkdir(kRootInode, "after", 0755);
    results.push_back(d.status());
    if (d.ok()) results.push_back(client->Create(d->inode, "x", 0644).status());
    results.push_back((*w)->Close());
    results.push_back(client->GetAttr(before->inode).status());
    results.push_back(client->ListDir(kRootInode).status());
    results.push_back(client->Rename(kRootInode, "before", kRootInode, "renamed"));
  });
  ASSERT_TRUE(WaitFor([&] { return started.load(); }, std::chrono::seconds(5)));
  {
    ClientOptions o;  // the metaserver is really down meanwhile
    o.meta_address = cluster->meta_address();
    auto probe = Client::Connect(o);
    EXPECT_EQ(probe.status().code(), ErrorCode::kUnavailable);
  }
  cluster->StartMetaserver();
  calls.join();
  ASSERT_EQ(results.size(), 6u);
  for (size_t i = 0; i < results.size(); ++i)
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];

  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
  auto x = client->ResolvePath("/after/x");
  EXPECT_TRUE(x.ok()) << x.status();
  auto renamed = client->ResolvePath("/renamed");
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  auto back = ReadAll(*client, renamed->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == first);
  back = ReadAll(*client, during->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == second) << FirstDifference(*back, second);
}

// Copying one chunk file over another (same version) must not make a read
// return the other file's bytes: the header names the chunk, the chunk
// server refuses the impostor, and the reader falls over to the good replica.
TEST(FailoverTest, ChunkFileCopiedOverAnotherIsRefusedAndReadFromTheOtherReplica) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string da = Bytes(2 * kMiB, 21), db = Bytes(2 * kMiB, 22);
  auto a = PutFile(*client, "swap-a", da);
  auto b = PutFile(*client, "swap-b", db);
  ASSERT_TRUE(a.ok() && b.ok());
  auto ca = client->Chunks(a->inode);
  auto cb = client->Chunks(b->inode);
  ASSERT_TRUE(ca.ok() && cb.ok());
  // A server that holds replicas of both chunks (two replicas each on three
  // servers: there is always one).
  int shared = -1;
  for (const auto& ra : ca->front().replicas) {
    for (const auto& rb : cb->front().replicas) {
      if (ra.server_id == rb.server_id) shared = ra.server_id;
    }
  }
  ASSERT_GT(shared, 0);
  const int index = IndexOfServer(*cluster, shared);
  ASSERT_GE(index, 0);
  const std::string pa = FindChunkFile(cluster->chunk_data_dir(index), ca->front().chunk_id);
  const std::string pb = FindChunkFile(cluster->chunk_data_dir(index), cb->front().chunk_id);
  ASSERT_FALSE(pa.empty());
  ASSERT_FALSE(pb.empty());
  ASSERT_EQ(ca->front().version, cb->front().version);
  std::filesystem::copy_file(pb, pa, std::filesystem::copy_options::overwrite_existing);
  auto fresh = cluster->NewClient();
  ASSERT_TRUE(fresh);
  for (int i = 0; i < 2; ++i) {  // whichever replica the reader tries first
    auto back = ReadAll(*fresh, a->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == da) << "read returned another chunk's bytes";
  }
}

}  // namespace
}  // namespace ddbfs::testing
