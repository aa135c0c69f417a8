// Garbage collection end to end: the chunk files of deleted and truncated
// data disappear from the chunk servers' disks; live data stays.

#include <filesystem>

#include <gtest/gtest.h>

#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

// Number of replica files of `chunk_id` over every chunk server's folder.
int ChunkFilesOnDisk(TestCluster& c, int64_t chunk_id) {
  int n = 0;
  for (int i = 0; i < c.chunk_server_count(); ++i) {
    n += FindChunkFile(c.chunk_data_dir(i), chunk_id).empty() ? 0 : 1;
  }
  return n;
}

TEST(GcTest, ChunksOfDeletedAndTruncatedFilesLeaveTheDisks) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto doomed = PutFile(*client, "doomed", Bytes(70u << 20, 1));  // chunks 0 and 1
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  auto kept = PutFile(*client, "kept", Bytes(70u << 20, 2));
  ASSERT_TRUE(kept.ok()) << kept.status();
  auto doomed_chunks = client->Chunks(doomed->inode);
  auto kept_chunks = client->Chunks(kept->inode);
  ASSERT_TRUE(doomed_chunks.ok() && kept_chunks.ok());
  ASSERT_EQ(doomed_chunks->size(), 2u);
  ASSERT_EQ(kept_chunks->size(), 2u);
  for (const auto& ch : *doomed_chunks) ASSERT_EQ(ChunkFilesOnDisk(*cluster, ch.chunk_id), 2);

  ASSERT_TRUE(client->Unlink(kRootInode, "doomed").ok());
  // Shrink "kept" to 1 MiB: chunk 1 is garbage, chunk 0 stays.
  AttrChanges shrink;
  shrink.size = 1u << 20;
  ASSERT_TRUE(client->SetAttr(kept->inode, shrink).ok());

  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = client->ClusterStatus();
        return st.ok() && st->pending_deletions == 0 &&
               ChunkFilesOnDisk(*cluster, (*doomed_chunks)[0].chunk_id) == 0 &&
               ChunkFilesOnDisk(*cluster, (*doomed_chunks)[1].chunk_id) == 0 &&
               ChunkFilesOnDisk(*cluster, (*kept_chunks)[1].chunk_id) == 0;
      },
      std::chrono::seconds(30)))
      << "garbage chunk files are still on disk";
  EXPECT_EQ(ChunkFilesOnDisk(*cluster, (*kept_chunks)[0].chunk_id), 2);
  auto back = ReadAll(*client, kept->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == Bytes(70u << 20, 2).substr(0, 1u << 20));
}

}  // namespace
}  // namespace ddbfs::testing
