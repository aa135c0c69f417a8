#include <set>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "process.h"

namespace ddbfs::meta::testing {
namespace {

using ServerTest = MetaTest;

TEST_F(ServerTest, SameUuidKeepsItsIdAndUpdatesTheAddress) {
  RegisterArgs r;
  r.host = "10.0.0.1";
  r.port = 9501;
  r.uuid = "0f3c-uuid";
  r.capacity_bytes = 1000ll << 20;
  r.used_bytes = 10;
  auto first = RegisterServer(ctx(), r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->server_id, 0);
  EXPECT_EQ(first->heartbeat_interval_ms, 15000);  // timeout 60 s / 4
  r.host = "10.0.0.2";
  r.port = 9600;
  auto again = RegisterServer(ctx(), r);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->server_id, first->server_id);
  auto s = core_->servers().Get(first->server_id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->record.host, "10.0.0.2");
  EXPECT_EQ(s->record.label, "10.0.0.2");  // label defaults to the host
  EXPECT_TRUE(s->alive);
  EXPECT_EQ(QueryInt("SELECT port FROM ddbfs.servers"), 9600);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.servers WHERE last_heartbeat IS NOT NULL"), 1);
  r.uuid = "another";
  auto other = RegisterServer(ctx(), r);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->server_id, first->server_id);
}

TEST_F(ServerTest, MalformedRegistrationsAreRejected) {
  RegisterArgs good;
  good.host = "h";
  good.port = 1;
  good.uuid = "u";
  auto bad = [&](auto mutate) {
    RegisterArgs a = good;
    mutate(a);
    return CodeOf(RegisterServer(ctx(), a));
  };
  EXPECT_EQ(bad([](RegisterArgs& a) { a.host = ""; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](RegisterArgs& a) { a.port = 0; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](RegisterArgs& a) { a.port = 70000; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](RegisterArgs& a) { a.uuid = ""; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](RegisterArgs& a) { a.capacity_bytes = -1; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](RegisterArgs& a) { a.inventory = {{-4, 1}}; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](RegisterArgs& a) { a.label = std::string("x\0y", 3); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.servers"), 0);
  EXPECT_EQ(CodeOf(Heartbeat(ctx(), HeartbeatArgs{-1, 0, 0, 0, {}})), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Heartbeat(ctx(), HeartbeatArgs{1, -5, 0, 0, {}})), ErrorCode::kInvalidArgument);
}

TEST_F(ServerTest, UnknownServersAreToldToRegister) {
  auto hb = Heartbeat(ctx(), HeartbeatArgs{77, 1, 0, 0, {}});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->reregister);
  int32_t id = AddServer("u", "l");
  hb = Heartbeat(ctx(), HeartbeatArgs{id, 1, 0, 0, {}});
  ASSERT_TRUE(hb.ok());
  EXPECT_FALSE(hb->reregister);
}

TEST_F(ServerTest, RegistrationReconcilesTheInventory) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  int64_t c0 = MustWriteChunk(f.inode, 0, 10, 10).chunk_id;
  int64_t c1 = MustWriteChunk(f.inode, 1, 10, int64_t(kChunkSize) + 10).chunk_id;
  int64_t c2 = MustWriteChunk(f.inode, 2, 10, 2 * int64_t(kChunkSize) + 10).chunk_id;
  // Overwrite c2 once more so that its version is 2.
  MustWriteChunk(f.inode, 2, 20, 2 * int64_t(kChunkSize) + 20);
  // A placed but never written chunk has no data yet anywhere.
  int64_t c3 = PrepareWrite(ctx(), f.inode, 3)->chunk_id;

  // b restarts: it lost c0, has c1 current, an old c2, and two chunks the
  // metadata knows nothing about.
  auto r = RegisterServer(ctx(), RegisterArgs{"127.0.0.1",
                                              9502,
                                              "b",
                                              "ub",
                                              1ll << 40,
                                              0,
                                              {{c1, 1}, {c2, 1}, {c2 + 1000, 1}, {c2 + 2000, 3}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->server_id, b);
  EXPECT_EQ(std::set<int64_t>(r->delete_chunks.begin(), r->delete_chunks.end()),
            (std::set<int64_t>{c2 + 1000, c2 + 2000}));
  auto rows = [&](int64_t chunk) {
    return QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE server_id = " + std::to_string(b) +
                    " AND chunk_id = " + std::to_string(chunk));
  };
  auto version = [&](int64_t chunk) {
    return QueryInt("SELECT version FROM ddbfs.replicas WHERE server_id = " + std::to_string(b) +
                    " AND chunk_id = " + std::to_string(chunk));
  };
  EXPECT_EQ(rows(c0), 0);  // its data is gone
  EXPECT_EQ(version(c1), 1);
  EXPECT_EQ(version(c2), 1);  // stale: the chunk is at 2
  EXPECT_EQ(rows(c3), 1);     // nothing written yet: nothing lost
  // a's rows are untouched.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE server_id = " + std::to_string(a)),
            4);
  // c0 now has one replica, under goal.
  auto status = ClusterStatus(ctx());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->counts.chunks, 4);
  EXPECT_EQ(status->counts.chunks_under_goal, 2);  // c0 and c2
  EXPECT_EQ(status->counts.chunks_missing, 0);
}

TEST_F(ServerTest, ClusterStatusCounts) {
  int32_t a = AddServer("ua", "a");
  Attr d = MustMkdir(kRootInode, "d");
  Attr f = MustCreate(d.inode, "f");
  MustCreate(kRootInode, "g");
  MustWriteChunk(f.inode, 0, 1000, 1000);
  auto s = ClusterStatus(ctx());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->counts.files, 2);
  EXPECT_EQ(s->counts.directories, 2);
  EXPECT_EQ(s->counts.chunks, 1);
  EXPECT_EQ(s->counts.chunks_under_goal, 1);  // goal 2, one server
  EXPECT_EQ(s->counts.chunks_missing, 0);
  EXPECT_EQ(s->counts.logical_bytes, 1000);
  ASSERT_EQ(s->servers.size(), 1u);
  EXPECT_EQ(s->servers[0].server_id, a);
  EXPECT_TRUE(s->servers[0].alive);
  EXPECT_EQ(s->servers[0].label, "a");
  EXPECT_EQ(s->servers[0].capacity_bytes, 1ll << 40);
  EXPECT_GE(s->servers[0].last_heartbeat_ms_ago, 0);
}

TEST_F(ServerTest, ARestartedMetaserverKnowsServersButWantsThemToRegister) {
  int32_t a = AddServer("ua", "a");
  core_.reset();
  MetaOptions o;
  o.db_url = db_url();
  o.heartbeat_timeout = std::chrono::seconds(60);
  auto core = MetaCore::Open(o);
  ASSERT_TRUE(core.ok()) << core.status();
  core_ = std::move(core).value();
  auto s = ClusterStatus(ctx());
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->servers.size(), 1u);
  EXPECT_FALSE(s->servers[0].alive);
  auto hb = Heartbeat(ctx(), HeartbeatArgs{a, 1ll << 40, 0, 0, {}});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->reregister);
  EXPECT_EQ(AddServer("ua", "a"), a);
  EXPECT_TRUE(core_->servers().IsAlive(a));
}

// Liveness with a small timeout.
class LivenessTest : public MetaTest {
 protected:
  std::chrono::milliseconds heartbeat_timeout() const override {
    return std::chrono::milliseconds(1000);
  }
};

TEST_F(LivenessTest, ServerWithoutHeartbeatsIsDeclaredDead) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  EXPECT_EQ(core_->servers().heartbeat_interval_ms(), 250);
  // Keep `a` heartbeating until `b` is reported dead.
  bool b_dead = ddbfs::testing::WaitFor(
      [&] {
        EXPECT_TRUE(Heartbeat(ctx(), HeartbeatArgs{a, 1ll << 40, 0, 0, {}}).ok());
        auto s = ClusterStatus(ctx());
        if (!s.ok()) return false;
        bool a_alive = false, b_alive = true;
        for (const auto& srv : s->servers) {
          if (srv.server_id == a) a_alive = srv.alive;
          if (srv.server_id == b) b_alive = srv.alive;
        }
        EXPECT_TRUE(a_alive);
        return !b_alive;
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(b_dead);
  EXPECT_TRUE(Heartbeat(ctx(), HeartbeatArgs{a, 1ll << 40, 0, 0, {}}).ok());
  // New chunks only go to the living.
  Attr f = MustCreate(kRootInode, "f");
  auto plan = PrepareWrite(ctx(), f.inode, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->replicas.size(), 1u);
  EXPECT_EQ(plan->replicas[0].server_id, a);
  // A heartbeat brings b back.
  ASSERT_TRUE(Heartbeat(ctx(), HeartbeatArgs{b, 1ll << 40, 0, 0, {}}).ok());
  EXPECT_TRUE(core_->servers().IsAlive(b));
}

}  // namespace
}  // namespace ddbfs::meta::testing
