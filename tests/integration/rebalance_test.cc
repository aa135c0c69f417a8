// Rebalancing end to end (docs/repair.md, "Rebalancing"): three chunk
// servers with a small --capacity-gib hold some files at goal 2, a fourth,
// empty one joins, and the repair moves chunks to it until every server's
// usage (bytes of replicas / capacity) is within the margin - each chunk at
// its goal on distinct servers the whole time, every byte still there. And
// when the new server is killed in the middle of the moves, nothing is lost
// and the repair brings every chunk back to its goal. Real PostgreSQL,
// metaserver and chunk server processes.

#include <atomic>
#include <chrono>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/constants.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr size_t kMiB = 1 << 20;
constexpr int kFiles = 30;
constexpr int kMargin = 5;

struct Stored {
  InodeId inode = 0;
  std::string data;
};

ClusterOptions RebalanceCluster(int repair_mib_per_s) {
  ClusterOptions o;
  o.chunk_servers = 3;
  o.heartbeat_timeout_ms = 1000;
  // No idle-scan safety net within the test: a new server must start the
  // rebalancing by itself, and moves must keep the passes going.
  o.metaserver_args = {"--repair-idle-scan-ms",  "600000",
                       "--repair-interval-ms",   "200",
                       "--rebalance-margin-pct", std::to_string(kMargin),
                       "--repair-mib-per-s",     std::to_string(repair_mib_per_s)};
  // 256 MiB each: a few dozen MiB of replicas make a usage of some percent.
  o.chunkserver_args = {"--capacity-gib", "0.25"};
  return o;
}

// kFiles files of 1-3 MiB (one chunk each), goal 2 (the cluster default).
std::vector<Stored> WriteFiles(Client& c) {
  std::vector<Stored> files;
  for (int i = 0; i < kFiles; ++i) {
    Stored f;
    f.data = Bytes((1 + static_cast<size_t>(i % 3)) * kMiB + static_cast<size_t>(i) * 4096,
                   static_cast<uint64_t>(i + 1));
    auto a = PutFile(c, "f" + std::to_string(i), f.data);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return {};
    f.inode = a->inode;
    files.push_back(std::move(f));
  }
  return files;
}

// Chunks of `files` with fewer than `goal` live current replicas on
// distinct host labels ("" when none) - except chunks with a replica row on
// server `excused` (one that was killed) -, and chunks with none at all.
struct Health {
  std::string below_goal;
  int lost = 0;
};
Health HealthOf(Client& c, const std::vector<Stored>& files, int goal, int excused = -1) {
  Health h;
  for (const Stored& f : files) {
    auto chunks = c.Chunks(f.inode);
    if (!chunks.ok()) {
      h.below_goal = "cannot list the chunks of inode " + std::to_string(f.inode) + ": " +
                     chunks.status().ToString();
      return h;
    }
    for (const ChunkView& ch : *chunks) {
      std::set<std::string> hosts;
      bool on_excused = false;
      for (const ReplicaView& r : ch.replicas) {
        if (r.current && r.alive) hosts.insert(r.label);
        on_excused = on_excused || r.server_id == excused;
      }
      if (hosts.empty()) ++h.lost;
      if (static_cast<int>(hosts.size()) < goal && !on_excused && h.below_goal.empty()) {
        h.below_goal = "chunk " + std::to_string(ch.chunk_id) + " has " +
                       std::to_string(hosts.size()) + " live replicas on distinct hosts";
      }
    }
  }
  return h;
}

// Samples HealthOf every 100 ms on a client of its own until destroyed (or
// finish()); the first violation (below goal but for `excused`, or a chunk
// lost) is kept.
class Sampler {
 public:
  Sampler(TestCluster& cluster, const std::vector<Stored>& files) {
    thread_ = std::thread([this, &cluster, &files] {
      auto c = cluster.NewClient();
      if (!c) return;
      while (!stop_.load()) {
        Health h = HealthOf(*c, files, 2, excused_.load());
        ++samples_;
        if (!h.below_goal.empty() || h.lost > 0) {
          violation_ = h.below_goal + (h.lost > 0 ? ", lost " + std::to_string(h.lost) : "");
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~Sampler() { finish(); }
  void excuse(int server_id) { excused_ = server_id; }
  // Stops sampling; then violation() and samples() may be read.
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::string& violation() const { return violation_; }
  int samples() const { return samples_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> excused_{-1};
  std::atomic<int> samples_{0};
  std::string violation_;
  std::thread thread_;
};

// Usage of each alive server, as reported, for messages.
std::string Usages(const ClusterView& st) {
  std::string out;
  for (const ServerView& s : st.servers) {
    if (!s.alive || s.capacity_bytes == 0) continue;
    char line[64];
    std::snprintf(
        line, sizeof line, "server %d: %.1f%% ", s.server_id,
        100.0 * static_cast<double>(s.used_bytes) / static_cast<double>(s.capacity_bytes));
    out += line;
  }
  return out + "(gap " + std::to_string(st.rebalance_gap_pct) + ", moved " +
         std::to_string(st.rebalance_chunks_moved) + ", in flight " +
         std::to_string(st.rebalance_moves_in_flight) + ")";
}

void ExpectReadsBack(Client& c, const std::vector<Stored>& files) {
  for (const Stored& f : files) {
    auto got = ReadAll(c, f.inode);
    ASSERT_TRUE(got.ok()) << "inode " << f.inode << ": " << got.status();
    EXPECT_TRUE(*got == f.data) << "inode " << f.inode << ": " << FirstDifference(*got, f.data);
  }
}

TEST(RebalanceTest, NewEmptyServerFillsUntilUsageIsEvenWithinTheMargin) {
  auto cluster = TestCluster::Start(RebalanceCluster(64));
  ASSERT_TRUE(cluster);
  auto c = cluster->NewClient();
  ASSERT_TRUE(c);
  const std::vector<Stored> files = WriteFiles(*c);
  ASSERT_EQ(files.size(), static_cast<size_t>(kFiles));
  {
    auto st = c->ClusterStatus();
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->rebalance_chunks_moved, 0) << Usages(*st);
  }

  // Sampled all along: every chunk at its goal on distinct hosts.
  Sampler sampler(*cluster, files);

  const int added = cluster->AddChunkServer();
  ASSERT_EQ(added, 3);
  ASSERT_TRUE(cluster->WaitForAliveServers(4, 30000));
  const int new_id = cluster->chunk_server_id(added);
  ClusterView last;
  const bool even = WaitFor(
      [&] {
        auto st = c->ClusterStatus();
        if (!st.ok()) return false;
        last = *st;
        return st->rebalance_chunks_moved > 0 && st->rebalance_moves_in_flight == 0 &&
               st->rebalance_gap_pct <= kMargin && st->chunks_over_goal == 0 &&
               st->pending_deletions == 0;
      },
      std::chrono::seconds(60));
  sampler.finish();
  ASSERT_TRUE(even) << "usage not even within " << kMargin << " points: " << Usages(last);
  std::cout << "even: " << Usages(last) << ", " << sampler.samples() << " samples at goal"
            << std::endl;
  EXPECT_EQ(sampler.violation(), "");
  EXPECT_GT(sampler.samples(), 3);

  auto st = c->ClusterStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_GT(st->rebalance_bytes_moved, 0);
  EXPECT_EQ(st->rebalance_margin_pct, kMargin);
  for (const ServerView& s : st->servers) {
    if (s.server_id == new_id) {
      EXPECT_GT(s.chunks, 0);
      EXPECT_GT(s.used_bytes, 0u);
    }
  }
  EXPECT_EQ(HealthOf(*c, files, 2).below_goal, "");
  ExpectReadsBack(*c, files);
  CommandResult fsck =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "fsck"});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  CommandResult status =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("rebalance: on, usage gap"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(" " + std::to_string(st->rebalance_chunks_moved) + " chunks moved"),
            std::string::npos)
      << status.out;
}

TEST(RebalanceTest, RebalanceNeverTakesAChunkBelowGoalWhenTheTargetDies) {
  // Slow copies (2 MiB/s each), so that some are in flight at the kill.
  auto cluster = TestCluster::Start(RebalanceCluster(8));
  ASSERT_TRUE(cluster);
  auto c = cluster->NewClient();
  ASSERT_TRUE(c);
  const std::vector<Stored> files = WriteFiles(*c);
  ASSERT_EQ(files.size(), static_cast<size_t>(kFiles));
  const int added = cluster->AddChunkServer();
  ASSERT_EQ(added, 3);
  ASSERT_TRUE(cluster->WaitForAliveServers(4, 30000));
  const int new_id = cluster->chunk_server_id(added);

  // Sampled all along: every chunk at its goal on distinct hosts, but for
  // those with a replica on the new server once it is killed; none lost.
  Sampler sampler(*cluster, files);

  // After the first move recorded and trimmed (its chunk now has one of
  // its two replicas on the new server), while copies are in flight.
  ClusterView last;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = c->ClusterStatus();
        if (!st.ok()) return false;
        last = *st;
        return st->rebalance_chunks_moved >= 1 && st->repair_replicas_trimmed >= 1 &&
               st->rebalance_moves_in_flight >= 1;
      },
      std::chrono::seconds(60)))
      << Usages(last);
  sampler.excuse(new_id);
  cluster->KillChunkServer(added, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  // Declared dead by the metaserver (its heartbeat timeout), so that what
  // follows looks at the chunks without it.
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 10000));

  // Nothing is lost at any time; every chunk is back at its goal once the
  // repair has run.
  Health h;
  std::string lost;
  const bool repaired = WaitFor(
      [&] {
        h = HealthOf(*c, files, 2);
        if (h.lost > 0 && lost.empty()) lost = std::to_string(h.lost) + " chunks without a replica";
        return h.below_goal.empty();
      },
      std::chrono::seconds(30));
  sampler.finish();
  EXPECT_TRUE(repaired) << h.below_goal;
  EXPECT_EQ(lost, "");
  EXPECT_EQ(sampler.violation(), "");
  EXPECT_GT(sampler.samples(), 3);
  std::cout << "kill -9 of the new server -> every chunk back at goal: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - killed)
                   .count()
            << " ms (at the kill: " << last.rebalance_chunks_moved << " moves recorded, "
            << last.repair_replicas_trimmed << " trimmed, " << last.rebalance_moves_in_flight
            << " in flight)" << std::endl;
  auto st = c->ClusterStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->chunks_missing, 0);
  // The repair had chunks to copy back: those moved to the dead server.
  EXPECT_GE(st->repair_chunks_copied, 1);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto s = c->ClusterStatus();
        return s.ok() && s->chunks_under_goal == 0;
      },
      std::chrono::seconds(30)));
  ExpectReadsBack(*c, files);
  CommandResult fsck =
      RunCommand({cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "fsck"});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
}

}  // namespace
}  // namespace ddbfs::testing
