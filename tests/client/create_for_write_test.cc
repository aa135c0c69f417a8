// Client::CreateForWrite on a real cluster: the writer it returns uses the
// chunk 0 that the Create placed, prepares later chunks as usual, and falls
// back to PrepareWrite when the metaserver could not place chunk 0.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "process.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class CreateForWriteTest : public SharedClusterTest<CreateForWriteTest> {
 protected:
};

int CurrentCount(const ChunkView& c) {
  int n = 0;
  for (const auto& r : c.replicas) n += r.current && r.alive ? 1 : 0;
  return n;
}

TEST_F(CreateForWriteTest, SmallFileReadsBackAndUsesThePlacedChunk) {
  auto f = client_->CreateForWrite(kRootInode, "small", 0600, int64_t{1'600'000'000'000'000'000});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->writer);
  EXPECT_EQ(f->attr.type, FileType::kRegular);
  EXPECT_EQ(f->attr.mode, 0600u);
  EXPECT_EQ(f->attr.size, 0u);
  EXPECT_EQ(f->writer->size(), 0u);
  // Chunk 0 exists already, placed and not yet written.
  auto placed = client_->Chunks(f->attr.inode);
  ASSERT_TRUE(placed.ok()) << placed.status();
  ASSERT_EQ(placed->size(), 1u);
  EXPECT_EQ(placed->front().index, 0);
  EXPECT_EQ(placed->front().version, 0);
  EXPECT_EQ(placed->front().replicas.size(), 2u);

  const std::string data = Bytes(4096, 11);
  f->writer->SetMtime(1'600'000'000'000'000'000);
  ASSERT_TRUE(WriteAt(*f->writer, 0, data).ok());
  ASSERT_TRUE(f->writer->Sync().ok());
  ASSERT_TRUE(f->writer->Close().ok());

  auto attr = client_->GetAttr(f->attr.inode);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(attr->size, data.size());
  EXPECT_EQ(attr->mtime_ns, 1'600'000'000'000'000'000);
  auto back = ReadAll(*client_, f->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
  // The write went to the placed chunk: same id, now version 1 everywhere.
  auto chunks = client_->Chunks(f->attr.inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ(chunks->front().chunk_id, placed->front().chunk_id);
  EXPECT_EQ(chunks->front().version, 1);
  EXPECT_EQ(chunks->front().length, data.size());
  EXPECT_EQ(CurrentCount(chunks->front()), 2);
}

// The lease Create took on chunk 0 runs from the create. A first write
// more than a lease later still commits (the writer prepares afresh), and a
// writer closed unwritten gives the lease back at once, so the next writer
// does not wait for it to expire (the test cluster's leases last 2 s).
TEST_F(CreateForWriteTest, ALateFirstWriteCommitsAndAnUnusedLeaseIsGivenBack) {
  const int lease_ms = ClusterOptions().lease_ms;
  auto late = client_->CreateForWrite(kRootInode, "late", 0644);
  ASSERT_TRUE(late.ok()) << late.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(lease_ms + 1000));
  const std::string data = Bytes(10000, 5);
  ASSERT_TRUE(WriteAt(*late->writer, 0, data).ok());
  Status closed = late->writer->Close();
  ASSERT_TRUE(closed.ok()) << closed;
  auto back = ReadAll(*client_, late->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);

  auto unused = client_->CreateForWrite(kRootInode, "unused", 0644);
  ASSERT_TRUE(unused.ok()) << unused.status();
  ASSERT_TRUE(unused->writer->Close().ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto next = client_->OpenWriter(unused->attr.inode);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(WriteAt(**next, 0, "x").ok());
  ASSERT_TRUE((*next)->Close().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(lease_ms / 2))
      << "the next writer waited for the unused lease";
}

// A file created for writing and closed empty (`touch`, a lock file): the
// lease on its placed chunk 0 is given back, and the chunk, which never held
// a byte, goes with it. A chunk with no replica left behind would count as
// missing in `ddbfs status` and make fsck call the empty file lost.
TEST_F(CreateForWriteTest, AFileClosedEmptyKeepsNoChunkAndFsckIsClean) {
  auto f = client_->CreateForWrite(kRootInode, "touched", 0644);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->writer->Close().ok());
  // Giving the lease back settles the chunk at once (no lease to wait out).
  std::vector<ChunkView> left;
  const bool settled = WaitFor(
      [&] {
        auto c = client_->Chunks(f->attr.inode);
        if (!c.ok()) return false;
        left = *c;
        return left.empty() || left.front().version != 0;
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(settled);
  EXPECT_TRUE(left.empty()) << "chunk " << left.front().chunk_id << " version "
                            << left.front().version << " with " << CurrentCount(left.front())
                            << " current replicas left behind";
  auto fsck = client_->Fsck("/touched", false, 0, 100);
  ASSERT_TRUE(fsck.ok()) << fsck.status();
  for (const FsckChunkView& c : fsck->chunks) {
    ADD_FAILURE() << "fsck: chunk " << c.chunk_id << ": " << ::testing::PrintToString(c.problems);
  }
  auto attr = client_->GetAttr(f->attr.inode);
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->size, 0u);
  auto back = ReadAll(*client_, f->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "");
  // And it takes data later, as any empty file.
  auto w = client_->OpenWriter(f->attr.inode);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(WriteAt(**w, 0, "later").ok());
  ASSERT_TRUE((*w)->Close().ok());
  back = ReadAll(*client_, f->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "later");
}

TEST_F(CreateForWriteTest, MultiChunkFileReadsBackByteIdentical) {
  auto f = client_->CreateForWrite(kRootInode, "multi", 0644, std::nullopt, 3);
  ASSERT_TRUE(f.ok()) << f.status();
  auto placed = client_->Chunks(f->attr.inode);
  ASSERT_TRUE(placed.ok());
  ASSERT_EQ(placed->size(), 1u);
  EXPECT_EQ(placed->front().replicas.size(), 3u);  // the goal asked for

  // Chunk 0 in full from the placement, chunk 1 through PrepareWrite.
  const std::string data = Bytes(kChunkSize + 3 * kMiB + 123, 12);
  ASSERT_TRUE(WriteAt(*f->writer, 0, data, 777777).ok());
  ASSERT_TRUE(f->writer->Sync().ok());
  ASSERT_TRUE(f->writer->Close().ok());

  auto back = ReadAll(*client_, f->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), data.size());
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
  auto chunks = client_->Chunks(f->attr.inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[0].chunk_id, placed->front().chunk_id);
  EXPECT_EQ((*chunks)[0].length, kChunkSize);
  EXPECT_EQ((*chunks)[1].length, 3 * kMiB + 123);
  for (const ChunkView& c : *chunks) {
    EXPECT_EQ(c.version, 1);
    EXPECT_EQ(CurrentCount(c), 3) << "chunk " << c.index;
  }
}

TEST_F(CreateForWriteTest, WritingOnlyALaterChunkReadsZerosBeforeIt) {
  auto f = client_->CreateForWrite(kRootInode, "sparse", 0644);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::string data = Bytes(1000, 13);
  ASSERT_TRUE(WriteAt(*f->writer, kChunkSize + 5, data).ok());
  ASSERT_TRUE(f->writer->Close().ok());
  auto back = ReadAll(*client_, f->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), kChunkSize + 5 + data.size());
  EXPECT_EQ(back->substr(kChunkSize + 5), data);
  EXPECT_EQ(back->find_first_not_of('\0'), kChunkSize + 5);
}

TEST_F(CreateForWriteTest, ATakenNameFailsWithoutAWriter) {
  ASSERT_TRUE(client_->Create(kRootInode, "taken", 0644).ok());
  auto f = client_->CreateForWrite(kRootInode, "taken", 0644);
  EXPECT_EQ(f.status().code(), ErrorCode::kExists);
  EXPECT_EQ(client_->CreateForWrite(kRootInode, "a/b", 0644).status().code(),
            ErrorCode::kInvalidArgument);
}

// The metaserver cannot place chunk 0 while no chunk server is alive: the
// file is created all the same and its writer prepares chunk 0 itself.
TEST(CreateForWriteFallbackTest, WithoutAPlacementTheWriterPreparesChunkZero) {
  ClusterOptions o;
  o.chunk_servers = 1;
  o.heartbeat_timeout_ms = 1000;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  cluster->KillChunkServer(0, SIGKILL);
  ASSERT_TRUE(cluster->WaitForAliveServers(0, 20000));

  auto early = client->CreateForWrite(kRootInode, "early", 0644);
  ASSERT_TRUE(early.ok()) << early.status();
  auto none = client->Chunks(early->attr.inode);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());  // nothing was placed
  // A write now gets PrepareWrite's error.
  auto doomed = client->CreateForWrite(kRootInode, "doomed", 0644);
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  (void)doomed->writer->Write(0, std::span<const char>("x", 1));
  Status s = doomed->writer->Close();
  EXPECT_EQ(s.code(), ErrorCode::kNoSpace) << s;
  EXPECT_NE(s.message().find("no chunk server is alive"), std::string::npos) << s;

  cluster->StartChunkServer(0);
  ASSERT_TRUE(cluster->WaitForAliveServers(1, 20000));
  const std::string data = Bytes(100 * 1024 + 3, 14);
  ASSERT_TRUE(WriteAt(*early->writer, 0, data).ok());
  ASSERT_TRUE(early->writer->Sync().ok());
  ASSERT_TRUE(early->writer->Close().ok());
  auto back = ReadAll(*client, early->attr.inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
  auto chunks = client->Chunks(early->attr.inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ(chunks->front().version, 1);
  EXPECT_EQ(CurrentCount(chunks->front()), 1);
}

}  // namespace
}  // namespace ddbfs::testing
