// The repair's trimming and target choice on fake servers (no chunk server
// process): which replicas over goal go, and which never do. Copies are
// tested end to end in tests/integration/repair_test.cc.

#include <random>
#include <set>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/placement.h"
#include "metaserver/ops/repairer.h"

namespace ddbfs::meta::testing {
namespace {

class RepairTrimTest : public MetaTest {
 protected:
  // Chunk `index` of `inode` at `version` with a replica row at that version
  // on each of `servers`, written straight into the tables.
  int64_t PutChunk(InodeId inode, int64_t index, int64_t version,
                   const std::vector<int32_t>& servers) {
    const std::string v = std::to_string(version);
    int64_t id = QueryInt(
        "INSERT INTO ddbfs.chunks (id, inode, idx, version, length, pending_version)"
        " VALUES (nextval('ddbfs.chunk_ids'), " +
        std::to_string(inode) + ", " + std::to_string(index) + ", " + v + ", 10, " + v +
        ") RETURNING id");
    for (int32_t server : servers) {
      QueryInt("INSERT INTO ddbfs.replicas (chunk_id, server_id, version) VALUES (" +
               std::to_string(id) + ", " + std::to_string(server) + ", " + v +
               ") RETURNING chunk_id");
    }
    return id;
  }
  std::set<int64_t> Holders(int64_t chunk) {
    std::set<int64_t> out;
    for (int32_t s : servers_) {
      if (QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE chunk_id = " + std::to_string(chunk) +
                   " AND server_id = " + std::to_string(s)) > 0) {
        out.insert(s);
      }
    }
    return out;
  }
  int64_t Queued(int64_t chunk) {
    return QueryInt("SELECT count(*) FROM ddbfs.gc_queue WHERE chunk_id = " +
                    std::to_string(chunk));
  }
  std::vector<int32_t> servers_;
};

TEST_F(RepairTrimTest, ExtraReplicasAreTrimmedKeepingDistinctHosts) {
  const int32_t a1 = AddServer("ua1", "hostA");
  const int32_t a2 = AddServer("ua2", "hostA");
  const int32_t b = AddServer("ub", "hostB");
  servers_ = {a1, a2, b};
  Attr f = MustCreate(kRootInode, "f");  // goal 2
  const int64_t over = PutChunk(f.inode, 0, 3, {a1, a2, b});
  const int64_t at_goal = PutChunk(f.inode, 1, 1, {a1, b});
  Repairer repairer(ctx(), RepairOptions{});
  repairer.Pass();
  std::set<int64_t> kept = Holders(over);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_TRUE(kept.count(b)) << "the only replica on hostB was dropped";
  EXPECT_EQ(Queued(over), 1) << "the dropped replica is not queued for deletion";
  EXPECT_EQ(Holders(at_goal), (std::set<int64_t>{a1, b}));
  EXPECT_EQ(Queued(at_goal), 0);
  EXPECT_EQ(repairer.stats().trimmed, 1);
  auto st = ClusterStatus(ctx());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->counts.chunks_over_goal, 0);
}

// The trim keeps the least used servers (bytes of replicas / capacity, as
// reported), not the most free bytes (docs/repair.md, "Rebalancing"), and
// still distinct hosts first.
TEST_F(RepairTrimTest, TheMostUsedReplicaGoesByUsageFractionWithinTheHostRule) {
  constexpr int64_t kMiB = 1 << 20;
  const int32_t a = AddServer("ua", "hostA");
  const int32_t a2 = AddServer("ua2", "hostA");
  const int32_t b = AddServer("ub", "hostB");
  const int32_t c = AddServer("uc", "hostC");
  servers_ = {a, a2, b, c};
  ctx().servers.Heartbeat(a, 1000 * kMiB, 500 * kMiB, 1);    // 50 %, 500 MiB free
  ctx().servers.Heartbeat(a2, 1000 * kMiB, 100 * kMiB, 1);   // 10 %
  ctx().servers.Heartbeat(b, 100 * kMiB, 60 * kMiB, 1);      // 60 %, 40 MiB free
  ctx().servers.Heartbeat(c, 10000 * kMiB, 9000 * kMiB, 1);  // 90 %, the most free bytes
  Attr f = MustCreate(kRootInode, "f");                      // goal 2
  // Three hosts: the 90 % one goes, though it has the most free space.
  const int64_t three_hosts = PutChunk(f.inode, 0, 1, {a, b, c});
  // Two replicas on hostA and one on hostC: hostC stays (distinct hosts
  // first) though most used, and of hostA the less used one.
  const int64_t shared_host = PutChunk(f.inode, 1, 1, {a, a2, c});
  Repairer repairer(ctx(), RepairOptions{});
  repairer.Pass();
  EXPECT_EQ(Holders(three_hosts), (std::set<int64_t>{a, b}));
  EXPECT_EQ(Holders(shared_host), (std::set<int64_t>{a2, c}));
  EXPECT_EQ(repairer.stats().trimmed, 2);
}

TEST_F(RepairTrimTest, NothingIsTrimmedUnderALeaseOrOnUnconfirmedInventories) {
  const int32_t a = AddServer("ua", "hostA");
  const int32_t b = AddServer("ub", "hostB");
  // c registered with a paged inventory that never came: its rows are not
  // confirmed.
  RegisterArgs paged;
  paged.host = "127.0.0.1";
  paged.port = 29999;
  paged.label = "hostC";
  paged.uuid = "uc";
  paged.capacity_bytes = 1ll << 40;
  paged.paged_inventory = true;
  paged.chunk_count = 1;
  auto c = RegisterServer(ctx(), paged);
  ASSERT_TRUE(c.ok()) << c.status();
  servers_ = {a, b, c->server_id};
  Attr f = MustCreate(kRootInode, "f");
  const int64_t unconfirmed = PutChunk(f.inode, 0, 1, {a, b, c->server_id});
  const int64_t leased = PutChunk(f.inode, 1, 1, {a, b});
  // A third replica of a chunk being written (as pipeline recovery adds).
  QueryInt(
      "UPDATE ddbfs.chunks SET lease_id = 77, lease_expires_ms = 9e15, pending_version = 2"
      " WHERE id = " +
      std::to_string(leased) + " RETURNING id");
  const int32_t d = AddServer("ud", "hostD");
  servers_.push_back(d);
  QueryInt("INSERT INTO ddbfs.replicas (chunk_id, server_id, version) VALUES (" +
           std::to_string(leased) + ", " + std::to_string(d) + ", 1) RETURNING chunk_id");
  Repairer repairer(ctx(), RepairOptions{});
  repairer.Pass();
  EXPECT_EQ(Holders(unconfirmed), (std::set<int64_t>{a, b, c->server_id}));
  EXPECT_EQ(Holders(leased), (std::set<int64_t>{a, b, d}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 0);
  EXPECT_EQ(repairer.stats().trimmed, 0);
}

TEST(RepairPlacementTest, TakenLabelsComeLast) {
  std::mt19937_64 rng(1);
  std::vector<PlacementCandidate> c = {
      {1, "hostA", 900, ""}, {2, "hostB", 100, ""}, {3, "hostA", 800, ""}};
  // The chunk's live replica is on hostA: hostB first despite less space.
  EXPECT_EQ(ChoosePlacement(c, 1, rng, {"hostA"}), std::vector<int32_t>{2});
  EXPECT_EQ(ChoosePlacement(c, 2, rng, {"hostA"}), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(ChoosePlacement(c, 1, rng, {"hostA", "hostB"}), std::vector<int32_t>{1});
}

}  // namespace
}  // namespace ddbfs::meta::testing
