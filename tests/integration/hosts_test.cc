// Several hosts (issue 9, "Several hosts"; docs/repair.md, "Placement by
// host and rack"): four chunk servers, each in a network namespace of its
// own with its own address (NetHosts), in two racks. Replicas land on
// distinct hosts and racks; a host cut off (its link down) is routed around
// by clients' reads and writes, declared dead after the heartbeat timeout and
// repaired around; when its link comes back it rejoins: its stale and extra
// replicas are deleted, nothing is lost and fsck is clean.

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "net_hosts.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr int kHosts = 4;
constexpr int kHeartbeatTimeoutMs = 1500;
constexpr size_t kFileSize = 1 << 20;

struct Placed {
  std::string label;
  std::string rack;
  bool alive = false;
};

// Server id -> where it is and whether the metaserver thinks it alive.
std::map<int, Placed> Servers(Client& c) {
  std::map<int, Placed> out;
  auto st = c.ClusterStatus();
  if (!st.ok()) return out;
  for (const ServerView& s : st->servers) out[s.server_id] = {s.label, s.rack, s.alive};
  return out;
}

// Empty when every chunk of `inode` has exactly `goal` live current
// replicas on distinct hosts and distinct racks; else what is wrong.
std::string PlacementProblem(Client& c, InodeId inode, int goal) {
  auto servers = Servers(c);
  auto chunks = c.Chunks(inode);
  if (!chunks.ok()) return chunks.status().ToString();
  std::string problem;
  for (const ChunkView& ch : *chunks) {
    std::set<std::string> hosts, racks;
    int live = 0;
    for (const ReplicaView& r : ch.replicas) {
      if (!r.current || !r.alive) continue;
      ++live;
      hosts.insert(servers[r.server_id].label);
      racks.insert(servers[r.server_id].rack);
    }
    if (live != goal || static_cast<int>(hosts.size()) != goal ||
        static_cast<int>(racks.size()) != std::min(goal, 2)) {
      problem += "chunk " + std::to_string(ch.chunk_id) + ": " + std::to_string(live) +
                 " live on " + std::to_string(hosts.size()) + " hosts, " +
                 std::to_string(racks.size()) + " racks; ";
    }
  }
  return problem;
}

int ChunkFilesOnDisk(TestCluster& cluster, int64_t chunk_id) {
  int n = 0;
  for (int i = 0; i < cluster.chunk_server_count(); ++i) {
    n += FindChunkFile(cluster.chunk_data_dir(i), chunk_id).empty() ? 0 : 1;
  }
  return n;
}

TEST(HostsTest, PlacementByHostCutOffHostRoutedAroundRepairedAndRejoins) {
  auto net = NetHosts::Create(kHosts);
  ASSERT_TRUE(net);
  ClusterOptions o;
  o.chunk_servers = kHosts;
  o.heartbeat_timeout_ms = kHeartbeatTimeoutMs;
  o.metaserver_args = {"--repair-interval-ms", "200"};
  o.meta_host = net->bridge_address();
  o.labels = {"host1", "host2", "host3", "host4"};
  o.racks = {"rackA", "rackA", "rackB", "rackB"};
  for (int i = 0; i < kHosts; ++i) {
    o.chunk_hosts.push_back(net->host_address(i));
    o.chunk_wrappers.push_back(net->wrapper(i));
  }
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  // Short RPC timeouts: a silent host is given up on within seconds.
  ClientOptions copts;
  copts.meta_address = cluster->meta_address();
  copts.rpc_timeout_ms = 2000;
  auto connected = Client::Connect(copts);
  ASSERT_TRUE(connected.ok()) << connected.status();
  std::unique_ptr<Client> client = std::move(connected).value();

  // Each chunk server registered from its own address.
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  std::set<std::string> hosts;
  for (const ServerView& s : st->servers) hosts.insert(s.address.substr(0, s.address.find(':')));
  ASSERT_EQ(hosts.size(), static_cast<size_t>(kHosts));

  // Host-aware placement: distinct hosts, and the two racks.
  constexpr int kFiles = 12;
  std::vector<InodeId> inodes;
  std::vector<std::string> data;
  for (int i = 0; i < kFiles; ++i) {
    data.push_back(Bytes(kFileSize, 100 + i));
    auto a = PutFile(*client, "f" + std::to_string(i), data.back());
    ASSERT_TRUE(a.ok()) << a.status();
    inodes.push_back(a->inode);
  }
  for (InodeId ino : inodes) EXPECT_EQ(PlacementProblem(*client, ino, 2), "");

  // Cut off the host that holds a replica of f0's chunk.
  auto chunks = client->Chunks(inodes[0]);
  ASSERT_TRUE(chunks.ok() && !chunks->empty());
  const int victim_id = chunks->front().replicas.front().server_id;
  const int victim = IndexOfServer(*cluster, victim_id);
  ASSERT_GE(victim, 0);
  // Files with a replica on the victim, rewritten while it is away: its
  // replicas of them go stale.
  std::vector<int> on_victim;
  for (int i = 0; i < kFiles; ++i) {
    auto ch = client->Chunks(inodes[i]);
    ASSERT_TRUE(ch.ok());
    for (const ReplicaView& r : ch->front().replicas) {
      if (r.server_id == victim_id) on_victim.push_back(i);
    }
  }
  ASSERT_FALSE(on_victim.empty());
  ASSERT_TRUE(net->SetLink(victim, false));
  const auto cut = std::chrono::steady_clock::now();

  // Reads and writes route around it at once (before it is declared dead).
  for (int i = 0; i < kFiles; ++i) {
    auto got = ReadRange(*client, inodes[i], 0, kFileSize);
    ASSERT_TRUE(got.ok()) << "f" << i << ": " << got.status();
    EXPECT_TRUE(*got == data[i]) << "f" << i << ": " << FirstDifference(*got, data[i]);
  }
  for (int i : on_victim) {
    data[i] = Bytes(kFileSize, 500 + i);
    auto w = client->OpenWriter(inodes[i]);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE(WriteAt(**w, 0, data[i]).ok());
    Status s = (*w)->Sync();
    ASSERT_TRUE(s.ok()) << "rewrite of f" << i << " with its host cut off: " << s;
    ASSERT_TRUE((*w)->Close().ok());
  }
  data.push_back(Bytes(kFileSize, 999));
  auto fresh = PutFile(*client, "written-while-cut", data.back());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  inodes.push_back(fresh->inode);
  const auto routed = std::chrono::steady_clock::now() - cut;
  std::cout << "reads and writes around the cut host took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(routed).count() << " ms\n";

  // Declared dead after the heartbeat timeout; the repair restores the
  // goal on the other hosts, racks kept apart.
  ASSERT_TRUE(WaitFor([&] { return !Servers(*client)[victim_id].alive; },
                      std::chrono::milliseconds(3 * kHeartbeatTimeoutMs)))
      << "the cut host was not declared dead";
  const auto dead = std::chrono::steady_clock::now() - cut;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = client->ClusterStatus();
        return s.ok() && s->chunks_under_goal == 0 && s->chunks_missing == 0;
      },
      std::chrono::seconds(30)))
      << "goal not restored around the cut host";
  for (InodeId ino : inodes) EXPECT_EQ(PlacementProblem(*client, ino, 2), "");
  std::cout << "declared dead after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(dead).count()
            << " ms, goal restored after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - cut)
                   .count()
            << " ms\n";

  // The link comes back: the same server rejoins, its stale and extra
  // replicas go, nothing is lost.
  ASSERT_TRUE(net->SetLink(victim, true));
  ASSERT_TRUE(WaitFor([&] { return Servers(*client)[victim_id].alive; }, std::chrono::seconds(20)))
      << "the host did not rejoin";
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = client->ClusterStatus();
        if (!s.ok() || s->chunks_under_goal != 0 || s->chunks_over_goal != 0 ||
            s->chunks_missing != 0 || s->pending_deletions != 0) {
          return false;
        }
        for (InodeId ino : inodes) {
          auto ch = client->Chunks(ino);
          if (!ch.ok() || ChunkFilesOnDisk(*cluster, ch->front().chunk_id) != 2) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << "stale or extra replicas left after the host rejoined";
  for (size_t i = 0; i < inodes.size(); ++i) {
    EXPECT_EQ(PlacementProblem(*client, inodes[i], 2), "");
    auto got = ReadRange(*client, inodes[i], 0, kFileSize);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == data[i]) << "file " << i << ": " << FirstDifference(*got, data[i]);
  }
  CommandResult fsck =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "fsck"});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
}

}  // namespace
}  // namespace ddbfs::testing
