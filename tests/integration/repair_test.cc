// Repair end to end (docs/repair.md): chunk servers killed with kill -9,
// the metaserver copies every chunk back to its goal server to server with
// no one acting, a server that returns has its stale and extra replicas
// deleted, and a copy of a chunk that changed meanwhile is not recorded.
// Real PostgreSQL, metaserver and chunk server processes.

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "ChunkService.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr size_t kKiB = 1 << 10;

// A file written as pieces at the start of its chunks (sparse: the test
// moves little data but every file has several chunks).
struct SparseFile {
  std::string name;
  InodeId inode = 0;
  std::vector<std::string> pieces;  // piece i at offset i * kChunkSize
};

std::string PieceOf(int file, int piece, size_t size, uint64_t salt = 0) {
  return Bytes(size, 1000 * static_cast<uint64_t>(file) + static_cast<uint64_t>(piece) + salt);
}

ClusterOptions RepairCluster(int servers) {
  ClusterOptions o;
  o.chunk_servers = servers;
  o.heartbeat_timeout_ms = 1000;  // dead after 1 s
  o.metaserver_args = {"--repair-interval-ms", "200"};
  return o;
}

// True once the cluster status satisfies `pred` (polled until `timeout`).
template <typename Pred>
bool WaitForStatus(Client& c, Pred pred, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        auto st = c.ClusterStatus();
        return st.ok() && pred(*st);
      },
      timeout);
}

std::string Describe(const ClusterView& st) {
  return "under goal " + std::to_string(st.chunks_under_goal) + ", over goal " +
         std::to_string(st.chunks_over_goal) + ", missing " + std::to_string(st.chunks_missing) +
         ", pending deletions " + std::to_string(st.pending_deletions) + ", copied " +
         std::to_string(st.repair_chunks_copied) + ", in flight " +
         std::to_string(st.repair_copies_in_flight) + ", failed " +
         std::to_string(st.repair_copies_failed) + ", discarded " +
         std::to_string(st.repair_copies_discarded) + ", trimmed " +
         std::to_string(st.repair_replicas_trimmed);
}

std::string StatusLine(Client& c) {
  auto st = c.ClusterStatus();
  return st.ok() ? Describe(*st) : st.status().ToString();
}

// Every chunk of `f` has exactly `goal` live replicas of its committed
// version, on distinct servers with distinct host labels, and each of them
// holds exactly the bytes written.
void ExpectAtGoal(TestCluster& cluster, Client& client, const SparseFile& f, int goal) {
  auto chunks = client.Chunks(f.inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), f.pieces.size()) << f.name;
  for (const ChunkView& ch : *chunks) {
    const std::string& want = f.pieces.at(static_cast<size_t>(ch.index));
    std::set<int> servers;
    std::set<std::string> labels;
    for (const ReplicaView& r : ch.replicas) {
      if (!r.current || !r.alive) continue;
      servers.insert(r.server_id);
      labels.insert(r.label);
      auto data = ReadReplica(cluster, r.address, ch);
      ASSERT_TRUE(data.ok()) << f.name << " chunk " << ch.index << " on server " << r.server_id
                             << ": " << data.status();
      EXPECT_TRUE(*data == want) << f.name << " chunk " << ch.index << " on server " << r.server_id
                                 << ": " << FirstDifference(*data, want);
    }
    EXPECT_EQ(static_cast<int>(servers.size()), goal)
        << f.name << " chunk " << ch.index << " (id " << ch.chunk_id << ") live replicas";
    EXPECT_EQ(labels.size(), servers.size())
        << f.name << " chunk " << ch.index << ": two replicas on one host";
  }
}

// Reads every piece of `f` back through the client (failover and all), and
// a few bytes of a hole.
void ExpectReadsBack(Client& client, const SparseFile& f) {
  for (size_t i = 0; i < f.pieces.size(); ++i) {
    auto got = ReadRange(client, f.inode, i * kChunkSize, f.pieces[i].size());
    ASSERT_TRUE(got.ok()) << f.name << " piece " << i << ": " << got.status();
    EXPECT_TRUE(*got == f.pieces[i])
        << f.name << " piece " << i << ": " << FirstDifference(*got, f.pieces[i]);
  }
  if (f.pieces.size() < 2) return;
  auto hole = ReadRange(client, f.inode, f.pieces[0].size() + 4096, 4096);
  ASSERT_TRUE(hole.ok()) << hole.status();
  EXPECT_TRUE(*hole == std::string(4096, '\0')) << f.name << ": a hole does not read as zeros";
}

Status WriteSparse(Client& client, SparseFile* f) {
  ASSIGN_OR_RETURN(Attr a, client.Create(kRootInode, f->name, 0644));
  f->inode = a.inode;
  ASSIGN_OR_RETURN(auto w, client.OpenWriter(a.inode));
  for (size_t i = 0; i < f->pieces.size(); ++i) {
    RETURN_IF_ERROR(WriteAt(*w, i * kChunkSize, f->pieces[i]));
  }
  RETURN_IF_ERROR(w->Sync());
  return w->Close();
}

// Replica files of `chunk_id` over every chunk server's folder.
int ChunkFilesOnDisk(TestCluster& c, int64_t chunk_id) {
  int n = 0;
  for (int i = 0; i < c.chunk_server_count(); ++i) {
    n += FindChunkFile(c.chunk_data_dir(i), chunk_id).empty() ? 0 : 1;
  }
  return n;
}

// (a) kill -9 of a chunk server in the middle of a stream of writes: every
// write completes (or fails with a clear error), everything acknowledged
// reads back, and the goal is restored by the metaserver alone.
TEST(RepairTest, Kill9DuringWritesGoalIsRestoredWithoutAnyoneActing) {
  auto cluster = TestCluster::Start(RepairCluster(4));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  constexpr int kFiles = 8;
  constexpr int kPieces = 3;
  std::vector<SparseFile> files(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    files[i].name = "f" + std::to_string(i);
    for (int p = 0; p < kPieces; ++p) files[i].pieces.push_back(PieceOf(i, p, 512 * kKiB));
  }
  // The writer stops after the first piece of file 3 until the kill is done.
  std::mutex mu;
  std::condition_variable cv;
  bool reached = false, killed = false;
  std::vector<Status> results(kFiles);
  std::thread writer([&] {
    auto c = cluster->NewClient();
    if (!c) return;
    for (int i = 0; i < kFiles; ++i) {
      SparseFile& f = files[i];
      Status s = [&]() -> Status {
        // CreateForWrite places chunk 0 at once: its servers are known.
        ASSIGN_OR_RETURN(CreatedFile created, c->CreateForWrite(kRootInode, f.name, 0644));
        f.inode = created.attr.inode;
        std::unique_ptr<FileWriter> w = std::move(created.writer);
        for (int p = 0; p < kPieces; ++p) {
          RETURN_IF_ERROR(WriteAt(*w, p * kChunkSize, f.pieces[p]));
          if (i == 3 && p == 0) {
            std::unique_lock<std::mutex> lock(mu);
            reached = true;
            cv.notify_all();
            cv.wait(lock, [&] { return killed; });
          }
        }
        RETURN_IF_ERROR(w->Sync());
        return w->Close();
      }();
      results[i] = s;
    }
  });
  bool was_reached = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    was_reached = cv.wait_for(lock, std::chrono::seconds(30), [&] { return reached; });
  }
  // Kill a server that holds chunk 0 of the file being written (placed,
  // not committed yet).
  int victim = -1;
  if (was_reached) {
    auto open_chunks = client->Chunks(files[3].inode);
    if (open_chunks.ok() && !open_chunks->empty() && !open_chunks->front().replicas.empty()) {
      victim = IndexOfServer(*cluster, open_chunks->front().replicas.front().server_id);
    }
    if (victim >= 0) cluster->KillChunkServer(victim, SIGKILL);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    killed = true;
  }
  cv.notify_all();
  writer.join();
  ASSERT_TRUE(was_reached) << "the writer did not get to file 3";
  ASSERT_GE(victim, 0) << "chunk 0 of the file being written has no placed replica";

  std::vector<const SparseFile*> acknowledged;
  for (int i = 0; i < kFiles; ++i) {
    if (results[i].ok()) {
      acknowledged.push_back(&files[i]);
    } else {
      // Failing is allowed, but clearly.
      EXPECT_FALSE(results[i].message().empty()) << files[i].name;
      std::cout << files[i].name << " failed: " << results[i] << "\n";
    }
  }
  ASSERT_GE(acknowledged.size(), 4u);  // the files written before the kill at least
  for (const SparseFile* f : acknowledged) ExpectReadsBack(*client, *f);

  // No one acts: the metaserver declares the server dead and copies.
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 10000));
  ASSERT_TRUE(WaitForStatus(
      *client,
      [](const ClusterView& st) { return st.chunks_under_goal == 0 && st.chunks_missing == 0; },
      std::chrono::seconds(30)))
      << "goal not restored: " << StatusLine(*client);
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->repair_enabled);
  EXPECT_GT(st->repair_chunks_copied, 0) << Describe(*st);
  EXPECT_GT(st->repair_bytes_copied, 0);
  for (const SparseFile* f : acknowledged) {
    ExpectAtGoal(*cluster, *client, *f, 2);
    ExpectReadsBack(*client, *f);
  }
}

// (b) Goal 3, two servers killed one after the other (the second before the
// first one's chunks are all back): nothing lost, goal restored.
TEST(RepairTest, Goal3TwoServersKilledOneAfterTheOtherNothingLost) {
  auto cluster = TestCluster::Start(RepairCluster(5));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  AttrChanges goal3;
  goal3.goal = 3;
  ASSERT_TRUE(client->SetAttr(kRootInode, goal3).ok());
  constexpr int kFiles = 6;
  std::vector<SparseFile> files(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    files[i].name = "g" + std::to_string(i);
    for (int p = 0; p < 3; ++p) files[i].pieces.push_back(PieceOf(i, p, 256 * kKiB, 7));
    ASSERT_TRUE(WriteSparse(*client, &files[i]).ok()) << files[i].name;
  }
  for (const SparseFile& f : files) ExpectAtGoal(*cluster, *client, f, 3);

  // Two holders of one chunk: after both die it has one live copy.
  auto chunks = client->Chunks(files[0].inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->front().replicas.size(), 3u);
  const int first = IndexOfServer(*cluster, chunks->front().replicas[0].server_id);
  const int second = IndexOfServer(*cluster, chunks->front().replicas[1].server_id);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  cluster->KillChunkServer(first, SIGKILL);
  ASSERT_TRUE(cluster->WaitForAliveServers(4, 10000));
  cluster->KillChunkServer(second, SIGKILL);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 10000));

  ASSERT_TRUE(WaitForStatus(
      *client,
      [](const ClusterView& st) { return st.chunks_under_goal == 0 && st.chunks_missing == 0; },
      std::chrono::seconds(40)))
      << "goal not restored: " << StatusLine(*client);
  for (const SparseFile& f : files) {
    ExpectAtGoal(*cluster, *client, f, 3);
    ExpectReadsBack(*client, f);
  }
}

// (c) A server killed, repaired around, then restarted: its stale replica
// (the chunk was rewritten while it was away) is deleted and the chunks it
// brings back over goal are trimmed, on disk too.
TEST(RepairTest, ReturningServerHasStaleReplicasDeletedAndExtrasTrimmed) {
  auto cluster = TestCluster::Start(RepairCluster(4));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  constexpr int kFiles = 6;
  std::vector<SparseFile> files(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    files[i].name = "r" + std::to_string(i);
    for (int p = 0; p < 2; ++p) files[i].pieces.push_back(PieceOf(i, p, 256 * kKiB, 11));
    ASSERT_TRUE(WriteSparse(*client, &files[i]).ok()) << files[i].name;
  }
  auto before = client->Chunks(files[0].inode);
  ASSERT_TRUE(before.ok()) << before.status();
  const int victim = IndexOfServer(*cluster, before->front().replicas.front().server_id);
  ASSERT_GE(victim, 0);
  cluster->KillChunkServer(victim, SIGKILL);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 10000));

  // Rewrite chunk 0 of r0 while the victim is away: its copy is stale now.
  files[0].pieces[0] = PieceOf(0, 0, 256 * kKiB, 99);
  {
    auto w = client->OpenWriter(files[0].inode);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE(WriteAt(**w, 0, files[0].pieces[0]).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  ASSERT_TRUE(WaitForStatus(
      *client,
      [](const ClusterView& st) { return st.chunks_under_goal == 0 && st.chunks_missing == 0; },
      std::chrono::seconds(30)))
      << "goal not restored: " << StatusLine(*client);
  const std::string stale_file =
      FindChunkFile(cluster->chunk_data_dir(victim), before->front().chunk_id);
  ASSERT_FALSE(stale_file.empty()) << "the dead server's copy should still be on its disk";

  cluster->StartChunkServer(victim);
  ASSERT_TRUE(cluster->WaitForAliveServers(4, 10000));
  // Its current replicas make chunks over goal: trimmed; its stale one and
  // the trimmed ones are deleted from the disks.
  ASSERT_TRUE(WaitForStatus(
      *client,
      [](const ClusterView& st) {
        return st.repair_replicas_trimmed > 0 && st.chunks_over_goal == 0 &&
               st.chunks_under_goal == 0 && st.pending_deletions == 0;
      },
      std::chrono::seconds(30)))
      << "extra or stale replicas not cleaned up: " << StatusLine(*client);
  for (const SparseFile& f : files) {
    ExpectAtGoal(*cluster, *client, f, 2);
    ExpectReadsBack(*client, f);
    auto chunks = client->Chunks(f.inode);
    ASSERT_TRUE(chunks.ok());
    for (const ChunkView& ch : *chunks) {
      EXPECT_EQ(ch.replicas.size(), 2u) << f.name << " chunk " << ch.index << " replica rows";
      EXPECT_TRUE(WaitFor([&] { return ChunkFilesOnDisk(*cluster, ch.chunk_id) == 2; },
                          std::chrono::seconds(10)))
          << f.name << " chunk " << ch.index << ": " << ChunkFilesOnDisk(*cluster, ch.chunk_id)
          << " replica files on disk for goal 2";
    }
  }
  // The stale copy on the returned server is gone (unless it was refilled
  // with the current version, which the count above would show).
  auto now = client->Chunks(files[0].inode);
  ASSERT_TRUE(now.ok());
  bool victim_holds = false;
  for (const ReplicaView& r : now->front().replicas) {
    victim_holds = victim_holds || IndexOfServer(*cluster, r.server_id) == victim;
  }
  if (!victim_holds) {
    EXPECT_TRUE(FindChunkFile(cluster->chunk_data_dir(victim), before->front().chunk_id).empty())
        << "stale replica left on the returned server";
  }
}

// The temporary file a copy of `chunk_id` fills on some server, with at least
// `bytes` of it written; "" if none.
std::string CopyInProgress(TestCluster& c, int64_t chunk_id, uintmax_t bytes) {
  char want[48];
  std::snprintf(want, sizeof want, "%016llx.chunk.tmp", static_cast<unsigned long long>(chunk_id));
  for (int i = 0; i < c.chunk_server_count(); ++i) {
    if (!c.chunk_server_running(i)) continue;
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(c.chunk_data_dir(i), ec)) {
      if (e.path().filename() != want) continue;
      std::error_code size_ec;
      if (std::filesystem::file_size(e.path(), size_ec) >= bytes && !size_ec) {
        return e.path().string();
      }
    }
  }
  return "";
}

// (d) A copy made while a writer moved the chunk to a new version is not
// recorded: the repair copies at 1 MiB/s, so the 1 MiB chunk is read at
// once and committed a second later; the file is rewritten in between.
TEST(RepairTest, CopyOfAChunkRewrittenDuringTheCopyIsNotRecorded) {
  ClusterOptions o = RepairCluster(3);
  o.metaserver_args = {"--repair-interval-ms", "200", "--repair-copies", "1",
                       "--repair-mib-per-s",   "1"};
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  SparseFile f;
  f.name = "moving";
  f.pieces.push_back(PieceOf(1, 0, 1 << 20, 21));
  ASSERT_TRUE(WriteSparse(*client, &f).ok());
  auto chunks = client->Chunks(f.inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  const int64_t chunk_id = chunks->front().chunk_id;
  const int victim = IndexOfServer(*cluster, chunks->front().replicas.front().server_id);
  ASSERT_GE(victim, 0);
  cluster->KillChunkServer(victim, SIGKILL);

  // The copy has read the whole chunk (header + 1 MiB in its file) and waits
  // for its pace before committing.
  ASSERT_TRUE(WaitFor([&] { return !CopyInProgress(*cluster, chunk_id, (1 << 20) + 8192).empty(); },
                      std::chrono::seconds(15)))
      << "no repair copy started: " << StatusLine(*client);
  f.pieces[0] = PieceOf(1, 0, 1 << 20, 22);
  {
    auto w = client->OpenWriter(f.inode);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE(WriteAt(**w, 0, f.pieces[0]).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  ASSERT_TRUE(WaitForStatus(
      *client, [](const ClusterView& st) { return st.repair_copies_discarded > 0; },
      std::chrono::seconds(10)))
      << "the copy of the old version was not discarded: " << StatusLine(*client);
  // Then the new version is copied, and only it.
  ASSERT_TRUE(WaitForStatus(
      *client,
      [](const ClusterView& st) {
        return st.chunks_under_goal == 0 && st.chunks_missing == 0 &&
               st.repair_copies_in_flight == 0;
      },
      std::chrono::seconds(30)))
      << "goal not restored: " << StatusLine(*client);
  ExpectAtGoal(*cluster, *client, f, 2);
  ExpectReadsBack(*client, f);
}

}  // namespace
}  // namespace ddbfs::testing
