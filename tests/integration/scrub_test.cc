// Scrubbing, orphans and fsck end to end (docs/repair.md, "Scrubbing",
// "Orphans", "fsck"): bytes flipped and files deleted on a chunk server's
// disk are found (by the scrubber, by a read, by fsck) and replaced from a
// good replica; replica files the metadata does not know are removed after
// the grace while the server runs; ddbfs fsck reports and repairs.
// Real PostgreSQL, metaserver, chunk server and CLI processes.

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "ChunkService.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "process.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr size_t kMiB = 1 << 20;
// File offset of the first data byte of a chunk file (docs/chunk_format.md).
constexpr off_t kDataOffset = 16384;

ClusterOptions ScrubCluster(bool scrub) {
  ClusterOptions o;
  o.chunk_servers = 3;
  o.heartbeat_timeout_ms = 1000;
  o.metaserver_args = {"--repair-interval-ms", "200"};
  o.chunkserver_args = {"--scrub-interval-s", scrub ? "1" : "0", "--scrub-mib-per-s", "64"};
  return o;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Flips one byte of a chunk file, as rot on the disk would.
void FlipByte(const std::string& path, off_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, offset), 1);
  c = static_cast<char>(c ^ 0x5a);
  ASSERT_EQ(::pwrite(fd, &c, 1, offset), 1);
  ::close(fd);
}

// True when chunk 0 of `inode` has exactly `goal` live current replicas,
// each holding exactly `want`, and `goal` replica files on the disks.
bool AtGoalAndIdentical(TestCluster& cluster, Client& client, InodeId inode,
                        const std::string& want, int goal, std::string* why) {
  auto chunks = client.Chunks(inode);
  if (!chunks.ok() || chunks->empty()) {
    *why = chunks.ok() ? "no chunk" : chunks.status().ToString();
    return false;
  }
  const ChunkView& ch = chunks->front();
  int live = 0;
  for (const ReplicaView& r : ch.replicas) {
    if (!r.current || !r.alive) continue;
    ++live;
    auto data = ReadReplica(cluster, r.address, ch);
    if (!data.ok() || *data != want) {
      *why = "replica on server " + std::to_string(r.server_id) + ": " +
             (data.ok() ? FirstDifference(*data, want) : data.status().ToString());
      return false;
    }
  }
  int files = 0;
  for (int i = 0; i < cluster.chunk_server_count(); ++i) {
    files += FindChunkFile(cluster.chunk_data_dir(i), ch.chunk_id).empty() ? 0 : 1;
  }
  *why = std::to_string(live) + " live replicas, " + std::to_string(files) + " files on disk";
  return live == goal && files == goal;
}

// Every page of fsck; true when nothing is missing, corrupt or under goal.
bool FsckClean(Client& client, std::string* why) {
  int64_t after = 0;
  std::string problems;
  while (true) {
    auto page = client.Fsck("", false, after, 1000);
    if (!page.ok()) {
      *why = page.status().ToString();
      return false;
    }
    for (const FsckChunkView& c : page->chunks) {
      for (const std::string& p : c.problems) {
        if (p == "missing" || p == "corrupt" || p == "under_goal") {
          problems += "chunk " + std::to_string(c.chunk_id) + " " + p + "; ";
        }
      }
    }
    if (!page->servers_not_checked.empty()) problems += "a server not checked; ";
    if (!page->more) break;
    after = page->next_after_chunk_id;
  }
  *why = problems;
  return problems.empty();
}

std::string ChunkServerLog(TestCluster& c, int i) {
  return Slurp(c.dir() + "/chunkserver" + std::to_string(i + 1) + ".log");
}

// (a) A byte flipped in a replica file: the scrubber finds it (no read is
// made), the replica is dropped, deleted and copied back from the good one.
TEST(ScrubTest, ScrubberFindsAFlippedByteAndTheReplicaIsReplaced) {
  auto cluster = TestCluster::Start(ScrubCluster(true));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(3 * kMiB / 2, 41);
  auto f = PutFile(*client, "rot", data);
  ASSERT_TRUE(f.ok()) << f.status();
  auto chunks = client->Chunks(f->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 1u);
  const ChunkView ch = chunks->front();
  const int victim = IndexOfServer(*cluster, ch.replicas.at(0).server_id);
  ASSERT_GE(victim, 0);
  const std::string path = FindChunkFile(cluster->chunk_data_dir(victim), ch.chunk_id);
  ASSERT_FALSE(path.empty());
  FlipByte(path, kDataOffset + static_cast<off_t>(kMiB) + 777);  // in block 16

  const std::string hex = [&] {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(ch.chunk_id));
    return std::string(buf);
  }();
  EXPECT_TRUE(WaitFor(
      [&] {
        return ChunkServerLog(*cluster, victim).find("scrub: replica of chunk " + hex) !=
               std::string::npos;
      },
      std::chrono::seconds(20)))
      << "the scrubber did not find the flipped byte";
  std::string why;
  EXPECT_TRUE(
      WaitFor([&] { return AtGoalAndIdentical(*cluster, *client, f->inode, data, 2, &why); },
              std::chrono::seconds(30)))
      << why;
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_GT(st->repair_chunks_copied, 0);
  EXPECT_TRUE(FsckClean(*client, &why)) << why;
  auto back = ReadAll(*client, f->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);
}

// (b) A replica file deleted on disk: the scrubber finds it gone and the
// chunk is copied back to goal.
TEST(ScrubTest, DeletedChunkFileIsFoundAndRepaired) {
  auto cluster = TestCluster::Start(ScrubCluster(true));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(700 * 1024, 42);
  auto f = PutFile(*client, "gone", data);
  ASSERT_TRUE(f.ok()) << f.status();
  auto chunks = client->Chunks(f->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 1u);
  const int victim = IndexOfServer(*cluster, chunks->front().replicas.at(1).server_id);
  ASSERT_GE(victim, 0);
  const std::string path = FindChunkFile(cluster->chunk_data_dir(victim), chunks->front().chunk_id);
  ASSERT_FALSE(path.empty());
  ASSERT_TRUE(std::filesystem::remove(path));
  std::string why;
  EXPECT_TRUE(WaitFor(
      [&] {
        return ChunkServerLog(*cluster, victim).find("is gone from") != std::string::npos &&
               AtGoalAndIdentical(*cluster, *client, f->inode, data, 2, &why);
      },
      std::chrono::seconds(30)))
      << why;
  EXPECT_TRUE(FsckClean(*client, &why)) << why;
}

// (c) A chunk server restarted on an empty data folder (a new disk): it
// comes back as a new server, and every chunk is back at goal.
TEST(ScrubTest, WipedDataFolderEveryChunkBackAtGoal) {
  auto cluster = TestCluster::Start(ScrubCluster(true));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  std::vector<std::pair<InodeId, std::string>> files;
  for (int i = 0; i < 6; ++i) {
    const std::string data = Bytes(300 * 1024 + static_cast<size_t>(i) * 1000, 100 + i);
    auto f = PutFile(*client, "w" + std::to_string(i), data);
    ASSERT_TRUE(f.ok()) << f.status();
    files.emplace_back(f->inode, data);
  }
  cluster->KillChunkServer(0, SIGKILL);
  std::filesystem::remove_all(cluster->chunk_data_dir(0));
  std::filesystem::create_directories(cluster->chunk_data_dir(0));
  cluster->StartChunkServer(0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = client->ClusterStatus();
        return st.ok() && st->servers.size() == 4u && st->chunks_under_goal == 0 &&
               st->chunks_missing == 0;
      },
      std::chrono::seconds(40)));
  for (const auto& [inode, data] : files) {
    std::string why;
    EXPECT_TRUE(WaitFor([&] { return AtGoalAndIdentical(*cluster, *client, inode, data, 2, &why); },
                        std::chrono::seconds(20)))
        << why;
  }
  std::string why;
  EXPECT_TRUE(FsckClean(*client, &why)) << why;
}

// (d) With no scrubber, a client read hits the flipped byte: it gets the
// right bytes from the good replica, and its report has the bad replica
// replaced.
TEST(ScrubTest, ReadHittingAFlippedByteIsServedAndTriggersTheRepair) {
  auto cluster = TestCluster::Start(ScrubCluster(false));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string data = Bytes(kMiB, 43);
  auto f = PutFile(*client, "read", data);
  ASSERT_TRUE(f.ok()) << f.status();
  auto chunks = client->Chunks(f->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 1u);
  // One replica rots; read until a reader has hit it (the replica a reader
  // tries first may be the good one).
  const int victim = IndexOfServer(*cluster, chunks->front().replicas.at(0).server_id);
  const int victim_id = chunks->front().replicas.at(0).server_id;
  const std::string path = FindChunkFile(cluster->chunk_data_dir(victim), chunks->front().chunk_id);
  ASSERT_FALSE(path.empty());
  FlipByte(path, kDataOffset + 5);
  bool reported = false;
  for (int attempt = 0; attempt < 40 && !reported; ++attempt) {
    auto reader = cluster->NewClient();
    ASSERT_TRUE(reader);
    auto got = ReadAll(*reader, f->inode);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(*got == data) << "read " << attempt << ": " << FirstDifference(*got, data);
    auto now = client->Chunks(f->inode);
    ASSERT_TRUE(now.ok());
    reported = true;
    for (const ReplicaView& r : now->front().replicas) {
      reported = reported && r.server_id != victim_id;
    }
    if (!reported) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(reported) << "no read reported the bad replica";
  std::string why;
  EXPECT_TRUE(
      WaitFor([&] { return AtGoalAndIdentical(*cluster, *client, f->inode, data, 2, &why); },
              std::chrono::seconds(30)))
      << why;
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_GT(st->repair_chunks_copied, 0);
}

// Makes server `target` copy chunk `ch` from `source` (as the repair does)
// without the metaserver knowing: an unrecorded replica.
Status CopyBehindTheMetaserversBack(TestCluster& cluster, int target, const ChunkView& ch,
                                    const ReplicaView& source) {
  std::string host, src_host;
  int port = 0, src_port = 0;
  RETURN_IF_ERROR(ParseHostPort(cluster.chunk_address(target), &host, &port));
  RETURN_IF_ERROR(ParseHostPort(source.address, &src_host, &src_port));
  RpcConnection<rpc::ChunkServiceClient> conn(host, port, 10000, cluster.cluster_transport());
  rpc::ReplicateChunkRequest req;
  req.chunk_id = ch.chunk_id;
  req.version = static_cast<int64_t>(ch.version);
  req.source.server_id = source.server_id;
  req.source.host = src_host;
  req.source.port = src_port;
  rpc::ReplicateChunkResponse resp;
  RETURN_IF_ERROR(conn.Call([&](rpc::ChunkServiceClient& c) { c.ReplicateChunk(resp, req); }));
  return FromRpc(resp.status);
}

// (e) Replica files the metadata does not know - a copy of a chunk whose
// file was deleted since, an unrecorded copy of a live chunk - are removed
// once older than the grace, while their server keeps running.
TEST(ScrubTest, OrphanChunkFilesAreRemovedAfterTheGraceWithoutARestart) {
  ClusterOptions o = ScrubCluster(false);
  o.metaserver_args = {"--repair-interval-ms", "200", "--orphan-grace-s", "4"};
  o.chunkserver_args.insert(o.chunkserver_args.end(), {"--inventory-check-interval-s", "1"});
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string kept_data = Bytes(200 * 1024, 44);
  auto doomed = PutFile(*client, "doomed", Bytes(200 * 1024, 45));
  auto kept = PutFile(*client, "kept", kept_data);
  ASSERT_TRUE(doomed.ok() && kept.ok());
  std::vector<std::pair<int, int64_t>> orphans;  // (server index, chunk id)
  for (InodeId inode : {doomed->inode, kept->inode}) {
    auto chunks = client->Chunks(inode);
    ASSERT_TRUE(chunks.ok() && chunks->size() == 1u);
    const ChunkView& ch = chunks->front();
    std::set<int> holders;
    for (const ReplicaView& r : ch.replicas) holders.insert(IndexOfServer(*cluster, r.server_id));
    int target = 0;
    while (holders.count(target)) ++target;
    ASSERT_TRUE(CopyBehindTheMetaserversBack(*cluster, target, ch, ch.replicas.front()).ok());
    ASSERT_FALSE(FindChunkFile(cluster->chunk_data_dir(target), ch.chunk_id).empty());
    orphans.emplace_back(target, ch.chunk_id);
  }
  ASSERT_TRUE(client->Unlink(kRootInode, "doomed").ok());
  const auto copied = std::chrono::steady_clock::now();
  // Not before the grace.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (const auto& [server, chunk] : orphans) {
    EXPECT_FALSE(FindChunkFile(cluster->chunk_data_dir(server), chunk).empty())
        << "orphan of chunk " << chunk << " removed before the grace";
  }
  for (const auto& [server, chunk] : orphans) {
    EXPECT_TRUE(
        WaitFor([&] { return FindChunkFile(cluster->chunk_data_dir(server), chunk).empty(); },
                std::chrono::seconds(20)))
        << "orphan of chunk " << chunk << " on server " << server << " still there";
  }
  EXPECT_GE(std::chrono::steady_clock::now() - copied, std::chrono::seconds(4));
  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    EXPECT_TRUE(cluster->chunk_server_running(i)) << "chunk server " << i << " restarted";
  }
  std::string why;
  EXPECT_TRUE(AtGoalAndIdentical(*cluster, *client, kept->inode, kept_data, 2, &why)) << why;
  auto back = ReadAll(*client, kept->inode);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == kept_data);
}

CommandResult Fsck(TestCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {cluster.bin("ddbfs"), "--meta", cluster.meta_address(), "fsck"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", std::chrono::seconds(120));
}

std::string Show(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out.substr(0, 3000) +
         "\nstderr: " + r.err.substr(0, 2000);
}

// (f) ddbfs fsck: clean on a healthy cluster (exit 0); after goal-1
// replicas of a file are lost it names the file's chunks under goal (exit
// 8); --repair brings them back (exit 0, no file lost); after every replica
// of a chunk is destroyed --repair names that file as having lost data.
TEST(ScrubTest, FsckReportsRepairsAndNamesLostFiles) {
  auto cluster = TestCluster::Start(ScrubCluster(false));
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto dir = client->Mkdir(kRootInode, "d", 0755);
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto write = [&](const std::string& name, uint64_t seed) -> Result<Attr> {
    ASSIGN_OR_RETURN(Attr a, client->Create(dir->inode, name, 0644));
    ASSIGN_OR_RETURN(auto w, client->OpenWriter(a.inode));
    RETURN_IF_ERROR(WriteAt(*w, 0, Bytes(300 * 1024, seed)));
    RETURN_IF_ERROR(WriteAt(*w, kChunkSize, Bytes(100 * 1024, seed + 1)));  // a second chunk
    RETURN_IF_ERROR(w->Sync());
    RETURN_IF_ERROR(w->Close());
    return a;
  };
  auto one = write("one", 50);
  auto two = write("two", 60);
  ASSERT_TRUE(one.ok() && two.ok());

  CommandResult r = Fsck(*cluster, {});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("status: clean"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("chunks checked: 4, missing: 0, corrupt: 0, stale: 0, under goal: 0"),
            std::string::npos)
      << Show(r);
  r = Fsck(*cluster, {"--json"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("\"clean\": true"), std::string::npos) << Show(r);

  // goal - 1 = 1 replica of each chunk of /d/one lost.
  auto chunks = client->Chunks(one->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 2u);
  for (const ChunkView& ch : *chunks) {
    const int s = IndexOfServer(*cluster, ch.replicas.at(0).server_id);
    ASSERT_TRUE(std::filesystem::remove(FindChunkFile(cluster->chunk_data_dir(s), ch.chunk_id)));
  }
  r = Fsck(*cluster, {});
  EXPECT_EQ(r.exit_code, 8) << Show(r);
  EXPECT_NE(r.out.find("/d/one: chunk 0"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("/d/one: chunk 1"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("under_goal"), std::string::npos) << Show(r);
  EXPECT_EQ(r.out.find("/d/two"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("status: NOT clean"), std::string::npos) << Show(r);
  // PATH limits the report.
  r = Fsck(*cluster, {"/d/two"});
  EXPECT_EQ(r.out.find("/d/one"), std::string::npos) << Show(r);

  r = Fsck(*cluster, {"--repair", "--wait", "40"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("files that lost data: none"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("status: clean"), std::string::npos) << Show(r);
  r = Fsck(*cluster, {});
  EXPECT_EQ(r.exit_code, 0) << Show(r);

  // Every replica of chunk 1 of /d/two destroyed.
  chunks = client->Chunks(two->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 2u);
  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    const std::string path = FindChunkFile(cluster->chunk_data_dir(i), chunks->at(1).chunk_id);
    if (!path.empty()) {
      ASSERT_TRUE(std::filesystem::remove(path));
    }
  }
  r = Fsck(*cluster, {"--repair", "--wait", "20"});
  EXPECT_EQ(r.exit_code, 8) << Show(r);
  EXPECT_NE(r.out.find("lost: /d/two"), std::string::npos) << Show(r);
  EXPECT_EQ(r.out.find("lost: /d/one"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("missing"), std::string::npos) << Show(r);
}

}  // namespace
}  // namespace ddbfs::testing
