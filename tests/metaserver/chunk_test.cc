#include <set>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/goal_ops.h"
#include "metaserver/ops/repairer.h"

namespace ddbfs::meta::testing {
namespace {

using ChunkTest = MetaTest;

std::set<std::string> LabelsOf(ServerRegistry& servers, const WritePlan& plan) {
  std::set<std::string> out;
  for (const ServerAddr& a : plan.replicas) out.insert(servers.Get(a.server_id)->record.label);
  return out;
}

TEST_F(ChunkTest, NewChunksGoToDistinctLabelsThenDistinctServers) {
  AddServer("uuid-a1", "a");
  AddServer("uuid-a2", "a");
  AddServer("uuid-b", "b");
  Attr f = MustCreate(kRootInode, "f");  // goal 2
  for (int i = 0; i < 20; ++i) {
    auto plan = PrepareWrite(ctx(), caller_, f.inode, i);
    ASSERT_TRUE(plan.ok()) << plan.status();
    ASSERT_EQ(plan->replicas.size(), 2u);
    EXPECT_EQ(LabelsOf(core_->servers(), *plan), (std::set<std::string>{"a", "b"}));
    EXPECT_EQ(plan->version, 1);
    EXPECT_EQ(plan->length, 0);
    EXPECT_GT(plan->chunk_id, 0);
    EXPECT_EQ(plan->replicas[0].host, "127.0.0.1");
    EXPECT_GT(plan->replicas[0].port, 0);
  }
  // Goal 3 with two labels: the third replica goes to the second "a" server.
  auto g3 = Create(ctx(), caller_, kRootInode, "g3", 0644, 3, std::nullopt);
  ASSERT_TRUE(g3.ok());
  auto plan = PrepareWrite(ctx(), caller_, g3->inode, 0);
  ASSERT_TRUE(plan.ok());
  std::set<int32_t> ids;
  for (const auto& r : plan->replicas) ids.insert(r.server_id);
  EXPECT_EQ(ids.size(), 3u);
  // Goal above the number of servers: as many as there are.
  auto g5 = Create(ctx(), caller_, kRootInode, "g5", 0644, 5, std::nullopt);
  ASSERT_TRUE(g5.ok());
  EXPECT_EQ(PrepareWrite(ctx(), caller_, g5->inode, 0)->replicas.size(), 3u);
}

TEST_F(ChunkTest, ThreeLabelsThreeReplicas) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  int32_t c = AddServer("uc", "c");
  auto f = Create(ctx(), caller_, kRootInode, "f", 0644, 3, std::nullopt);
  ASSERT_TRUE(f.ok());
  auto plan = PrepareWrite(ctx(), caller_, f->inode, 0);
  ASSERT_TRUE(plan.ok());
  std::set<int32_t> ids;
  for (const auto& r : plan->replicas) ids.insert(r.server_id);
  EXPECT_EQ(ids, (std::set<int32_t>{a, b, c}));
  EXPECT_EQ(LabelsOf(core_->servers(), *plan), (std::set<std::string>{"a", "b", "c"}));
}

TEST_F(ChunkTest, PrepareWriteErrors) {
  Attr f = MustCreate(kRootInode, "f");
  auto none = PrepareWrite(ctx(), caller_, f.inode, 0);
  EXPECT_EQ(CodeOf(none), ErrorCode::kNoSpace);
  EXPECT_NE(none.status().message().find("no chunk server is alive"), std::string::npos);
  AddServer("u1", "a");
  Attr d = MustMkdir(kRootInode, "d");
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, d.inode, 0)), ErrorCode::kIsDir);
  auto s = Symlink(ctx(), caller_, kRootInode, "s", "f");
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, s->inode, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, f.inode, -1)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, f.inode, int64_t{1} << 62)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, 123456, 0)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, -3, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
}

TEST_F(ChunkTest, FullServersAreSkipped) {
  RegisterArgs full;
  full.host = "127.0.0.1";
  full.port = 1234;
  full.uuid = "full";
  full.label = "f";
  full.capacity_bytes = 100ll << 20;
  full.used_bytes = 90ll << 20;  // 10 MiB free: less than a chunk
  ASSERT_TRUE(RegisterServer(ctx(), full).ok());
  Attr f = MustCreate(kRootInode, "f");
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, f.inode, 0)), ErrorCode::kNoSpace);
  int32_t roomy = AddServer("roomy", "r");
  auto plan = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->replicas.size(), 1u);
  EXPECT_EQ(plan->replicas[0].server_id, roomy);
}

TEST_F(ChunkTest, CommitMakesMissingReplicasStaleAndQueuesThem) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  auto plan = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->replicas.size(), 2u);
  // Only `a` acknowledged.
  ChunkCommitArgs c{0, plan->chunk_id, plan->version, 1000, {a}, plan->lease_id};
  auto attr = CommitWrite(ctx(), caller_, f.inode, {c}, 1000, int64_t{777});
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->size, 1000u);
  EXPECT_EQ(attr->mtime_ns, 777);
  auto map = GetChunks(ctx(), caller_, f.inode, 0, 10, false);
  ASSERT_TRUE(map.ok());
  ASSERT_EQ(map->chunks.size(), 1u);
  EXPECT_EQ(map->chunks[0].version, 1);
  EXPECT_EQ(map->chunks[0].length, 1000);
  ASSERT_EQ(map->chunks[0].replicas.size(), 1u);
  EXPECT_EQ(map->chunks[0].replicas[0].address.server_id, a);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue WHERE server_id = " + std::to_string(b) +
                     " AND chunk_id = " + std::to_string(plan->chunk_id)),
            1);
  // The next write carries version 2 and goes to the one current replica.
  auto next = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->version, 2);
  EXPECT_EQ(next->length, 1000);
  ASSERT_EQ(next->replicas.size(), 1u);
  EXPECT_EQ(next->replicas[0].server_id, a);
  // A generation cannot be committed twice: its lease ended with the commit.
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {c}, 1000, std::nullopt)),
            ErrorCode::kLeaseExpired);
}

// The repair's scans read the whole chunk map: a commit wakes it only when
// the chunk may be off its goal afterwards (docs/repair.md, "Idle passes").
TEST_F(ChunkTest, OnlyACommitThatMayLeaveItsChunkOffGoalWakesTheRepair) {
  AddServer("ua", "a");
  AddServer("ub", "b");
  AddServer("uc", "c");
  Repairer repairer(ctx(), RepairOptions{});
  ctx().repairer = &repairer;
  Attr f = MustCreate(kRootInode, "f");  // goal 2
  auto commit = [&](InodeId inode, int keep) -> Status {
    auto plan = PrepareWrite(ctx(), caller_, inode, 0);
    if (!plan.ok()) return plan.status();
    ChunkCommitArgs c{0, plan->chunk_id, plan->version, 100, {}, plan->lease_id};
    for (const ServerAddr& r : plan->replicas) {
      if (static_cast<int>(c.written.size()) < keep) c.written.push_back(r.server_id);
    }
    repairer.TakeDirty();
    return CommitWrite(ctx(), caller_, inode, {c}, 100, std::nullopt).status();
  };
  // Written by both replicas of a goal-2 file: at goal, as before.
  ASSERT_TRUE(commit(f.inode, 2).ok());
  EXPECT_FALSE(repairer.TakeDirty()) << "a commit at goal woke the repair";
  ASSERT_TRUE(commit(f.inode, 2).ok());
  EXPECT_FALSE(repairer.TakeDirty()) << "a second commit at goal woke the repair";
  // One replica missed the write: dropped, the chunk is below goal.
  ASSERT_TRUE(commit(f.inode, 1).ok());
  EXPECT_TRUE(repairer.TakeDirty()) << "a commit that dropped a replica did not wake the repair";
  // A tag rule asks for 3: two replicas written are below it.
  Attr t = MustCreate(kRootInode, "tagged");
  ASSERT_TRUE(SetGoalRule(ctx(), /*admin=*/true, "keep", 3).ok());
  ASSERT_TRUE(SetTags(ctx(), caller_, t.inode, {Tag{"keep", std::nullopt}}, {}).ok());
  ASSERT_TRUE(commit(t.inode, 2).ok());
  EXPECT_TRUE(repairer.TakeDirty()) << "a commit below the tag rule's goal did not wake the repair";
  // A written replica on a server being drained does not count.
  Attr d = MustCreate(kRootInode, "drained");
  ASSERT_TRUE(commit(d.inode, 2).ok());
  EXPECT_FALSE(repairer.TakeDirty());
  auto map = GetChunks(ctx(), caller_, d.inode, 0, 1, false);
  ASSERT_TRUE(map.ok() && map->chunks.size() == 1 && map->chunks[0].replicas.size() == 2);
  const int32_t holder = map->chunks[0].replicas[0].address.server_id;
  ctx().servers.SetDraining(holder, true);
  ASSERT_TRUE(commit(d.inode, 2).ok());
  EXPECT_TRUE(repairer.TakeDirty()) << "a commit to a server being drained did not wake the repair";
  ctx().servers.SetDraining(holder, false);
  ctx().repairer = nullptr;
}

// A tag change moves a goal only through a goal rule: with none (as the
// last pass found) it does not wake the repair.
TEST_F(ChunkTest, TagChangesWakeTheRepairOnlyWhileAGoalRuleExists) {
  AddServer("ua", "a");
  AddServer("ub", "b");
  Repairer repairer(ctx(), RepairOptions{});
  ctx().repairer = &repairer;
  Attr f = MustCreate(kRootInode, "f");
  auto tag = [&](const std::string& name) {
    repairer.TakeDirty();
    EXPECT_TRUE(SetTags(ctx(), caller_, f.inode, {Tag{name, std::nullopt}}, {}).ok());
    return repairer.TakeDirty();
  };
  // No pass has looked yet: it may not know of a rule.
  EXPECT_TRUE(tag("before"));
  repairer.Pass();
  EXPECT_FALSE(tag("plain")) << "a tag change woke the repair with no goal rule anywhere";
  auto many = TagMany(ctx(), caller_, {f.inode}, {Tag{"many", std::nullopt}}, {});
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_FALSE(repairer.TakeDirty());
  // A rule (it kicks a pass, which looks again): tag changes wake it.
  ASSERT_TRUE(SetGoalRule(ctx(), /*admin=*/true, "keep", 3).ok());
  repairer.Pass();
  EXPECT_TRUE(tag("keep")) << "tagging with a ruled tag did not wake the repair";
  EXPECT_TRUE(tag("other"));
  // The rule gone: after the next pass, quiet again.
  ASSERT_TRUE(SetGoalRule(ctx(), /*admin=*/true, "keep", 0).ok());
  repairer.Pass();
  EXPECT_FALSE(tag("again"));
  ctx().repairer = nullptr;
}

TEST_F(ChunkTest, CommitWriteValidatesEverythingFirst) {
  int32_t a = AddServer("ua", "a");
  Attr f = MustCreate(kRootInode, "f");
  Attr other = MustCreate(kRootInode, "other");
  auto plan = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(plan.ok());
  ChunkCommitArgs good{0, plan->chunk_id, 1, 10, {a}, plan->lease_id};
  ChunkCommitArgs nobody{0, plan->chunk_id, 1, 10, {}, plan->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {nobody}, 10, std::nullopt)),
            ErrorCode::kIoError);
  ChunkCommitArgs stranger{0, plan->chunk_id, 1, 10, {a + 100}, plan->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {stranger}, 10, std::nullopt)),
            ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, other.inode, {good}, 10, std::nullopt)),
            ErrorCode::kInvalidArgument);
  ChunkCommitArgs wrong_index{3, plan->chunk_id, 1, 10, {a}, plan->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {wrong_index}, 10, std::nullopt)),
            ErrorCode::kInvalidArgument);
  // A chunk that does not exist (any more): whatever lease named it is gone.
  ChunkCommitArgs missing{1, 99999, 1, 10, {a}, plan->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {good, missing}, 10, std::nullopt)),
            ErrorCode::kLeaseExpired);
  ChunkCommitArgs too_long{0, plan->chunk_id, 1, int64_t(kChunkSize) + 1, {a}, plan->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {too_long}, 10, std::nullopt)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {good}, -1, std::nullopt)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {good, good}, 10, std::nullopt)),
            ErrorCode::kInvalidArgument);
  // None of that changed anything.
  EXPECT_EQ(QueryInt("SELECT version FROM ddbfs.chunks"), 0);
  EXPECT_EQ(QueryInt("SELECT size FROM ddbfs.inodes WHERE id = " + std::to_string(f.inode)), 0);
  EXPECT_TRUE(CommitWrite(ctx(), caller_, f.inode, {good}, 10, std::nullopt).ok());
}

TEST_F(ChunkTest, OneWriterPerChunkUnderALeaseWithAVersionPerGeneration) {
  int32_t a = AddServer("ua", "a");
  Attr f = MustCreate(kRootInode, "f");
  auto first = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->lease_id, 0);
  EXPECT_EQ(first->version, 1);
  // A second writer waits while the lease is held.
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, f.inode, 0)), ErrorCode::kBusy);
  // Renewing works for the holder only.
  EXPECT_TRUE(RenewLeases(ctx(), caller_, f.inode, {{first->chunk_id, first->lease_id}}).ok());
  EXPECT_EQ(CodeOf(RenewLeases(ctx(), caller_, f.inode, {{first->chunk_id, first->lease_id + 1}})),
            ErrorCode::kLeaseExpired);
  // A commit under another lease id is refused and changes nothing.
  ChunkCommitArgs forged{0, first->chunk_id, first->version, 10, {a}, first->lease_id + 1};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {forged}, 10, std::nullopt)),
            ErrorCode::kLeaseExpired);
  EXPECT_EQ(QueryInt("SELECT size FROM ddbfs.inodes WHERE id = " + std::to_string(f.inode)), 0);
  ChunkCommitArgs mine{0, first->chunk_id, first->version, 10, {a}, first->lease_id};
  ASSERT_TRUE(CommitWrite(ctx(), caller_, f.inode, {mine}, 10, std::nullopt).ok());
  // The next generation gets the next version; a generation given up
  // (released) is never reused: the one after it is higher still.
  auto second = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->version, 2);
  EXPECT_NE(second->lease_id, first->lease_id);
  EXPECT_EQ(QueryInt("SELECT pending_version FROM ddbfs.chunks"), 2);
  EXPECT_EQ(QueryInt("SELECT version FROM ddbfs.chunks"), 1);
  // Recovery moves the open generation to a fresh version.
  auto rec = RecoverWrite(
      ctx(), caller_,
      RecoverArgs{f.inode, 0, second->chunk_id, second->lease_id, second->version, {a}, {}});
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->version, 3);
  // The old version of the generation can no longer commit.
  ChunkCommitArgs old{0, second->chunk_id, second->version, 10, {a}, second->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {old}, 10, std::nullopt)),
            ErrorCode::kLeaseExpired);
  ChunkCommitArgs moved{0, second->chunk_id, rec->version, 20, {a}, second->lease_id};
  ASSERT_TRUE(CommitWrite(ctx(), caller_, f.inode, {moved}, 20, std::nullopt).ok());
  EXPECT_EQ(QueryInt("SELECT version FROM ddbfs.chunks"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks WHERE lease_id IS NOT NULL"), 0);
}

TEST_F(ChunkTest, AnExpiredLeaseIsBusyUntilSettledAndALateCommitThenFails) {
  AddServer("ua", "a");
  Attr f = MustCreate(kRootInode, "f");
  auto w = PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(w.ok()) << w.status();
  // The writer dies: its lease runs out. Until the chunk is settled, a new
  // writer is told to wait (the background settler may have been quicker).
  ASSERT_EQ(QueryInt("WITH u AS (UPDATE ddbfs.chunks SET lease_expires_ms = 1 RETURNING 1)"
                     " SELECT count(*) FROM u"),
            1);
  auto early = PrepareWrite(ctx(), caller_, f.inode, 0);
  if (!early.ok()) {
    EXPECT_EQ(CodeOf(early), ErrorCode::kBusy);
  }
  // The settler (no chunk server answers here: nothing was ever committed,
  // nothing is on any replica) drops the chunk: it reads as a hole again.
  if (!early.ok()) {
    ASSERT_TRUE(core_->settler().SettleChunk(w->chunk_id).ok());
    EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
    EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas"), 0);
  }
  ChunkCommitArgs late{0, w->chunk_id, w->version, 10, {}, w->lease_id};
  late.written = {w->replicas.front().server_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f.inode, {late}, 10, std::nullopt)),
            ErrorCode::kLeaseExpired);
  // The index takes a new writer, on a chunk of its own.
  auto next = early.ok() ? early : PrepareWrite(ctx(), caller_, f.inode, 0);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(next->chunk_id, w->chunk_id);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 1);
}

TEST_F(ChunkTest, UnlinkQueuesGcAndHeartbeatsHandOutTheChunks) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  int64_t c0 = MustWriteChunk(f.inode, 0, int64_t(kChunkSize), int64_t(kChunkSize)).chunk_id;
  int64_t c1 = MustWriteChunk(f.inode, 1, 5, int64_t(kChunkSize) + 5).chunk_id;
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "f").ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 4);
  for (int32_t server : {a, b}) {
    auto hb = Heartbeat(ctx(), HeartbeatArgs{server, 1ll << 40, 0, 2, {}});
    ASSERT_TRUE(hb.ok()) << hb.status();
    EXPECT_FALSE(hb->reregister);
    EXPECT_EQ(std::set<int64_t>(hb->delete_chunks.begin(), hb->delete_chunks.end()),
              (std::set<int64_t>{c0, c1}));
  }
  // Reported deletions leave the queue.
  auto hb = Heartbeat(ctx(), HeartbeatArgs{a, 1ll << 40, 0, 0, {c0, c1}});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->delete_chunks.empty());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 2);
  auto status = ClusterStatus(ctx());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->counts.pending_deletions, 2);
}

// Deletion retention (docs/backup.md): the replicas of a deleted file are
// held until --chunk-retention-s passed, then handed out; a server short of
// space gets its held deletions at once, oldest first.
TEST_F(ChunkTest, HeldDeletionsWaitForTheRetentionUnlessTheServerIsShortOfSpace) {
  ctx().chunk_retention_ms = 3600 * 1000;
  ctx().retention_min_free_pct = 5;
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  Attr g = MustCreate(kRootInode, "g");
  const int64_t cf = MustWriteChunk(f.inode, 0, int64_t(kChunkSize), int64_t(kChunkSize)).chunk_id;
  const int64_t cg = MustWriteChunk(g.inode, 0, 5, 5).chunk_id;
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "f").ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue WHERE held"), 2);
  constexpr int64_t kRoomy = 1ll << 40;
  for (int32_t server : {a, b}) {
    auto hb = Heartbeat(ctx(), HeartbeatArgs{server, kRoomy, 0, 2, {}});
    ASSERT_TRUE(hb.ok()) << hb.status();
    EXPECT_TRUE(hb->delete_chunks.empty()) << "handed out before the retention";
  }
  auto status = ClusterStatus(ctx());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->counts.held_replicas, 2);
  EXPECT_EQ(status->counts.held_bytes, 2 * int64_t(kChunkSize));
  EXPECT_EQ(status->counts.pending_deletions, 0);

  // The retention passed for f's replicas.
  QueryInt(
      "WITH u AS (UPDATE ddbfs.gc_queue SET queued_at = now() - interval '2 hours'"
      " RETURNING 1) SELECT count(*) FROM u");
  auto hb = Heartbeat(ctx(), HeartbeatArgs{a, kRoomy, 0, 2, {}});
  ASSERT_TRUE(hb.ok()) << hb.status();
  EXPECT_EQ(hb->delete_chunks, std::vector<int64_t>{cf});
  status = ClusterStatus(ctx());
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->counts.held_replicas, 0);
  EXPECT_EQ(status->counts.pending_deletions, 2);

  // g's replicas are held; server b, 1 % free, gets both of its held
  // deletions at once, the older first; server a, roomy, keeps g's.
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "g").ok());
  hb = Heartbeat(ctx(), HeartbeatArgs{b, 100, 99, 2, {}});
  ASSERT_TRUE(hb.ok()) << hb.status();
  EXPECT_EQ(hb->delete_chunks, (std::vector<int64_t>{cf, cg}));
  hb = Heartbeat(ctx(), HeartbeatArgs{a, kRoomy, 0, 2, {cf}});
  ASSERT_TRUE(hb.ok()) << hb.status();
  EXPECT_TRUE(hb->delete_chunks.empty());
}

TEST_F(ChunkTest, TruncateDropsWholeChunksAndShortensTheLastOne) {
  AddServer("ua", "a");
  Attr f = MustCreate(kRootInode, "f");
  const auto chunk = static_cast<int64_t>(kChunkSize);
  for (int i = 0; i < 3; ++i) MustWriteChunk(f.inode, i, chunk, chunk * (i + 1));
  AttrChanges c;
  c.size = static_cast<uint64_t>(chunk + chunk / 2);
  auto a = SetAttr(ctx(), caller_, f.inode, c);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->size, *c.size);
  auto map = GetChunks(ctx(), caller_, f.inode, 0, 100, true);
  ASSERT_TRUE(map.ok());
  ASSERT_EQ(map->chunks.size(), 2u);
  EXPECT_EQ(map->chunks[0].length, chunk);
  EXPECT_EQ(map->chunks[1].length, chunk / 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 1);
  // Growing only sets the size (a hole).
  c.size = static_cast<uint64_t>(chunk * 10);
  ASSERT_TRUE(SetAttr(ctx(), caller_, f.inode, c).ok());
  EXPECT_EQ(GetChunks(ctx(), caller_, f.inode, 0, 100, true)->chunks.size(), 2u);
  c.size = 0;
  ASSERT_TRUE(SetAttr(ctx(), caller_, f.inode, c).ok());
  EXPECT_TRUE(GetChunks(ctx(), caller_, f.inode, 0, 100, true)->chunks.empty());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.gc_queue"), 3);
}

TEST_F(ChunkTest, GetChunksPagesAndValidates) {
  AddServer("ua", "a");
  Attr f = MustCreate(kRootInode, "f");
  const auto chunk = static_cast<int64_t>(kChunkSize);
  for (int i : {0, 2, 3}) MustWriteChunk(f.inode, i, chunk, chunk * 4);
  auto map = GetChunks(ctx(), caller_, f.inode, 1, 2, false);
  ASSERT_TRUE(map.ok());
  ASSERT_EQ(map->chunks.size(), 1u);  // chunk 1 is a hole
  EXPECT_EQ(map->chunks[0].index, 2);
  EXPECT_EQ(map->attr.size, uint64_t(chunk * 4));
  EXPECT_EQ(GetChunks(ctx(), caller_, f.inode, 0, 100000, false)->chunks.size(), 3u);
  EXPECT_EQ(CodeOf(GetChunks(ctx(), caller_, f.inode, -1, 10, false)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(GetChunks(ctx(), caller_, f.inode, 0, -10, false)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(GetChunks(ctx(), caller_, 5555, 0, 10, false)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(GetChunks(ctx(), caller_, kRootInode, 0, 10, false)), ErrorCode::kIsDir);
}

TEST_F(ChunkTest, BadReplicaIsDroppedUnlessItIsTheLast) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  int64_t id = MustWriteChunk(f.inode, 0, 100, 100).chunk_id;
  EXPECT_EQ(CodeOf(ReportBadReplica(ctx(), caller_, id, 999, ErrorCode::kChecksumMismatch)),
            ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(ReportBadReplica(ctx(), caller_, 424242, a, ErrorCode::kChecksumMismatch)),
            ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(ReportBadReplica(ctx(), caller_, -1, a, ErrorCode::kChecksumMismatch)),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(ReportBadReplica(ctx(), caller_, id, a, ErrorCode::kChecksumMismatch).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas"), 1);
  EXPECT_EQ(QueryInt("SELECT server_id FROM ddbfs.gc_queue"), a);
  // The last copy is kept, whatever a reader says.
  ASSERT_TRUE(ReportBadReplica(ctx(), caller_, id, b, ErrorCode::kChecksumMismatch).ok());
  EXPECT_EQ(QueryInt("SELECT server_id FROM ddbfs.replicas"), b);
}

TEST_F(ChunkTest, StaleReplicasAreHiddenAndAChunkWithoutLiveDataIsUnavailable) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  Attr f = MustCreate(kRootInode, "f");
  int64_t id = MustWriteChunk(f.inode, 0, 100, 100).chunk_id;
  // b comes back with an older copy: its replica becomes stale.
  EXPECT_EQ(AddServer("ub", "b", {{id, 0}}), b);
  auto readable = GetChunks(ctx(), caller_, f.inode, 0, 1, false);
  ASSERT_TRUE(readable.ok());
  ASSERT_EQ(readable->chunks[0].replicas.size(), 1u);
  EXPECT_EQ(readable->chunks[0].replicas[0].address.server_id, a);
  // a holds the committed version, so b's stale copy is dropped from the map
  // and queued for deletion on b (an explicit per-chunk order).
  auto all = GetChunks(ctx(), caller_, f.inode, 0, 1, true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->chunks[0].replicas.size(), 1u);
  EXPECT_EQ(all->chunks[0].replicas[0].address.server_id, a);
  EXPECT_EQ(all->chunks[0].replicas[0].version, 1);
  EXPECT_EQ(all->chunks[0].replicas[0].label, "a");
  // a also comes back stale: its copy is now the only one and is kept, but
  // there is no current replica of data that exists.
  AddServer("ua", "a", {{id, 0}});
  auto plan = PrepareWrite(ctx(), caller_, f.inode, 0);
  EXPECT_EQ(CodeOf(plan), ErrorCode::kUnavailable);
  EXPECT_NE(plan.status().message().find("no live replica of chunk"), std::string::npos);
}

}  // namespace
}  // namespace ddbfs::meta::testing
