// Placement by rack (docs/repair.md, "Placement by host and rack"): chunk
// servers started with --rack; the replicas of a chunk go to two racks when
// two racks exist, and a chunk whose replicas share a rack while another
// rack has room is moved there by the repair, with no one acting. Real
// processes on loopback (tests/integration/hosts_test.cc does the same with
// a network namespace per host).

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

ClusterOptions TwoRacks() {
  ClusterOptions o;
  o.chunk_servers = 4;
  o.heartbeat_timeout_ms = 1000;
  o.metaserver_args = {"--repair-interval-ms", "200"};
  o.labels = {"h1", "h2", "h3", "h4"};
  o.racks = {"r1", "r1", "r2", "r2"};
  return o;
}

// The racks of the live current replicas of each chunk of `inode`.
std::vector<std::multiset<std::string>> RacksOf(Client& c, InodeId inode) {
  std::map<int, std::string> rack;
  auto st = c.ClusterStatus();
  if (st.ok()) {
    for (const ServerView& s : st->servers) rack[s.server_id] = s.rack;
  }
  std::vector<std::multiset<std::string>> out;
  auto chunks = c.Chunks(inode);
  if (!chunks.ok()) return out;
  for (const ChunkView& ch : *chunks) {
    std::multiset<std::string> racks;
    for (const ReplicaView& r : ch.replicas) {
      if (r.current && r.alive) racks.insert(rack[r.server_id]);
    }
    out.push_back(racks);
  }
  return out;
}

const std::multiset<std::string> kBothRacks = {"r1", "r2"};

TEST(RackTest, ServerListShowsRacksAndReplicasGoToTwoRacks) {
  auto cluster = TestCluster::Start(TwoRacks());
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  CommandResult list =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "server", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("RACK"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(" r1 "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(" r2 "), std::string::npos) << list.out;
  // Sixteen one-chunk files: with placement by host only, each would land
  // on one rack with probability 1/3.
  for (int i = 0; i < 16; ++i) {
    auto a = PutFile(*client, "f" + std::to_string(i), Bytes(64 << 10, i));
    ASSERT_TRUE(a.ok()) << a.status();
    for (const auto& racks : RacksOf(*client, a->inode)) {
      EXPECT_EQ(racks, kBothRacks) << "f" << i;
    }
  }
}

TEST(RackTest, ChunksOnOneRackAreMovedWhenAnotherRackHasRoom) {
  auto cluster = TestCluster::Start(TwoRacks());
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  // Rack r2 away: everything written now lands on r1 (hosts h1 and h2).
  cluster->KillChunkServer(2);
  cluster->KillChunkServer(3);
  ASSERT_TRUE(cluster->WaitForAliveServers(2, 10000));
  std::vector<std::pair<InodeId, std::string>> files;
  for (int i = 0; i < 6; ++i) {
    std::string data = Bytes(256 << 10, 50 + i);
    auto a = PutFile(*client, "g" + std::to_string(i), data);
    ASSERT_TRUE(a.ok()) << a.status();
    for (const auto& racks : RacksOf(*client, a->inode)) {
      ASSERT_EQ(racks, (std::multiset<std::string>{"r1", "r1"}));
    }
    files.emplace_back(a->inode, std::move(data));
  }
  // r2 comes back with room: each chunk is copied there and one of its r1
  // replicas dropped, by the repair alone.
  cluster->StartChunkServer(2);
  cluster->StartChunkServer(3);
  ASSERT_TRUE(cluster->WaitForAliveServers(4, 10000));
  const bool spread = WaitFor(
      [&] {
        for (const auto& [inode, data] : files) {
          for (const auto& racks : RacksOf(*client, inode)) {
            if (racks != kBothRacks) return false;
          }
        }
        auto st = client->ClusterStatus();
        return st.ok() && st->chunks_over_goal == 0 && st->chunks_under_goal == 0 &&
               st->pending_deletions == 0;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(spread) << "chunks were not spread over both racks";
  for (const auto& [inode, data] : files) {
    auto got = ReadRange(*client, inode, 0, data.size());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == data) << FirstDifference(*got, data);
    auto chunks = client->Chunks(inode);
    ASSERT_TRUE(chunks.ok());
    for (const ChunkView& ch : *chunks) {
      int files_on_disk = 0;
      for (int i = 0; i < cluster->chunk_server_count(); ++i) {
        files_on_disk += FindChunkFile(cluster->chunk_data_dir(i), ch.chunk_id).empty() ? 0 : 1;
      }
      EXPECT_EQ(files_on_disk, 2) << "chunk " << ch.chunk_id;
    }
  }
  CommandResult fsck =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "fsck"});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
}

}  // namespace
}  // namespace ddbfs::testing
