// Faults on a real cluster: chunk servers killed, bytes flipped on disk,
// disks full. Each test starts its own PostgreSQL database, metaserver and
// chunk server processes.

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

TEST(FaultTest, FileOf200MiBReadsBackAfterKill9OfAChunkServerHoldingIt) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(200u << 20, 42);
  auto attr = PutFile(*client, "big.bin", data);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->size, data.size());
  EXPECT_EQ(attr->goal, 2);

  auto chunks = client->Chunks(attr->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 4u);  // 200 MiB = 3 full chunks + 8 MiB
  for (const auto& ch : *chunks) {
    EXPECT_EQ(CurrentReplicas(ch), 2) << "chunk " << ch.index;
    ASSERT_EQ(ch.replicas.size(), 2u);
    EXPECT_NE(ch.replicas[0].server_id, ch.replicas[1].server_id);
  }
  // Kill -9 the server holding the first replica of chunk 0.
  int victim = IndexOfServer(*cluster, chunks->front().replicas.front().server_id);
  ASSERT_GE(victim, 0);
  cluster->KillChunkServer(victim, SIGKILL);

  // A fresh client (no cached connections) reads every byte back.
  auto reader_client = cluster->NewClient();
  ASSERT_TRUE(reader_client);
  auto back = ReadAll(*reader_client, attr->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), data.size());
  EXPECT_TRUE(*back == data) << "data differs after kill -9 of a replica's server";
}

TEST(FaultTest, FlippedByteInOneReplicaIsDetectedAndServedFromTheOther) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(3u << 20, 7);
  auto attr = PutFile(*client, "doc.bin", data);
  ASSERT_TRUE(attr.ok()) << attr.status();
  auto chunks = client->Chunks(attr->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 1u);
  const ChunkView& ch = chunks->front();
  ASSERT_EQ(CurrentReplicas(ch), 2);

  // Flip one data byte of every replica but one: the client must fall over
  // to the good one whichever replica it tries first. Corrupt the first
  // replica (the one readers try first) to be sure the check runs.
  int bad = IndexOfServer(*cluster, ch.replicas[0].server_id);
  ASSERT_GE(bad, 0);
  std::string path = FindChunkFile(cluster->chunk_data_dir(bad), ch.chunk_id);
  ASSERT_FALSE(path.empty());
  {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const off_t where = 8192 + 1234567;  // header is 8 KiB; a byte inside block 18
    char b;
    ASSERT_EQ(::pread(fd, &b, 1, where), 1);
    b ^= 0x20;
    ASSERT_EQ(::pwrite(fd, &b, 1, where), 1);
    ::close(fd);
  }
  for (int round = 0; round < 2; ++round) {
    auto back = ReadAll(*client, attr->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "round " << round;
  }
  // The corrupt replica was reported and left the chunk map.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto now = client->Chunks(attr->inode);
        return now.ok() && CurrentReplicas(now->front()) == 1;
      },
      std::chrono::seconds(10)));
  auto now = client->Chunks(attr->inode);
  ASSERT_TRUE(now.ok());
  for (const auto& r : now->front().replicas) {
    if (r.current) {
      EXPECT_NE(r.server_id, ch.replicas[0].server_id);
    }
  }
}

// Every chunk server on a 100 MiB tmpfs: a 256 MiB upload (goal 2) cannot
// fit and fails with a clean kNoSpace; a file written before still reads back.
TEST(FaultTest, FullDisksGiveNoSpaceAndKeepEarlierData) {
  ClusterOptions opts;
  opts.data_tmpfs_mib = 100;
  auto cluster = TestCluster::Start(opts);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string small = Bytes(1u << 20, 1);
  auto first = PutFile(*client, "first.bin", small);
  ASSERT_TRUE(first.ok()) << first.status();

  auto big = PutFile(*client, "big.bin", Bytes(256u << 20, 2));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), ErrorCode::kNoSpace) << big.status();

  auto back = ReadAll(*client, first->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == small);
}

}  // namespace
}  // namespace ddbfs::testing
