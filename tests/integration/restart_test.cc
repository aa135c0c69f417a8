// Restarts on a real cluster: everything stopped and started again, and a
// chunk server that misses writes while it is down.

#include <gtest/gtest.h>

#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

TEST(RestartTest, AllDataSurvivesStoppingAndStartingEveryServer) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  std::vector<std::pair<InodeId, std::string>> files;
  {
    auto client = cluster->NewClient();
    ASSERT_TRUE(client);
    auto dir = client->Mkdir(1, "keep", 0755);
    ASSERT_TRUE(dir.ok()) << dir.status();
    for (int i = 0; i < 20; ++i) {
      std::string data = Bytes(static_cast<size_t>(i) * 37000 + 1, 100 + i);
      auto a = PutFile(*client, "f" + std::to_string(i), data);
      ASSERT_TRUE(a.ok()) << a.status();
      files.emplace_back(a->inode, data);
    }
    std::string big = Bytes(70u << 20, 99);  // two chunks
    auto a = PutFile(*client, "big", big);
    ASSERT_TRUE(a.ok()) << a.status();
    files.emplace_back(a->inode, big);
  }
  // Clean stop (SIGTERM) of everything, then start again.
  for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->KillChunkServer(i, SIGTERM);
  cluster->StopMetaserver(SIGTERM);
  cluster->StartMetaserver();
  for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->StartChunkServer(i);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));

  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto keep = client->ResolvePath("/keep");
  ASSERT_TRUE(keep.ok()) << keep.status();
  for (const auto& [inode, data] : files) {
    auto back = ReadAll(*client, inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "inode " << inode;
  }
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunks_missing, 0);
  EXPECT_EQ(st->chunks_under_goal, 0);
}

// A replica whose server was down during an overwrite is stale: it is never
// read, even when it is the only other copy the client could try.
TEST(RestartTest, StaleReplicaOfAServerThatMissedAWriteIsNeverServed) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string v1 = Bytes(2u << 20, 1);
  auto a = PutFile(*client, "doc", v1);
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  int down = IndexOfServer(*cluster, chunks->front().replicas.front().server_id);
  ASSERT_GE(down, 0);
  cluster->KillChunkServer(down, SIGKILL);

  // Overwrite the first MiB while that server is down.
  const std::string patch = Bytes(1u << 20, 2);
  {
    auto w = client->OpenWriter(a->inode);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE((*w)->Write(0, patch).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  std::string v2 = v1;
  v2.replace(0, patch.size(), patch);

  cluster->StartChunkServer(down);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
  auto fresh = cluster->NewClient();
  ASSERT_TRUE(fresh);
  for (int round = 0; round < 3; ++round) {
    auto back = ReadAll(*fresh, a->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == v2) << "a stale replica was served (round " << round << ")";
  }
  auto after = fresh->Chunks(a->inode);
  ASSERT_TRUE(after.ok());
  for (const auto& r : after->front().replicas) {
    if (r.server_id == chunks->front().replicas.front().server_id) {
      EXPECT_FALSE(r.current);
    }
  }
}

}  // namespace
}  // namespace ddbfs::testing
