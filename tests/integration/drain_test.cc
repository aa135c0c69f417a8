// Draining and removing a chunk server end to end (docs/repair.md,
// "Draining"): a drained server gets no new chunk, every chunk it held is
// copied elsewhere and its replica dropped with the data still readable,
// it stays drained across a restart, and `server remove` refuses while it
// runs or holds a replica (above all the only copy of something) and
// forgets it after. Real PostgreSQL, metaserver and chunk server processes.

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr size_t kKiB = 1 << 10;
constexpr auto kWait = std::chrono::seconds(30);

struct Written {
  InodeId inode = 0;
  std::vector<std::string> pieces;  // piece i at offset i * kChunkSize
};

Result<Written> WriteSparse(Client& c, const std::string& name, int chunks, uint64_t seed) {
  Written f;
  ASSIGN_OR_RETURN(Attr a, c.Create(kRootInode, name, 0644));
  f.inode = a.inode;
  ASSIGN_OR_RETURN(auto w, c.OpenWriter(a.inode));
  for (int i = 0; i < chunks; ++i) {
    f.pieces.push_back(Bytes(4 * kKiB, seed * 100 + static_cast<uint64_t>(i)));
    RETURN_IF_ERROR(WriteAt(*w, static_cast<uint64_t>(i) * kChunkSize, f.pieces.back()));
  }
  RETURN_IF_ERROR(w->Sync());
  RETURN_IF_ERROR(w->Close());
  return f;
}

std::optional<ServerView> ServerOf(Client& c, int id) {
  auto st = c.ClusterStatus();
  if (!st.ok()) return std::nullopt;
  for (const ServerView& s : st->servers) {
    if (s.server_id == id) return s;
  }
  return std::nullopt;
}

// Replica rows of `server` among the chunks of `files`, and whether every
// chunk has `goal` live current replicas elsewhere.
struct Placement {
  int on_server = 0;
  bool at_goal_elsewhere = true;
};
Placement PlacementOf(Client& c, const std::vector<Written>& files, int server, int goal) {
  Placement p;
  for (const Written& f : files) {
    auto chunks = c.Chunks(f.inode);
    if (!chunks.ok()) return Placement{-1, false};
    for (const ChunkView& ch : *chunks) {
      int elsewhere = 0;
      for (const ReplicaView& r : ch.replicas) {
        if (r.server_id == server) {
          ++p.on_server;
        } else if (r.current && r.alive) {
          ++elsewhere;
        }
      }
      if (elsewhere != goal) p.at_goal_elsewhere = false;
    }
  }
  return p;
}

void ExpectReadsBack(Client& c, const std::vector<Written>& files) {
  for (const Written& f : files) {
    for (size_t i = 0; i < f.pieces.size(); ++i) {
      auto got = ReadRange(c, f.inode, i * kChunkSize, f.pieces[i].size());
      ASSERT_TRUE(got.ok()) << "inode " << f.inode << " piece " << i << ": " << got.status();
      EXPECT_TRUE(*got == f.pieces[i]) << FirstDifference(*got, f.pieces[i]);
    }
  }
}

TEST(DrainTest, DrainMovesEveryChunkOffAndRemoveRefusesUntilDone) {
  ClusterOptions o;
  o.chunk_servers = 4;
  o.heartbeat_timeout_ms = 1000;
  o.metaserver_args = {"--repair-interval-ms", "200"};
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto c = cluster->NewClient();
  ASSERT_TRUE(c);

  std::vector<Written> files;
  for (int i = 0; i < 4; ++i) {
    auto f = WriteSparse(*c, "f" + std::to_string(i), 3, static_cast<uint64_t>(i + 1));
    ASSERT_TRUE(f.ok()) << f.status();
    files.push_back(std::move(*f));
  }
  // The server holding the most replicas.
  int victim = 0, most = -1;
  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    const int id = cluster->chunk_server_id(i);
    const int n = PlacementOf(*c, files, id, 2).on_server;
    if (n > most) {
      most = n;
      victim = id;
    }
  }
  ASSERT_GT(most, 0);
  const int victim_index = IndexOfServer(*cluster, victim);

  // Running, not drained: refused.
  Status early = c->RemoveServer(victim);
  EXPECT_EQ(early.code(), ErrorCode::kBusy) << early;

  auto left = c->DrainServer(victim, true);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, most);
  auto sv = ServerOf(*c, victim);
  ASSERT_TRUE(sv);
  EXPECT_TRUE(sv->draining);

  // New chunks never go to it.
  std::vector<Written> fresh;
  for (int i = 0; i < 3; ++i) {
    auto f = WriteSparse(*c, "new" + std::to_string(i), 2, static_cast<uint64_t>(50 + i));
    ASSERT_TRUE(f.ok()) << f.status();
    fresh.push_back(std::move(*f));
  }
  EXPECT_EQ(PlacementOf(*c, fresh, victim, 2).on_server, 0) << "a draining server got a new chunk";

  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = ServerOf(*c, victim);
        return s && s->drain_chunks_left == 0;
      },
      kWait))
      << "drain did not finish: " << ServerOf(*c, victim).value_or(ServerView{}).drain_chunks_left
      << " chunks left";
  Placement p = PlacementOf(*c, files, victim, 2);
  EXPECT_EQ(p.on_server, 0);
  EXPECT_TRUE(p.at_goal_elsewhere) << "a chunk is not at goal on the other servers";
  ExpectReadsBack(*c, files);
  // Its files are deleted (heartbeat replies): none of the chunks is left.
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const Written& f : files) {
          auto chunks = c->Chunks(f.inode);
          if (!chunks.ok()) return false;
          for (const ChunkView& ch : *chunks) {
            if (!FindChunkFile(cluster->chunk_data_dir(victim_index), ch.chunk_id).empty()) {
              return false;
            }
          }
        }
        return true;
      },
      kWait));
  // ddbfs status says so.
  auto status = RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "status"});
  EXPECT_NE(status.out.find("drain: server " + std::to_string(victim) + ": 0 chunks left"),
            std::string::npos)
      << status.out;

  auto list =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "server", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  bool listed = false;
  for (size_t at = 0, end; (end = list.out.find('\n', at)) != std::string::npos; at = end + 1) {
    const std::string line = list.out.substr(at, end - at);
    if (line.rfind(std::to_string(victim) + " ", 0) == 0) {
      listed = line.find("alive") != std::string::npos &&
               line.find("0 chunks left") != std::string::npos;
    }
  }
  EXPECT_TRUE(listed) << list.out;

  // Drained but running: still refused.
  EXPECT_EQ(c->RemoveServer(victim).code(), ErrorCode::kBusy);

  // A restart keeps it drained (the flag is in the database).
  cluster->KillChunkServer(victim_index);
  cluster->StartChunkServer(victim_index);
  ASSERT_TRUE(cluster->WaitForAliveServers(4, 20000));
  sv = ServerOf(*c, victim);
  ASSERT_TRUE(sv);
  EXPECT_TRUE(sv->draining) << "a drained server that restarts is drained still";
  auto after = WriteSparse(*c, "after-restart", 2, 99);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(PlacementOf(*c, {*after}, victim, 2).on_server, 0);

  // Stopped and empty: removed, and gone from the list.
  cluster->KillChunkServer(victim_index);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 20000));
  auto removed = RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "server",
                             "remove", std::to_string(victim)});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(ServerOf(*c, victim).has_value());
  ExpectReadsBack(*c, files);
  ExpectReadsBack(*c, fresh);
  EXPECT_EQ(c->RemoveServer(victim).code(), ErrorCode::kNotFound);
}

TEST(DrainTest, RemoveRefusesAServerHoldingTheOnlyCopyAndUndrainCountsItAgain) {
  ClusterOptions o;
  o.chunk_servers = 3;
  o.heartbeat_timeout_ms = 1000;
  o.metaserver_args = {"--repair-interval-ms", "200"};
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto c = cluster->NewClient();
  ASSERT_TRUE(c);

  // Goal 1: one copy of each chunk.
  auto made = c->Create(kRootInode, "single", 0644);
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(c->SetGoal(made->inode, 1).ok());
  auto w = c->OpenWriter(made->inode);
  ASSERT_TRUE(w.ok());
  const std::string data = Bytes(16 * kKiB, 7);
  ASSERT_TRUE(WriteAt(**w, 0, data).ok());
  ASSERT_TRUE((*w)->Sync().ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto chunks = c->Chunks(made->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 1);
  ASSERT_EQ(chunks->front().replicas.size(), 1u);
  const int holder = chunks->front().replicas.front().server_id;
  const int holder_index = IndexOfServer(*cluster, holder);

  cluster->KillChunkServer(holder_index);
  ASSERT_TRUE(cluster->WaitForAliveServers(2, 20000));
  Status s = c->RemoveServer(holder);
  EXPECT_EQ(s.code(), ErrorCode::kNotEmpty) << s;
  EXPECT_NE(s.message().find("1 of them the only copy"), std::string::npos) << s;
  auto cli = RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "server",
                         "remove", std::to_string(holder)});
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
  EXPECT_NE(cli.err.find("drain it first"), std::string::npos) << cli.err;

  // Back, drained: its only copy is copied away first, then dropped.
  cluster->StartChunkServer(holder_index);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 20000));
  ASSERT_TRUE(c->DrainServer(holder, true).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto ch = c->Chunks(made->inode);
        if (!ch.ok() || ch->size() != 1) return false;
        const auto& r = ch->front().replicas;
        return r.size() == 1 && r.front().server_id != holder && r.front().current &&
               r.front().alive;
      },
      kWait));
  auto got = ReadAll(*c, made->inode);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);

  // Undrain: it takes new chunks again.
  auto undrain = RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "server",
                             "undrain", std::to_string(holder)});
  EXPECT_EQ(undrain.exit_code, 0) << undrain.err;
  EXPECT_EQ(undrain.out,
            "server " + std::to_string(holder) + " no longer draining (0 chunks on it)\n");
  auto sv = ServerOf(*c, holder);
  ASSERT_TRUE(sv);
  EXPECT_FALSE(sv->draining);
  std::set<int> used;
  for (int i = 0; i < 8 && !used.count(holder); ++i) {
    auto f = WriteSparse(*c, "u" + std::to_string(i), 1, static_cast<uint64_t>(200 + i));
    ASSERT_TRUE(f.ok()) << f.status();
    auto ch = c->Chunks(f->inode);
    ASSERT_TRUE(ch.ok());
    for (const ReplicaView& r : ch->front().replicas) used.insert(r.server_id);
  }
  EXPECT_TRUE(used.count(holder)) << "an undrained server gets new chunks again";
}

}  // namespace
}  // namespace ddbfs::testing
