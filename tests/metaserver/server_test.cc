#include <set>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "process.h"

namespace ddbfs::meta::testing {
namespace {

class ServerTest : public MetaTest {
 protected:
  // Chunk `index` of `inode` at `version` with a replica at that version on
  // each of `servers`, written straight into the tables (the write path is
  // tested elsewhere).
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
};

TEST_F(ServerTest, SameUuidKeepsItsIdAndARestartIsAccepted) {
  RegisterArgs r;
  r.host = "10.0.0.1";
  r.port = 9501;
  r.uuid = "0f3c-uuid";
  r.capacity_bytes = 1000ll << 20;
  r.used_bytes = 10;
  auto first = RegisterServer(ctx(), r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->server_id, 0);
  EXPECT_GT(first->session, 0);
  EXPECT_EQ(first->heartbeat_interval_ms, 15000);  // timeout 60 s / 4
  // The same address again (a restart): same id, a new session.
  r.used_bytes = 20;
  auto again = RegisterServer(ctx(), r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->server_id, first->server_id);
  EXPECT_NE(again->session, first->session);
  auto s = core_->servers().Get(first->server_id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->record.host, "10.0.0.1");
  EXPECT_EQ(s->record.label, "10.0.0.1");  // label defaults to the host
  EXPECT_EQ(s->record.used_bytes, 20);
  EXPECT_TRUE(s->alive);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.servers WHERE last_heartbeat IS NOT NULL"), 1);
  r.uuid = "another";
  auto other = RegisterServer(ctx(), r);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->server_id, first->server_id);
}

// Regression: a second server claiming a live server's uuid from another
// address (a copied data folder, a wrong config, one raw call) took over its
// identity and, with an empty inventory, its replica map.
TEST_F(ServerTest, SecondLiveServerClaimingOneUuidIsRefused) {
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  PutChunk(f.inode, 0, 1, {b});
  const int64_t rows_before = QueryInt("SELECT count(*) FROM ddbfs.replicas");
  RegisterArgs impostor;
  impostor.host = "10.9.9.9";
  impostor.port = 7777;
  impostor.uuid = "ub";
  impostor.capacity_bytes = 1ll << 40;
  auto r = RegisterServer(ctx(), impostor);
  EXPECT_EQ(CodeOf(r), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("is alive at"), std::string::npos) << r.status();
  auto s = core_->servers().Get(b);
  ASSERT_TRUE(s.has_value());
  EXPECT_NE(s->record.host, "10.9.9.9");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.servers WHERE host = '10.9.9.9'"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas"), rows_before);
  // The real one restarting at its own address is welcome.
  EXPECT_EQ(AddServer("ub", "b"), b);
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
  int64_t c0 = PutChunk(f.inode, 0, 1, {a, b});
  int64_t c1 = PutChunk(f.inode, 1, 1, {a, b});
  int64_t c2 = PutChunk(f.inode, 2, 2, {a, b});
  // A file deleted, and its deletion on b confirmed: b should not have it.
  Attr g = MustCreate(kRootInode, "g");
  int64_t gone = PutChunk(g.inode, 0, 1, {a, b});
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "g").ok());
  ASSERT_TRUE(Heartbeat(ctx(), HeartbeatArgs{b, 1ll << 40, 0, 0, {gone}}).ok());
  // A placed but never written chunk has no data yet anywhere.
  int64_t c3 = PutChunk(f.inode, 3, 0, {a, b});
  // A chunk id never allocated here (another cluster's data?).
  int64_t foreign = c3 + 1000;

  // b restarts: it lost c0, has c1 current, an old c2, the deleted chunk
  // back (a restored backup), and a foreign chunk.
  auto r = RegisterServer(
      ctx(), RegisterArgs{"127.0.0.1",
                          20000 + static_cast<int32_t>(std::hash<std::string>()("ub") % 10000),
                          "b",
                          "ub",
                          1ll << 40,
                          0,
                          {{c1, 1}, {c2, 1}, {gone, 1}, {foreign, 3}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->server_id, b);
  // Deleted: the deleted chunk, and the stale c2 (a has it current).
  EXPECT_EQ(std::set<int64_t>(r->delete_chunks.begin(), r->delete_chunks.end()),
            (std::set<int64_t>{gone, c2}));
  auto rows = [&](int64_t chunk) {
    return QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE server_id = " + std::to_string(b) +
                    " AND chunk_id = " + std::to_string(chunk));
  };
  auto version = [&](int64_t chunk) {
    return QueryInt("SELECT version FROM ddbfs.replicas WHERE server_id = " + std::to_string(b) +
                    " AND chunk_id = " + std::to_string(chunk));
  };
  EXPECT_EQ(rows(c0), 0);  // it does not hold it: not in the map any more
  EXPECT_EQ(version(c1), 1);
  EXPECT_EQ(rows(c2), 0);  // stale, ordered deleted
  EXPECT_EQ(rows(c3), 1);  // nothing written yet: nothing lost
  EXPECT_EQ(rows(foreign), 0);
  // a's rows are untouched.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE server_id = " + std::to_string(a)),
            4);
  auto status = ClusterStatus(ctx());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->counts.chunks, 4);
  EXPECT_EQ(status->counts.chunks_under_goal, 2);  // c0 and c2
  EXPECT_EQ(status->counts.chunks_missing, 0);
}

// Regression: a registration under a server's uuid from another address with
// an empty inventory, once the real server came back, made the metaserver
// order it to delete every chunk it held (382 chunks lost for good).
TEST_F(ServerTest, EmptyInventoryUnderAnotherAddressNeverDeletesData) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  const int32_t b_port = 20000 + static_cast<int32_t>(std::hash<std::string>()("ub") % 10000);
  Attr f = MustCreate(kRootInode, "f");
  std::vector<InventoryItem> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back({PutChunk(f.inode, i, 1, {a, b}), 1});
  }
  // The impostor: same uuid, another address, nothing held. Let it in as if
  // the real b had moved (its registry entry forgotten, as after b went
  // silent): the check on live servers is tested apart.
  core_.reset();
  MetaOptions o;
  o.db_url = db_url();
  o.heartbeat_timeout = std::chrono::seconds(60);
  core_ = std::move(MetaCore::Open(o)).value();
  RegisterArgs impostor{"10.6.6.6", 6666, "b", "ub", 1ll << 40, 0, {}};
  auto bad = RegisterServer(ctx(), impostor);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->server_id, b);
  EXPECT_TRUE(bad->delete_chunks.empty());
  // Its map lost b's replicas (the chunks are under goal), nothing more.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE server_id = " + std::to_string(b)),
            0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 0);
  // The real b comes back (after the impostor went quiet: a restart).
  core_.reset();
  core_ = std::move(MetaCore::Open(o)).value();
  auto real =
      RegisterServer(ctx(), RegisterArgs{"127.0.0.1", b_port, "b", "ub", 1ll << 40, 0, held});
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_TRUE(real->delete_chunks.empty());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE version = 1 AND server_id = " +
                     std::to_string(b)),
            5);
  EXPECT_EQ(AddServer("ua", "a", held), a);
  auto status = ClusterStatus(ctx());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->counts.chunks_under_goal, 0);
}

// Inventory pages: sorted, bounded, one session at a time; rows outside the
// pages sent so far are left alone until their page comes.
TEST_F(ServerTest, PagedInventoryIsReconciledPageByPage) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(PutChunk(f.inode, i, 1, {a, b}));
  }
  RegisterArgs reg{
      "127.0.0.1", 20000 + static_cast<int32_t>(std::hash<std::string>()("ub") % 10000),
      "b",         "ub",
      1ll << 40,   0,
      {}};
  reg.paged_inventory = true;
  reg.chunk_count = 4;
  auto r = RegisterServer(ctx(), reg);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->max_page_entries, kMaxInventoryPage);
  EXPECT_FALSE(core_->servers().Get(b)->inventory_complete);
  EXPECT_TRUE(core_->servers().IsAlive(b));
  auto page = [&](std::vector<InventoryItem> entries, bool last, int64_t session = 0) {
    return ReportInventory(
        ctx(), InventoryPageArgs{b, session ? session : r->session, std::move(entries), last});
  };
  auto b_rows = [&] {
    return QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE server_id = " + std::to_string(b));
  };
  // Malformed pages change nothing.
  EXPECT_EQ(CodeOf(page({{ids[1], 1}, {ids[0], 1}}, false)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(page({}, false)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(page(std::vector<InventoryItem>(kMaxInventoryPage + 1, {1, 1}), false)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(page({{ids[0], 1}}, false, r->session + 1)), ErrorCode::kNotFound);
  // Page 1 holds ids[0] and skips ids[1]: only ids[1]'s row goes.
  ASSERT_TRUE(page({{ids[0], 1}, {ids[2], 1}}, false).ok());
  EXPECT_EQ(b_rows(), 5);
  // A page may not go back.
  EXPECT_EQ(CodeOf(page({{ids[2], 1}}, false)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(page({{ids[1], 1}}, false)), ErrorCode::kInvalidArgument);
  // The last page: ids[3] above the committed version (an unsettled write)
  // is recorded as such; ids[4] and ids[5] are not held.
  auto last = page({{ids[3], 7}}, true);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_TRUE(last->delete_chunks.empty());
  EXPECT_EQ(b_rows(), 3);
  EXPECT_EQ(QueryInt("SELECT version FROM ddbfs.replicas WHERE server_id = " + std::to_string(b) +
                     " AND chunk_id = " + std::to_string(ids[3])),
            7);
  EXPECT_TRUE(core_->servers().Get(b)->inventory_complete);
  // The session is over.
  EXPECT_EQ(CodeOf(page({}, true)), ErrorCode::kNotFound);
  // A heartbeat from an older session must register again.
  auto hb = Heartbeat(ctx(), HeartbeatArgs{b, 1ll << 40, 0, 0, {}, r->session + 1});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->reregister);
  hb = Heartbeat(ctx(), HeartbeatArgs{b, 1ll << 40, 0, 0, {}, r->session});
  ASSERT_TRUE(hb.ok());
  EXPECT_FALSE(hb->reregister);
}

// A stale replica is deleted only when a current copy exists elsewhere and
// no write is open on the chunk.
TEST_F(ServerTest, StaleReplicasAreKeptWhileAWriteIsOpenOrNoCurrentCopyExists) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  const int32_t b_port = 20000 + static_cast<int32_t>(std::hash<std::string>()("ub") % 10000);
  Attr f = MustCreate(kRootInode, "f");
  int64_t leased = PutChunk(f.inode, 0, 2, {a, b});
  int64_t only = PutChunk(f.inode, 1, 2, {a, b});
  QueryInt(
      "WITH u AS (UPDATE ddbfs.chunks SET lease_id = 99, lease_expires_ms = "
      "(extract(epoch FROM now()) * 1000)::bigint + 3600000 WHERE id = " +
      std::to_string(leased) + " RETURNING 1) SELECT count(*) FROM u");
  QueryInt("WITH d AS (DELETE FROM ddbfs.replicas WHERE server_id <> " + std::to_string(b) +
           " AND chunk_id = " + std::to_string(only) + " RETURNING 1) SELECT count(*) FROM d");
  auto r = RegisterServer(
      ctx(), RegisterArgs{"127.0.0.1", b_port, "b", "ub", 1ll << 40, 0, {{leased, 1}, {only, 1}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->delete_chunks.empty());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE version = 1 AND server_id = " +
                     std::to_string(b)),
            2);
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

TEST_F(ServerTest, PlacementWaitsForKnownServersAfterARestart) {
  // A fresh metaserver knows no server: nothing to wait for.
  EXPECT_TRUE(core_->servers().PlacementReady().ok());
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  int32_t old = AddServer("uold", "c");
  // `old` died long before the others (its last heartbeat an hour older).
  QueryInt(
      "WITH u AS (UPDATE ddbfs.servers SET last_heartbeat = now() - interval '1 hour'"
      " WHERE id = " +
      std::to_string(old) + " RETURNING 1) SELECT count(*) FROM u");
  core_.reset();
  MetaOptions o;
  o.db_url = db_url();
  o.heartbeat_timeout = std::chrono::seconds(60);
  core_ = std::move(MetaCore::Open(o)).value();
  EXPECT_EQ(core_->servers().startup_grace(), std::chrono::seconds(60));
  Status s = core_->servers().PlacementReady();
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.message().find("waiting for 2 chunk servers"), std::string::npos) << s;
  EXPECT_EQ(AddServer("ua", "a"), a);
  s = core_->servers().PlacementReady();
  EXPECT_NE(s.message().find("waiting for 1 chunk servers"), std::string::npos) << s;
  EXPECT_EQ(AddServer("ub", "b"), b);
  EXPECT_TRUE(core_->servers().PlacementReady().ok());
}

TEST_F(ServerTest, PlacementStopsWaitingAfterTheStartupGrace) {
  AddServer("ua", "a");
  core_.reset();
  MetaOptions o;
  o.db_url = db_url();
  o.heartbeat_timeout = std::chrono::seconds(60);
  core_ = std::move(MetaCore::Open(o)).value();
  EXPECT_EQ(core_->servers().PlacementReady().code(), ErrorCode::kUnavailable);
  core_->servers().set_startup_grace(std::chrono::milliseconds(300));
  EXPECT_TRUE(ddbfs::testing::WaitFor([&] { return core_->servers().PlacementReady().ok(); },
                                      std::chrono::seconds(10)));
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
  auto plan = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->replicas.size(), 1u);
  EXPECT_EQ(plan->replicas[0].server_id, a);
  // A heartbeat brings b back.
  ASSERT_TRUE(Heartbeat(ctx(), HeartbeatArgs{b, 1ll << 40, 0, 0, {}}).ok());
  EXPECT_TRUE(core_->servers().IsAlive(b));
}

TEST_F(LivenessTest, ServerThatWentSilentMayMoveToAnotherAddress) {
  int32_t b = AddServer("ub", "b");
  RegisterArgs moved{"10.1.2.3", 9700, "b", "ub", 1ll << 40, 0, {}};
  EXPECT_EQ(CodeOf(RegisterServer(ctx(), moved)), ErrorCode::kPermissionDenied);
  ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return !core_->servers().IsAlive(b); },
                                      std::chrono::seconds(10)));
  auto r = RegisterServer(ctx(), moved);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->server_id, b);
  EXPECT_EQ(core_->servers().Get(b)->record.host, "10.1.2.3");
  EXPECT_EQ(QueryInt("SELECT port FROM ddbfs.servers WHERE id = " + std::to_string(b)), 9700);
  // Now the old address is the second claimant.
  EXPECT_EQ(
      CodeOf(RegisterServer(
          ctx(), RegisterArgs{"127.0.0.1",
                              20000 + static_cast<int32_t>(std::hash<std::string>()("ub") % 10000),
                              "b",
                              "ub",
                              1ll << 40,
                              0,
                              {}})),
      ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace ddbfs::meta::testing
