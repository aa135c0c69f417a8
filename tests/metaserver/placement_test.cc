#include <map>
#include <set>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"
#include "metaserver/ops/placement.h"
#include "metaserver/ops/server_registry.h"
#include "process.h"

namespace ddbfs::meta::testing {
namespace {

TEST(PlacementTest, DistinctLabelsComeBeforeDistinctServers) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) {
    std::vector<PlacementCandidate> c = {{1, "a", 500, ""}, {2, "a", 400, ""}, {3, "b", 100, ""}};
    std::vector<int32_t> two = ChoosePlacement(c, 2, rng);
    EXPECT_EQ(std::set<int32_t>(two.begin(), two.end()), (std::set<int32_t>{1, 3}));
    std::vector<int32_t> three = ChoosePlacement(c, 3, rng);
    EXPECT_EQ(std::set<int32_t>(three.begin(), three.end()), (std::set<int32_t>{1, 2, 3}));
    EXPECT_EQ(ChoosePlacement(c, 5, rng).size(), 3u);
  }
}

TEST(PlacementTest, MostFreeSpaceFirstWithRandomTies) {
  std::mt19937_64 rng(2);
  std::vector<PlacementCandidate> c = {{1, "x", 100, ""}, {2, "y", 300, ""}, {3, "z", 200, ""}};
  EXPECT_EQ(ChoosePlacement(c, 1, rng), std::vector<int32_t>{2});
  EXPECT_EQ(ChoosePlacement(c, 2, rng), (std::vector<int32_t>{2, 3}));
  std::vector<PlacementCandidate> tie = {{1, "x", 100, ""}, {2, "y", 100, ""}};
  std::map<int32_t, int> picked;
  for (int i = 0; i < 200; ++i) ++picked[ChoosePlacement(tie, 1, rng).at(0)];
  EXPECT_GT(picked[1], 20);
  EXPECT_GT(picked[2], 20);
  EXPECT_TRUE(ChoosePlacement({}, 2, rng).empty());
}

TEST(PlacementTest, DistinctRacksComeAfterDistinctHostsBeforeTheRest) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 50; ++i) {
    // Two racks; r1 has the most free space.
    std::vector<PlacementCandidate> c = {
        {1, "h1", 900, "r1"}, {2, "h2", 800, "r1"}, {3, "h3", 100, "r2"}, {4, "h4", 50, "r2"}};
    EXPECT_EQ(ChoosePlacement(c, 2, rng), (std::vector<int32_t>{1, 3}));
    EXPECT_EQ(ChoosePlacement(c, 3, rng), (std::vector<int32_t>{1, 3, 2}));
    // A replica already on r1 (host h1): the copy goes to r2.
    EXPECT_EQ(ChoosePlacement(c, 1, rng, {"h1"}, {PlacementRackKey("h1", "r1")}),
              std::vector<int32_t>{3});
    // Hosts first: h1 twice (on two racks) loses to h1 and h2 on one rack.
    std::vector<PlacementCandidate> d = {
        {1, "h1", 900, "r1"}, {2, "h1", 800, "r2"}, {3, "h2", 100, "r1"}};
    EXPECT_EQ(ChoosePlacement(d, 2, rng), (std::vector<int32_t>{1, 3}));
  }
  // Without rack labels each host is a rack of its own: as by hosts alone.
  EXPECT_EQ(PlacementRackKey("h1", ""), PlacementRackKey("h1", ""));
  EXPECT_NE(PlacementRackKey("h1", ""), PlacementRackKey("h2", ""));
  EXPECT_NE(PlacementRackKey("x", ""), PlacementRackKey("y", "x"));
}

TEST(PlacementTest, TheTrimKeepsDistinctHostsAndRacks) {
  auto key = [](const std::string& host, const std::string& rack) {
    return std::make_pair(host, PlacementRackKey(host, rack));
  };
  // In order of free space: r1, r1, r2. Goal 2 keeps one of each rack.
  EXPECT_EQ(ChooseKept({key("h1", "r1"), key("h2", "r1"), key("h3", "r2")}, 2),
            (std::vector<size_t>{0, 2}));
  // Hosts before racks, then the rest in order.
  EXPECT_EQ(ChooseKept({key("h1", "r1"), key("h1", "r2"), key("h2", "r1")}, 2),
            (std::vector<size_t>{0, 2}));
  EXPECT_EQ(ChooseKept({key("h1", ""), key("h1", ""), key("h2", "")}, 3),
            (std::vector<size_t>{0, 2, 1}));
  EXPECT_EQ(ChooseKept({key("h1", "")}, 2), (std::vector<size_t>{0}));
}

store::ServerRecord Record(int32_t id, const std::string& label) {
  store::ServerRecord r;
  r.id = id;
  r.uuid = "u" + std::to_string(id);
  r.host = "127.0.0.1";
  r.port = 9000 + id;
  r.label = label;
  r.capacity_bytes = 1ll << 40;
  return r;
}

TEST(ServerRegistryTest, HeartbeatsKeepServersAliveInMemory) {
  ServerRegistry reg(std::chrono::milliseconds(1000), std::chrono::milliseconds(0));
  EXPECT_FALSE(reg.Heartbeat(1, 1, 0, 0).known);
  reg.Load({Record(1, "a")});
  EXPECT_FALSE(reg.Heartbeat(1, 1, 0, 0).known);  // known from the database only
  EXPECT_FALSE(reg.IsAlive(1));
  reg.Registered(Record(1, "a"));
  EXPECT_TRUE(reg.IsAlive(1));
  auto hb = reg.Heartbeat(1, 1ll << 40, 5, 7);
  EXPECT_TRUE(hb.known);
  EXPECT_TRUE(hb.flush_due);  // flush interval 0
  EXPECT_EQ(reg.Get(1)->record.chunk_count, 7);
  EXPECT_TRUE(ddbfs::testing::WaitFor([&] { return !reg.IsAlive(1); }, std::chrono::seconds(5)));
  EXPECT_FALSE(reg.Get(1)->alive);
  EXPECT_TRUE(reg.AliveIds().empty());
  EXPECT_TRUE(reg.Heartbeat(1, 1ll << 40, 5, 7).known);
  EXPECT_TRUE(reg.IsAlive(1));

  ServerRegistry slow(std::chrono::seconds(10));
  slow.Registered(Record(2, "b"));
  EXPECT_FALSE(slow.Heartbeat(2, 1, 0, 0).flush_due);  // flushed at registration
  EXPECT_EQ(slow.heartbeat_interval_ms(), 2500);
  EXPECT_EQ(ServerRegistry(std::chrono::milliseconds(100)).heartbeat_interval_ms(), 200);
}

TEST(ServerRegistryTest, ChunksPlacedBetweenHeartbeatsSpreadOut) {
  ServerRegistry reg(std::chrono::seconds(60));
  for (int32_t id : {1, 2, 3}) reg.Registered(Record(id, "l" + std::to_string(id)));
  std::set<int32_t> chosen;
  for (int i = 0; i < 3; ++i) {
    auto one = reg.ChooseServers(1, {});
    ASSERT_EQ(one.size(), 1u);
    chosen.insert(one[0]);
  }
  EXPECT_EQ(chosen.size(), 3u);
  EXPECT_EQ(reg.ChooseServers(3, {2}).size(), 2u);
}

}  // namespace
}  // namespace ddbfs::meta::testing
