// The rebalancing planner (metaserver/ops/rebalance.h, docs/repair.md,
// "Rebalancing"): usage projected after each move, the margin, the choice
// of chunk and target, host and rack spread, no overshoot.

#include <gtest/gtest.h>

#include "metaserver/ops/rebalance.h"

namespace ddbfs::meta::testing {
namespace {

constexpr int64_t kMiB = 1 << 20;

BalanceServer Server(int32_t id, int64_t used_mib, std::string host = "",
                     int64_t capacity_mib = 1000) {
  BalanceServer s;
  s.id = id;
  s.host = host.empty() ? "h" + std::to_string(id) : host;
  s.rack = s.host;  // no racks: each host its own
  s.capacity_bytes = capacity_mib * kMiB;
  s.used_bytes = used_mib * kMiB;
  return s;
}

BalanceChunk Chunk(int64_t id, int64_t mib, std::vector<int32_t> live) {
  BalanceChunk c;
  c.id = id;
  c.version = 1;
  c.length = mib * kMiB;
  c.live = live;
  c.holders = live;
  return c;
}

TEST(RebalancePlanTest, UsageAndGap) {
  EXPECT_DOUBLE_EQ(UsageOf(Server(1, 250)), 0.25);
  EXPECT_DOUBLE_EQ(UsageOf(Server(1, 10, "", 0)), 1.0);  // no capacity: full
  EXPECT_DOUBLE_EQ(UsageGapPct({Server(1, 300), Server(2, 100), Server(3, 200)}), 20.0);
  EXPECT_DOUBLE_EQ(UsageGapPct({Server(1, 300)}), 0.0);
  // Usage is a fraction of each server's own capacity.
  EXPECT_DOUBLE_EQ(UsageGapPct({Server(1, 100, "", 1000), Server(2, 200, "", 2000)}), 0.0);
}

TEST(RebalancePlanTest, MovesFromTheMostUsedToTheEmptyOneUntilWithinTheMargin) {
  // 300, 300, 300 MiB of 1000; a new empty server. 10 MiB chunks on 1.
  std::vector<BalanceServer> servers = {Server(1, 300), Server(2, 290), Server(3, 280),
                                        Server(4, 0)};
  std::vector<BalanceChunk> chunks;
  for (int i = 0; i < 40; ++i) chunks.push_back(Chunk(100 + i, 10, {1, 2 + i % 2}));
  std::vector<BalanceMove> moves = PlanRebalance(servers, chunks, 1, 5, 100);
  // Server 1 goes from 30 % down while it is the most used: it stops being
  // the most used once it is below server 2 (29 %), after two moves.
  ASSERT_EQ(moves.size(), 2u);
  for (const BalanceMove& m : moves) {
    EXPECT_EQ(m.source, 1);
    EXPECT_EQ(m.target, 4);
    EXPECT_EQ(m.length, 10 * kMiB);
  }
  EXPECT_EQ(moves[0].chunk_id, 100);
  EXPECT_EQ(moves[1].chunk_id, 101);
  // At most max_moves.
  EXPECT_EQ(PlanRebalance(servers, chunks, 1, 5, 1).size(), 1u);
  // Not the most used: another server's turn.
  EXPECT_TRUE(PlanRebalance(servers, chunks, 2, 5, 100).empty());
}

TEST(RebalancePlanTest, NothingWithinTheMargin) {
  std::vector<BalanceServer> servers = {Server(1, 300), Server(2, 260)};
  std::vector<BalanceChunk> chunks = {Chunk(1, 10, {1}), Chunk(2, 10, {1})};
  EXPECT_TRUE(PlanRebalance(servers, chunks, 1, 5, 10).empty());   // 4 points
  EXPECT_EQ(PlanRebalance(servers, chunks, 1, 3, 10).size(), 1u);  // 3 points: one move, then 2
  // Stops when the projected gap is within the margin: 30 % vs 0 %, margin
  // 5: moves of 10 MiB (1 point) until 30-k vs k is within 5: 13 moves.
  std::vector<BalanceChunk> many;
  for (int i = 0; i < 40; ++i) many.push_back(Chunk(i + 1, 10, {1}));
  std::vector<BalanceMove> m = PlanRebalance({Server(1, 300), Server(2, 0)}, many, 1, 5, 100);
  EXPECT_EQ(m.size(), 13u);
}

TEST(RebalancePlanTest, NoOvershootIntoAReverseMove) {
  // One 200 MiB chunk from 30 % to 20 %: the target would end at 40 %,
  // more than the source was: never moved. A 40 MiB one is.
  std::vector<BalanceServer> servers = {Server(1, 300), Server(2, 200)};
  EXPECT_TRUE(PlanRebalance(servers, {Chunk(1, 200, {1})}, 1, 5, 10).empty());
  // 30/20 -> 26/24: narrower.
  EXPECT_EQ(PlanRebalance(servers, {Chunk(1, 200, {1}), Chunk(2, 40, {1})}, 1, 1, 10).size(), 1u);
  // No room on the target (a source past its capacity - it shrank - would
  // otherwise send it there: 150 % vs 42 %, 125 % after).
  EXPECT_TRUE(
      PlanRebalance({Server(1, 150, "", 100), Server(2, 5, "", 12)}, {Chunk(1, 10, {1})}, 1, 5, 10)
          .empty());
  EXPECT_EQ(
      PlanRebalance({Server(1, 150, "", 100), Server(2, 5, "", 16)}, {Chunk(1, 10, {1})}, 1, 5, 10)
          .size(),
      1u);
}

TEST(RebalancePlanTest, HostSpreadStaysAsGoodAndHoldersAreSkipped) {
  // Chunk on 1 (host a) and 2 (host b); server 3 is on host b, server 4 on
  // host c. Moving to 3 would put both replicas on host b: 4 is chosen
  // though 3 is less used.
  std::vector<BalanceServer> servers = {Server(1, 300, "a"), Server(2, 200, "b"), Server(3, 0, "b"),
                                        Server(4, 100, "c")};
  std::vector<BalanceMove> m = PlanRebalance(servers, {Chunk(7, 10, {1, 2})}, 1, 5, 1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].target, 4);
  // A server holding something of the chunk (a stale row, a queued
  // deletion) never gets it.
  BalanceChunk held = Chunk(7, 10, {1, 2});
  held.holders = {1, 2, 4};
  EXPECT_TRUE(PlanRebalance(servers, {held}, 1, 5, 1).empty());
  // A chunk whose replicas already share a host may move to the other
  // server of that host only if the spread does not get worse: 1 and 2 on
  // host a, target 3 on host a too - as good (one host), allowed.
  std::vector<BalanceServer> one_host = {Server(1, 300, "a"), Server(2, 200, "a"),
                                         Server(3, 0, "a")};
  EXPECT_EQ(PlanRebalance(one_host, {Chunk(8, 10, {1, 2})}, 1, 5, 1).size(), 1u);
}

TEST(RebalancePlanTest, RacksStayAsSpread) {
  // Replicas on rack r1 (server 1) and r2 (server 2); the empty server 3 is
  // on rack r2 (another host): moving 1's replica there leaves one rack.
  std::vector<BalanceServer> servers = {Server(1, 300, "a"), Server(2, 100, "b"), Server(3, 0, "c"),
                                        Server(4, 50, "d")};
  servers[0].rack = "r1";
  servers[1].rack = "r2";
  servers[2].rack = "r2";
  servers[3].rack = "r3";
  std::vector<BalanceMove> m = PlanRebalance(servers, {Chunk(9, 10, {1, 2})}, 1, 5, 1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].target, 4);
}

TEST(RebalancePlanTest, ANextServerGivesWhenTheMostUsedCannot) {
  // The most used server (rack r1) holds chunks whose other replica is on
  // rack r2, where the new server is: moving them would leave one rack.
  // The next one (r2) can give to the new server (r2) without losing a
  // rack, while it is more than the margin above it.
  std::vector<BalanceServer> servers = {Server(1, 300, "a"), Server(2, 250, "b"),
                                        Server(3, 0, "c")};
  servers[0].rack = "r1";
  servers[1].rack = "r2";
  servers[2].rack = "r2";
  std::vector<BalanceChunk> chunks;
  for (int i = 0; i < 40; ++i) chunks.push_back(Chunk(i + 1, 10, {1, 2}));
  EXPECT_TRUE(PlanRebalance(servers, chunks, 1, 5, 100).empty());
  EXPECT_TRUE(PlanRebalance(servers, chunks, 2, 5, 100).empty());  // not the most used
  std::vector<BalanceMove> m = PlanRebalance(servers, chunks, 2, 5, 100, /*fallback=*/true);
  // 25 % vs 0 %: until 2 is within 5 points of 3 (15 % vs 10 %).
  ASSERT_EQ(m.size(), 10u);
  for (const BalanceMove& move : m) {
    EXPECT_EQ(move.source, 2);
    EXPECT_EQ(move.target, 3);
  }
}

}  // namespace
}  // namespace ddbfs::meta::testing
