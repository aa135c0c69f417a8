// Faults on a real cluster: chunk servers killed, bytes flipped on disk,
// disks full. Each test starts its own PostgreSQL database, metaserver and
// chunk server processes.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"
#include "process.h"
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

// A client (the ddbfs CLI adding a 300 MiB file, goal 2) killed with SIGKILL
// in the middle of its write, once its first chunk is committed: after its
// lease ran out and was settled, every chunk of the file is at its goal
// with byte-identical replicas, the file holds a prefix of what was being
// written (nothing mixed, nothing from another offset), and fsck is clean.
TEST(FaultTest, ClientKilledMidWriteLeavesEveryChunkAtGoalIdenticalAndFsckClean) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  TempDir local("ddbfs-client-kill");
  const std::string src = local.path() + "/big.bin";
  const std::string data = Bytes(300u << 20, 77);
  {
    std::ofstream out(src, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    ASSERT_TRUE(out.good());
  }
  Process cli(cluster->bin("ddbfs"), {"--meta", cluster->meta_address(), "add", src, "/"},
              local.path() + "/cli.log");
  // The moment: the file exists with its first chunk committed, the rest is
  // being written.
  InodeId inode = 0;
  uint64_t size_at_kill = 0;
  const bool mid = WaitFor(
      [&] {
        auto a = client->ResolvePath("/big.bin");
        if (!a.ok()) return false;
        inode = a->inode;
        size_at_kill = a->size;
        return a->size >= (64u << 20);
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(mid) << "the add never committed a chunk; log:\n" << cli.LogTail();
  // Into the next chunk's pieces (the add writes some 100 MB/s here).
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const int status = cli.Stop(SIGKILL);
  if (auto a = client->GetAttr(inode); a.ok()) size_at_kill = a->size;
  ASSERT_LT(size_at_kill, data.size()) << "the add finished before it could be killed";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the add ended by itself (status " << status << "); log:\n"
      << cli.LogTail();

  // The dead writer's lease (2 s here) runs out; the metaserver settles the
  // chunk it held and repair restores the goal.
  Attr after;
  std::vector<ChunkView> chunks;
  const bool settled = WaitFor(
      [&] {
        auto a = client->GetAttr(inode);
        auto c = client->Chunks(inode);
        if (!a.ok() || !c.ok()) return false;
        after = *a;
        chunks = *c;
        for (const ChunkView& ch : chunks) {
          // Version 0: the dead writer's chunk, not settled yet.
          if (ch.version == 0 || CurrentReplicas(ch) != 2) return false;
        }
        return !chunks.empty();
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(settled) << "chunks never back at goal 2";
  EXPECT_GE(after.size, size_at_kill);
  EXPECT_LE(after.size, data.size());
  int compared = 0;
  for (const ChunkView& ch : chunks) {
    // Bytes past the file's size were never acknowledged: not kept.
    const uint64_t start = static_cast<uint64_t>(ch.index) * kChunkSize;
    const uint64_t extent =
        after.size > start ? std::min<uint64_t>(after.size - start, kChunkSize) : 0;
    EXPECT_LE(ch.length, extent) << "chunk " << ch.index << " keeps bytes past the file's end";
    std::optional<std::string> first;
    for (const ReplicaView& r : ch.replicas) {
      if (!r.current) continue;
      auto bytes = ReadReplica(*cluster, r.address, ch);
      ASSERT_TRUE(bytes.ok()) << "chunk " << ch.index << " on server " << r.server_id << ": "
                              << bytes.status();
      ++compared;
      if (!first) {
        first = *bytes;
      } else {
        EXPECT_TRUE(*first == *bytes)
            << "replicas of chunk " << ch.index << " differ: " << FirstDifference(*bytes, *first);
      }
    }
  }
  EXPECT_GE(compared, 2 * static_cast<int>(chunks.size()));
  auto back = ReadAll(*client, inode);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), after.size);
  EXPECT_TRUE(*back == data.substr(0, back->size()))
      << FirstDifference(*back, data.substr(0, back->size()));
  CommandResult fsck =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "fsck"}, "",
                 std::chrono::seconds(120));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  std::cout << "killed at " << (size_at_kill >> 20) << " MiB committed; the file settled at "
            << (after.size >> 20) << " MiB in " << chunks.size() << " chunks\n";
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
