// CreateForWrite: a Create that also places chunk 0 in the same transaction,
// exactly as PrepareWrite places a new chunk.

#include <set>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/server_registry.h"
#include "process.h"

namespace ddbfs::meta::testing {
namespace {

using CreateForWriteTest = MetaTest;

std::set<int32_t> IdsOf(const WritePlan& plan) {
  std::set<int32_t> out;
  for (const ServerAddr& a : plan.replicas) out.insert(a.server_id);
  return out;
}

TEST_F(CreateForWriteTest, PlacesChunkZeroLikePrepareWrite) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  const uint64_t transactions = core_->writer().transactions();
  auto f = CreateForWrite(ctx(), caller_, kRootInode, "f", 0640, std::nullopt, int64_t{99});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(core_->writer().transactions(), transactions + 1);  // one commit for both
  EXPECT_EQ(f->attr.type, FileType::kRegular);
  EXPECT_EQ(f->attr.mode, 0640u);
  EXPECT_EQ(f->attr.mtime_ns, 99);
  EXPECT_EQ(f->attr.size, 0u);
  EXPECT_EQ(f->attr.goal, kDefaultGoal);
  ASSERT_TRUE(f->first_chunk.has_value());
  const WritePlan& plan = *f->first_chunk;
  EXPECT_GT(plan.chunk_id, 0);
  EXPECT_EQ(plan.version, 1);
  EXPECT_EQ(plan.length, 0);
  EXPECT_EQ(IdsOf(plan), (std::set<int32_t>{a, b}));
  for (const ServerAddr& r : plan.replicas) {
    EXPECT_EQ(r.host, "127.0.0.1");
    EXPECT_GT(r.port, 0);
  }
  // The chunk row and one replica row per server, all at version 0, as
  // PrepareWrite leaves a new chunk.
  const std::string id = std::to_string(plan.chunk_id);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks WHERE id = " + id + " AND inode = " +
                     std::to_string(f->attr.inode) + " AND idx = 0 AND version = 0 AND length = 0"),
            1);
  EXPECT_EQ(
      QueryInt("SELECT count(*) FROM ddbfs.replicas WHERE chunk_id = " + id + " AND version = 0"),
      2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.replicas"), 2);
  // The placement holds the write lease (as PrepareWrite's does): another
  // writer of chunk 0 waits; the chunk map shows the chunk (no second one).
  EXPECT_GT(plan.lease_id, 0);
  EXPECT_EQ(QueryInt("SELECT pending_version FROM ddbfs.chunks WHERE id = " + id), 1);
  auto map = GetChunks(ctx(), caller_, f->attr.inode, 0, 10, true);
  ASSERT_TRUE(map.ok());
  ASSERT_EQ(map->chunks.size(), 1u);
  EXPECT_EQ(map->chunks[0].chunk_id, plan.chunk_id);
  EXPECT_EQ(map->chunks[0].version, 0);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, f->attr.inode, 0)), ErrorCode::kBusy);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 1);
}

TEST_F(CreateForWriteTest, GoalIsRespected) {
  AddServer("ua", "a");
  AddServer("ub", "b");
  AddServer("uc", "c");
  AddServer("ua2", "a");
  for (int goal : {1, 3, 4}) {
    auto f = CreateForWrite(ctx(), caller_, kRootInode, "g" + std::to_string(goal), 0644, goal,
                            std::nullopt);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->attr.goal, goal);
    ASSERT_TRUE(f->first_chunk.has_value());
    EXPECT_EQ(IdsOf(*f->first_chunk).size(), static_cast<size_t>(goal)) << "goal " << goal;
    std::set<std::string> labels;
    for (const ServerAddr& r : f->first_chunk->replicas) {
      labels.insert(core_->servers().Get(r.server_id)->record.label);
    }
    // Distinct labels first, as PrepareWrite places.
    EXPECT_EQ(labels.size(), static_cast<size_t>(std::min(goal, 3))) << "goal " << goal;
  }
  // Without a goal the file inherits its directory's, and so does chunk 0.
  Attr d = MustMkdir(kRootInode, "d");
  AttrChanges c;
  c.goal = 1;
  ASSERT_TRUE(SetAttr(ctx(), caller_, d.inode, c).ok());
  auto f = CreateForWrite(ctx(), caller_, d.inode, "f", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->attr.goal, 1);
  ASSERT_TRUE(f->first_chunk.has_value());
  EXPECT_EQ(f->first_chunk->replicas.size(), 1u);
}

TEST_F(CreateForWriteTest, NoServerMeansNoPlacementButTheFileIsCreated) {
  auto f = CreateForWrite(ctx(), caller_, kRootInode, "f", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->first_chunk.has_value());
  EXPECT_TRUE(Lookup(ctx(), caller_, kRootInode, "f").ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
  // The writer's fallback, PrepareWrite, reports why.
  auto plan = PrepareWrite(ctx(), caller_, f->attr.inode, 0);
  EXPECT_EQ(CodeOf(plan), ErrorCode::kNoSpace);
  EXPECT_NE(plan.status().message().find("no chunk server is alive"), std::string::npos);

  // A server without room for a chunk is no better.
  RegisterArgs full;
  full.host = "127.0.0.1";
  full.port = 1234;
  full.uuid = "full";
  full.label = "f";
  full.capacity_bytes = 100ll << 20;
  full.used_bytes = 90ll << 20;
  ASSERT_TRUE(RegisterServer(ctx(), full).ok());
  auto g = CreateForWrite(ctx(), caller_, kRootInode, "g", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->first_chunk.has_value());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
}

TEST_F(CreateForWriteTest, ErrorsChangeNothing) {
  AddServer("ua", "a");
  Attr taken = MustCreate(kRootInode, "taken");
  EXPECT_EQ(
      CodeOf(CreateForWrite(ctx(), caller_, kRootInode, "taken", 0644, std::nullopt, std::nullopt)),
      ErrorCode::kExists);
  EXPECT_EQ(CodeOf(CreateForWrite(ctx(), caller_, kRootInode, "x", 0644, 0, std::nullopt)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      CodeOf(CreateForWrite(ctx(), caller_, kRootInode, "", 0644, std::nullopt, std::nullopt)),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      CodeOf(CreateForWrite(ctx(), caller_, taken.inode, "y", 0644, std::nullopt, std::nullopt)),
      ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(CreateForWrite(ctx(), caller_, 987654, "z", 0644, std::nullopt, std::nullopt)),
            ErrorCode::kNotFound);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes WHERE type = 1"), 1);
}

TEST_F(CreateForWriteTest, CommitWriteWithThePlacementMakesTheDataVisible) {
  int32_t a = AddServer("ua", "a");
  int32_t b = AddServer("ub", "b");
  auto f = CreateForWrite(ctx(), caller_, kRootInode, "f", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->first_chunk.has_value());
  const WritePlan& plan = *f->first_chunk;
  ChunkCommitArgs c{0, plan.chunk_id, plan.version, 4096, {a, b}, plan.lease_id};
  auto attr = CommitWrite(ctx(), caller_, f->attr.inode, {c}, 4096, int64_t{1234});
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ(attr->size, 4096u);
  EXPECT_EQ(attr->mtime_ns, 1234);
  auto map = GetChunks(ctx(), caller_, f->attr.inode, 0, 10, false);
  ASSERT_TRUE(map.ok());
  ASSERT_EQ(map->chunks.size(), 1u);
  EXPECT_EQ(map->chunks[0].chunk_id, plan.chunk_id);
  EXPECT_EQ(map->chunks[0].version, 1);
  EXPECT_EQ(map->chunks[0].length, 4096);
  ASSERT_EQ(map->chunks[0].replicas.size(), 2u);
  for (const auto& r : map->chunks[0].replicas) EXPECT_EQ(r.version, 1);
  // The placement cannot be committed twice (its lease ended with the
  // commit); the next write is version 2.
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), caller_, f->attr.inode, {c}, 4096, std::nullopt)),
            ErrorCode::kLeaseExpired);
  auto next = PrepareWrite(ctx(), caller_, f->attr.inode, 0);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->chunk_id, plan.chunk_id);
  EXPECT_EQ(next->version, 2);
  EXPECT_EQ(next->length, 4096);
}

class CreateForWriteLivenessTest : public MetaTest {
 protected:
  std::chrono::milliseconds heartbeat_timeout() const override {
    return std::chrono::milliseconds(300);
  }
};

TEST_F(CreateForWriteLivenessTest, DeadServersGetNoPlacement) {
  int32_t a = AddServer("ua", "a");
  ASSERT_TRUE(ddbfs::testing::WaitFor([&] { return !core_->servers().IsAlive(a); },
                                      std::chrono::seconds(10)));
  auto f = CreateForWrite(ctx(), caller_, kRootInode, "f", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->first_chunk.has_value());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
  // Back alive: the next create places chunk 0 on it. The 300 ms timeout can
  // pass between registration and the create on a loaded machine, so
  // re-register and retry (with a new name) until one create sees it alive.
  EXPECT_EQ(AddServer("ua", "a"), a);
  int attempt = 0;
  std::optional<WritePlan> placed;
  ASSERT_TRUE(ddbfs::testing::WaitFor(
      [&] {
        EXPECT_EQ(AddServer("ua", "a"), a);
        auto g = CreateForWrite(ctx(), caller_, kRootInode, "g" + std::to_string(attempt++), 0644,
                                std::nullopt, std::nullopt);
        EXPECT_TRUE(g.ok()) << g.status();
        if (g.ok() && g->first_chunk.has_value()) placed = g->first_chunk;
        return placed.has_value();
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(IdsOf(*placed), (std::set<int32_t>{a}));
}

}  // namespace
}  // namespace ddbfs::meta::testing
