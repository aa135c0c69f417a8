// Goals per file, directory and tag end to end (docs/repair.md, "Goals"):
// a directory's goal is inherited by new files, `goal set -r` raises what
// is there, a tag rule raises a tagged document's replicas and untagging
// lets trimming bring it back down, the highest goal wins and `ddbfs goal
// get` names its source; permissions and bad input are refused. Real
// PostgreSQL, metaserver and chunk server processes.

#include <algorithm>
#include <deque>
#include <fstream>
#include <optional>
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

constexpr size_t kKiB = 1 << 10;
constexpr auto kRepairWait = std::chrono::seconds(30);

class GoalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions o;
    o.chunk_servers = 4;  // room for goal 4
    o.heartbeat_timeout_ms = 1000;
    o.metaserver_args = {"--repair-interval-ms", "200"};
    cluster_ = TestCluster::Start(o).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    client_ = cluster_->NewClient();
    ASSERT_TRUE(client_);
  }

  // `ddbfs --meta <socket> args...` as root (an admin).
  CommandResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {cluster_->bin("ddbfs"), "--meta", cluster_->meta_address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", std::chrono::seconds(60));
  }

  // A file `name` in `dir` with two chunks (a piece at the start of each).
  Result<Attr> WriteFile(InodeId dir, const std::string& name, uint64_t seed) {
    ASSIGN_OR_RETURN(Attr a, client_->Create(dir, name, 0644));
    ASSIGN_OR_RETURN(auto w, client_->OpenWriter(a.inode));
    RETURN_IF_ERROR(WriteAt(*w, 0, Bytes(8 * kKiB, seed)));
    RETURN_IF_ERROR(WriteAt(*w, kChunkSize, Bytes(8 * kKiB, seed + 1)));
    RETURN_IF_ERROR(w->Sync());
    RETURN_IF_ERROR(w->Close());
    return client_->GetAttr(a.inode);
  }

  // Live current replicas of each chunk of `inode` (-1: cannot tell).
  std::vector<int> LiveReplicas(InodeId inode) {
    auto chunks = client_->Chunks(inode);
    if (!chunks.ok()) return {-1};
    std::vector<int> out;
    for (const ChunkView& ch : *chunks) {
      std::set<int> servers;
      for (const ReplicaView& r : ch.replicas) {
        if (r.current && r.alive) servers.insert(r.server_id);
      }
      out.push_back(static_cast<int>(servers.size()));
    }
    return out;
  }

  // True once every chunk of `inode` (two of them) has exactly `n` live
  // replicas.
  bool WaitForReplicas(InodeId inode, int n) {
    return WaitFor([&] { return LiveReplicas(inode) == std::vector<int>{n, n}; }, kRepairWait);
  }

  // The live replicas per chunk and the metaserver's last repair lines.
  std::string Shown(InodeId inode) {
    std::string out;
    for (int n : LiveReplicas(inode)) out += std::to_string(n) + " ";
    std::ifstream log(cluster_->dir() + "/metaserver.log");
    std::deque<std::string> repair;
    for (std::string line; std::getline(log, line);) {
      if (line.find("repair") == std::string::npos) continue;
      repair.push_back(line);
      if (repair.size() > 20) repair.pop_front();
    }
    out = "live replicas per chunk: " + out + "\nlast repair log lines:\n";
    for (const std::string& line : repair) out += line + "\n";
    return out;
  }

  // Passes of the repair that scanned the chunk map (-1: cannot tell).
  int64_t Scans() {
    auto s = client_->ClusterStatus();
    return s.ok() ? s->repair_scans : -1;
  }

  // Scans() once nothing is left to repair and two looks 600 ms apart (three
  // intervals) saw no new scan; -1 if that did not come within kRepairWait.
  int64_t SettledScans() {
    auto quiet = [&] {
      auto s = client_->ClusterStatus();
      return s.ok() && s->chunks_under_goal == 0 && s->chunks_over_goal == 0 &&
             s->pending_deletions == 0 && s->repair_copies_in_flight == 0;
    };
    if (!WaitFor(quiet, kRepairWait)) return -1;
    int64_t before = -1;
    const bool settled = WaitFor(
        [&] {
          const int64_t now = Scans();
          const bool still = now == before;
          before = now;
          if (still) return true;
          std::this_thread::sleep_for(std::chrono::milliseconds(600));
          return false;
        },
        kRepairWait);
    return settled ? before : -1;
  }

  static inline TestCluster* cluster_ = nullptr;
  std::unique_ptr<Client> client_;
};

TEST_F(GoalTest, FileUnderADirectoryWithGoal3GetsThreeReplicas) {
  auto dir = client_->Mkdir(kRootInode, "three", 0755);
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto set = client_->SetGoal(dir->inode, 3);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(*set);
  auto sub = client_->Mkdir(dir->inode, "sub", 0755);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->goal, 3) << "a new directory inherits its parent's goal";
  auto f = WriteFile(sub->inode, "f", 1);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->goal, 3);
  ASSERT_TRUE(WaitForReplicas(f->inode, 3)) << Shown(f->inode);

  auto g = client_->GetGoal(f->inode);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->goal, 3);
  EXPECT_EQ(g->source, "directory");
  EXPECT_EQ(g->source_path, "/three");
  auto out = Cli({"goal", "get", "/three/sub/f"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "/three/sub/f: 3 (inherited from directory /three)\n");
  // The repair holds it there: nothing under or over goal is left.
  auto st = client_->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto s = client_->ClusterStatus();
        return s.ok() && s->chunks_under_goal == 0 && s->chunks_over_goal == 0;
      },
      kRepairWait));
}

TEST_F(GoalTest, RecursiveSetRaisesExistingFilesInBoundedPages) {
  auto dir = client_->Mkdir(kRootInode, "tree", 0755);
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto sub = client_->Mkdir(dir->inode, "sub", 0755);
  ASSERT_TRUE(sub.ok()) << sub.status();
  auto a = WriteFile(dir->inode, "a", 10);
  auto b = WriteFile(sub->inode, "b", 20);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(WaitForReplicas(a->inode, 2)) << Shown(a->inode);
  ASSERT_TRUE(WaitForReplicas(b->inode, 2)) << Shown(b->inode);

  auto out = Cli({"goal", "set", "-r", "/tree", "3"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_NE(out.out.find("goal 3 on 3 files and directories below changed"), std::string::npos)
      << out.out;
  EXPECT_TRUE(WaitForReplicas(a->inode, 3)) << Shown(a->inode);
  EXPECT_TRUE(WaitForReplicas(b->inode, 3)) << Shown(b->inode);
  auto g = client_->GetGoal(b->inode);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->source, "directory") << "-r makes everything below inherit from /tree";
  EXPECT_EQ(g->source_path, "/tree");

  // Down again: trimmed back to 2.
  out = Cli({"goal", "set", "--recursive", "/tree", "2"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(WaitForReplicas(a->inode, 2)) << Shown(a->inode);
  EXPECT_TRUE(WaitForReplicas(b->inode, 2)) << Shown(b->inode);

  // One call looks at one page: three entries, limit 1, three pages.
  for (const char* name : {"p1", "p2", "p3"}) {
    ASSERT_TRUE(client_->Create(sub->inode, name, 0644).ok());
  }
  std::string after;
  int pages = 0, changed = 0;
  while (true) {
    auto page = client_->SetGoalChildren(sub->inode, 4, after, 1);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    changed += page->changed;
    if (!page->more) break;
    after = page->last_name;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 4);    // b, p1, p2, p3
  EXPECT_EQ(changed, 4);  // each from 2 to 4
}

TEST_F(GoalTest, TagRuleRaisesReplicasUntaggingTrimsAndHighestWins) {
  auto f = WriteFile(kRootInode, "doc", 30);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(WaitForReplicas(f->inode, 2)) << Shown(f->inode);

  auto docs = client_->SetGoalRule("archive", 4);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(*docs, 0);
  auto tag = ParseTag("archive");
  ASSERT_TRUE(tag.ok());
  ASSERT_TRUE(client_->SetTags(f->inode, {*tag}, {}).ok());
  EXPECT_TRUE(WaitForReplicas(f->inode, 4)) << Shown(f->inode);
  auto g = client_->GetGoal(f->inode);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->goal, 4);
  EXPECT_EQ(g->source, "tag");
  EXPECT_EQ(g->source_tag, "archive");
  auto out = Cli({"goal", "get", "/doc"});
  EXPECT_EQ(out.out, "/doc: 4 (tag rule 'archive' (its own goal is 2))\n") << out.err;
  out = Cli({"info", "/doc"});
  EXPECT_NE(out.out.find("goal:    4 replicas (tag rule 'archive'; its own goal is 2)\n"),
            std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("4/4 current replicas"), std::string::npos) << out.out;

  // Highest wins: its own goal 3 is below the rule's 4.
  ASSERT_TRUE(client_->SetGoal(f->inode, 3).ok());
  g = client_->GetGoal(f->inode);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->goal, 4);
  EXPECT_EQ(g->source, "tag");
  // ... and above a lower rule.
  ASSERT_TRUE(client_->SetGoalRule("archive", 1).ok());
  g = client_->GetGoal(f->inode);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->goal, 3);
  EXPECT_EQ(g->source, "node");
  EXPECT_EQ(g->tag_goal, 1);
  out = Cli({"goal", "get", "/doc"});
  EXPECT_EQ(out.out, "/doc: 3 (set on this file)\n") << out.err;
  EXPECT_TRUE(WaitForReplicas(f->inode, 3)) << Shown(f->inode);

  // Untagging under a high rule: trimmed back down to its own goal.
  ASSERT_TRUE(client_->SetGoalRule("archive", 4).ok());
  EXPECT_TRUE(WaitForReplicas(f->inode, 4)) << Shown(f->inode);
  ASSERT_TRUE(client_->SetTags(f->inode, {}, {*tag}).ok());
  EXPECT_TRUE(WaitForReplicas(f->inode, 3)) << Shown(f->inode);

  out = Cli({"goal", "list"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "archive\t4\t0 documents\n");
  out = Cli({"goal", "rm", "--tag", "archive"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  auto rules = client_->ListGoalRules();
  ASSERT_TRUE(rules.ok());
  EXPECT_TRUE(rules->empty());
  EXPECT_EQ(client_->RemoveGoalRule("archive").status().code(), ErrorCode::kNotFound);

  // A merged tag's rule goes to the other name.
  ASSERT_TRUE(client_->SetGoalRule("old-archive", 3).ok());
  auto merged = client_->TagAdmin(Client::TagAdminOp::kMerge, "old-archive", "cold");
  ASSERT_TRUE(merged.ok()) << merged.status();
  rules = client_->ListGoalRules();
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ(rules->front().tag, "cold");
  EXPECT_EQ(rules->front().goal, 3);
  ASSERT_TRUE(client_->RemoveGoalRule("cold").ok());

  // Nothing on the way set: the cluster default.
  auto plain = client_->Create(kRootInode, "plain", 0644);
  ASSERT_TRUE(plain.ok());
  out = Cli({"goal", "get", "/plain"});
  EXPECT_EQ(out.out, "/plain: 2 (cluster default)\n") << out.err;
}

// A million files make a scan of the chunk map take seconds: once a pass
// found nothing, the repair does not scan again until something changes.
TEST_F(GoalTest, AnIdleRepairDoesNotScanTheChunkMapAgain) {
  auto f = WriteFile(kRootInode, "idle", 40);
  ASSERT_TRUE(f.ok()) << f.status();
  int64_t before = SettledScans();
  ASSERT_GE(before, 0);
  // Ten intervals: at most one scan (the periodic one).
  EXPECT_FALSE(WaitFor([&] { return Scans() > before + 1; }, std::chrono::seconds(2)))
      << "an idle repair scanned " << Scans() - before << " times in 2 s";
  // A change is seen at once.
  before = Scans();
  ASSERT_TRUE(client_->SetGoal(f->inode, 3).ok());
  EXPECT_TRUE(WaitForReplicas(f->inode, 3)) << Shown(f->inode);
  EXPECT_GT(Scans(), before);
}

// Nor do writes that leave their chunks at goal make it scan: a cluster
// being written to would otherwise read its whole chunk map every interval
// (docs/repair.md, "Idle passes").
TEST_F(GoalTest, WritesThatKeepTheirChunksAtGoalDoNotMakeTheRepairScan) {
  auto f = WriteFile(kRootInode, "busy0", 50);
  ASSERT_TRUE(f.ok()) << f.status();
  const int64_t before = SettledScans();
  ASSERT_GE(before, 0);
  // Twelve files (24 chunk commits) over about ten intervals.
  for (int i = 1; i <= 12; ++i) {
    auto g = WriteFile(kRootInode, "busy" + std::to_string(i), 50 + 2 * i);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(LiveReplicas(g->inode), (std::vector<int>{2, 2}));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  // At most the periodic scan.
  EXPECT_LE(Scans(), before + 1) << "the repair scanned " << Scans() - before
                                 << " times while writes kept their chunks at goal";
}

TEST_F(GoalTest, PermissionsAndBadInputAreRefused) {
  // Someone who is not root: a key that maps every request to uid 1234.
  AttrChanges open_root;
  open_root.mode = 0777;
  ASSERT_TRUE(client_->SetAttr(kRootInode, open_root).ok());
  ExportKeyInfo info;
  info.name = "user";
  info.mapall = true;
  info.map_uid = 1234;
  info.map_gid = 1234;
  auto key = client_->AddKey(info);
  ASSERT_TRUE(key.ok()) << key.status();
  ClientOptions o;
  o.meta_address = cluster_->meta_tcp_address();
  o.key = Credential{key->first.key_id, key->second};
  o.meta_retry_ms = 2000;
  auto user = Client::Connect(o);
  ASSERT_TRUE(user.ok()) << user.status();

  auto roots = client_->Create(kRootInode, "roots", 0644);
  ASSERT_TRUE(roots.ok());
  auto mine = (*user)->Create(kRootInode, "mine", 0644);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ((*user)->SetGoal(roots->inode, 3).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE((*user)->SetGoal(mine->inode, 3).ok());
  EXPECT_EQ((*user)->SetGoalRule("precious", 3).status().code(), ErrorCode::kNotPermitted);
  EXPECT_EQ((*user)->DrainServer(cluster_->chunk_server_id(0), true).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ((*user)->RemoveServer(cluster_->chunk_server_id(0)).code(),
            ErrorCode::kPermissionDenied);
  // -r below a directory: what the caller may not write is left, and counted.
  auto dir = (*user)->Mkdir(kRootInode, "shared", 0777);
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(client_->Create(dir->inode, "root-file", 0644).ok());
  ASSERT_TRUE((*user)->Create(dir->inode, "user-file", 0644).ok());
  auto page = (*user)->SetGoalChildren(dir->inode, 3, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->changed, 1);
  EXPECT_EQ(page->denied, 1);

  // The server bounds the goal whatever the client sends.
  EXPECT_EQ(client_->SetGoal(mine->inode, 10).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->SetGoal(mine->inode, 0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->SetGoal(mine->inode, -3).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->SetGoalRule("x", 12).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->SetGoalRule("", 2).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->SetGoalChildren(mine->inode, 2, "").status().code(), ErrorCode::kNotDir);
  EXPECT_EQ(client_->GetGoal(987654321).status().code(), ErrorCode::kNotFound);

  // The CLI: one line saying what failed, and a non-zero exit.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"goal", "set", "/mine", "0"},
        std::vector<std::string>{"goal", "set", "/mine", "10"},
        std::vector<std::string>{"goal", "set", "/mine", "three"},
        std::vector<std::string>{"goal", "set", "--tag", "t", "99"},
        std::vector<std::string>{"goal", "get", "/no-such-file"},
        std::vector<std::string>{"goal", "rm", "--tag", "never-ruled"},
        std::vector<std::string>{"server", "drain", "x1"},
        std::vector<std::string>{"server", "drain", "4242"},
        std::vector<std::string>{"server", "remove", "0"}}) {
    auto r = Cli(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << cmd << ": " << r.err;
    EXPECT_EQ(r.err.rfind("ddbfs: ", 0), 0u) << cmd << ": " << r.err;
  }
  auto r = Cli({"goal", "set", "/mine", "10"});
  EXPECT_NE(r.err.find("goal '10' is not a number from 1 to 9"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ddbfs::testing
