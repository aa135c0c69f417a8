// Restarts on a real cluster: everything stopped and started again, and a
// chunk server that misses writes while it is down.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "pg_instance.h"
#include "process.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

TEST(RestartTest, AllDataSurvivesStoppingAndStartingEveryServer) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  std::vector<std::pair<InodeId, std::string>> files;
  {
    auto client = cluster->NewClient();
    ASSERT_TRUE(client);
    auto dir = client->Mkdir(1, "keep", 0755);
    ASSERT_TRUE(dir.ok()) << dir.status();
    for (int i = 0; i < 20; ++i) {
      std::string data = Bytes(static_cast<size_t>(i) * 37000 + 1, 100 + i);
      auto a = PutFile(*client, "f" + std::to_string(i), data);
      ASSERT_TRUE(a.ok()) << a.status();
      files.emplace_back(a->inode, data);
    }
    std::string big = Bytes(70u << 20, 99);  // two chunks
    auto a = PutFile(*client, "big", big);
    ASSERT_TRUE(a.ok()) << a.status();
    files.emplace_back(a->inode, big);
  }
  // Clean stop (SIGTERM) of everything, then start again.
  for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->KillChunkServer(i, SIGTERM);
  cluster->StopMetaserver(SIGTERM);
  cluster->StartMetaserver();
  for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->StartChunkServer(i);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));

  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto keep = client->ResolvePath("/keep");
  ASSERT_TRUE(keep.ok()) << keep.status();
  for (const auto& [inode, data] : files) {
    auto back = ReadAll(*client, inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "inode " << inode;
  }
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunks_missing, 0);
  EXPECT_EQ(st->chunks_under_goal, 0);
}

// A write lease that runs out while the metaserver restarts, before the
// chunk servers holding the write's first piece have registered with it, is
// not settled then (the replicas only look absent): the writer commits once
// they are back, and every byte reads back. Settling at that moment dropped
// the never-committed chunk and the close failed with a lost lease.
TEST(RestartTest, WriteLeaseIsNotSettledBeforeTheChunkServersRegisterAgain) {
  auto cluster = TestCluster::Start();  // lease 2 s, startup grace 6 s
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto f = client->Create(kRootInode, "w", 0644);
  ASSERT_TRUE(f.ok()) << f.status();
  auto w = client->OpenWriter(f->inode);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::string data = Bytes(5u << 20, 7);  // a whole 4 MiB piece goes out before the close
  ASSERT_TRUE(WriteAt(**w, 0, data).ok());
  // The first piece is on the replicas (a chunk file holding 4 MiB), not
  // committed.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < cluster->chunk_server_count(); ++i) {
          for (const auto& e :
               std::filesystem::recursive_directory_iterator(cluster->chunk_data_dir(i))) {
            if (e.path().extension() == ".chunk" && e.file_size() >= (4u << 20)) return true;
          }
        }
        return false;
      },
      std::chrono::seconds(10)))
      << "no replica of the first piece";
  auto before = client->GetAttr(f->inode);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size, 0u) << "the write was committed already";

  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    cluster->chunk_server_process(i)->Signal(SIGSTOP);
  }
  cluster->StopMetaserver(SIGKILL);
  cluster->StartMetaserver();
  // Past the lease (extended to 2 s from the start), within the grace.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    cluster->chunk_server_process(i)->Signal(SIGCONT);
  }
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
  Status closed = (*w)->Close();
  EXPECT_TRUE(closed.ok()) << closed;
  auto back = ReadAll(*client, f->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
}

// A lease its writer gives back (a file created and closed empty: the
// chunk Create prepared) is settled as soon as the chunk servers are
// registered, also within the first lease time after a start or restart,
// when leases that ran out by time still wait: the next writer of the file
// is not held up. With production's 20 s leases, fio's "create and lay out,
// then write" waited 20 s after every metaserver start.
TEST(RestartTest, ALeaseGivenBackJustAfterAStartDoesNotHoldUpTheNextWriter) {
  ClusterOptions options;
  options.lease_ms = 20000;
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto write_after_empty_create = [&](const std::string& name) -> double {
    const auto start = std::chrono::steady_clock::now();
    auto created = client->CreateForWrite(kRootInode, name, 0644);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return 1e9;
    EXPECT_TRUE(created->writer->Close().ok());  // gives chunk 0's lease back
    auto w = client->OpenWriter(created->attr.inode);
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) return 1e9;
    EXPECT_TRUE(WriteAt(**w, 0, "second writer").ok());
    Status closed = (*w)->Close();
    EXPECT_TRUE(closed.ok()) << closed;
    auto back = ReadAll(*client, created->attr.inode);
    EXPECT_TRUE(back.ok() && *back == "second writer");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double fresh = write_after_empty_create("fresh");
  EXPECT_LT(fresh, 5.0) << "right after the cluster started";
  cluster->StopMetaserver(SIGKILL);
  cluster->StartMetaserver();
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
  const double restarted = write_after_empty_create("restarted");
  EXPECT_LT(restarted, 5.0) << "right after a metaserver restart";
  std::printf("empty create then write: %.2f s fresh, %.2f s after a restart\n", fresh, restarted);
}

// A replica whose server was down during an overwrite is stale: it is never
// read, even when it is the only other copy the client could try.
TEST(RestartTest, StaleReplicaOfAServerThatMissedAWriteIsNeverServed) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string v1 = Bytes(2u << 20, 1);
  auto a = PutFile(*client, "doc", v1);
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  int down = IndexOfServer(*cluster, chunks->front().replicas.front().server_id);
  ASSERT_GE(down, 0);
  cluster->KillChunkServer(down, SIGKILL);

  // Overwrite the first MiB while that server is down.
  const std::string patch = Bytes(1u << 20, 2);
  {
    auto w = client->OpenWriter(a->inode);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE((*w)->Write(0, patch).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  std::string v2 = v1;
  v2.replace(0, patch.size(), patch);

  cluster->StartChunkServer(down);
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
  auto fresh = cluster->NewClient();
  ASSERT_TRUE(fresh);
  for (int round = 0; round < 3; ++round) {
    auto back = ReadAll(*fresh, a->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == v2) << "a stale replica was served (round " << round << ")";
  }
  auto after = fresh->Chunks(a->inode);
  ASSERT_TRUE(after.ok());
  for (const auto& r : after->front().replicas) {
    if (r.server_id == chunks->front().replicas.front().server_id) {
      EXPECT_FALSE(r.current);
    }
  }
}

// `ddbfs add` of thousands of small files while the metaserver is killed
// (SIGKILL) and started again: the add finishes with exit 0 (its calls wait
// for the metaserver, retried mutations are answered once, placement waits
// for the chunk servers to register again), and every file is whole — no
// 0-byte leftover — and at its goal.
TEST(RestartTest, MetaserverKilledDuringAddOfThousandsOfFilesLeavesEveryFileWholeAndAtGoal) {
  // Chunk servers heartbeat every 2 s, so they notice the restart (and
  // register again) well after the add's retries reach the new metaserver.
  ClusterOptions o;
  o.heartbeat_timeout_ms = 8000;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  TempDir local("ddbfs-add-restart");
  const std::string src = local.path() + "/src";
  std::filesystem::create_directories(src);
  constexpr int kFiles = 2000;
  std::vector<std::string> contents;
  for (int i = 0; i < kFiles; ++i) {
    contents.push_back(Bytes(1 + static_cast<size_t>(i) * 7 % 6000, 5000 + i));
    std::ofstream(src + "/f" + std::to_string(i), std::ios::binary) << contents.back();
  }
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  CommandResult add;
  std::thread adder([&] {
    add = RunCommand(
        {cluster->bin("ddbfs"), "--meta", cluster->meta_address(), "add", "-q", src, "/up"}, "",
        std::chrono::seconds(300));
  });
  // Kill the metaserver once a good part of the files is in.
  bool killed = false;
  for (int waited = 0; waited < 120000; waited += 20) {
    auto up = client->ResolvePath("/up");
    if (up.ok()) {
      auto page = client->ReadDir(up->inode, "", 10000);
      if (page.ok() && page->entries.size() >= kFiles / 4) {
        cluster->StopMetaserver(SIGKILL);
        killed = true;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(killed) << "the add never got a quarter of the way";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cluster->StartMetaserver();
  adder.join();
  ASSERT_EQ(add.exit_code, 0) << "stdout: " << add.out << "\nstderr: " << add.err.substr(0, 3000);
  auto up = client->ResolvePath("/up");
  ASSERT_TRUE(up.ok()) << up.status();
  auto entries = client->ListDir(up->inode);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), static_cast<size_t>(kFiles)) << "leftovers or missing files";
  int under_goal = 0, wrong = 0;
  for (const DirEntry& e : *entries) {
    const int i = std::stoi(e.name.substr(1));
    if (e.attr.size != contents[i].size()) {
      ++wrong;
      continue;
    }
    auto back = ReadAll(*client, e.attr.inode);
    if (!back.ok() || *back != contents[i]) ++wrong;
    auto chunks = client->Chunks(e.attr.inode);
    ASSERT_TRUE(chunks.ok());
    ASSERT_EQ(chunks->size(), 1u) << e.name;
    if (CurrentReplicas(chunks->front()) != 2) ++under_goal;
  }
  EXPECT_EQ(wrong, 0) << "files with a wrong size or content";
  EXPECT_EQ(under_goal, 0) << "files below their goal of 2";
}

// PostgreSQL stopped and started while four clients create and write files:
// the clients wait (their bounded retries) and carry on, no call fails, and
// every file whose Sync and Close were acknowledged is there, whole, at goal.
TEST(RestartTest, PostgresStoppedAndStartedUnderLoadLosesNothingAcknowledged) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::mutex mu;
  std::map<InodeId, std::string> files;  // acknowledged: inode -> content
  std::vector<std::string> errors;
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      auto client = cluster->NewClient();
      if (!client) return;
      for (int i = 0; !stop.load(); ++i) {
        const std::string data =
            Bytes(1 + static_cast<size_t>(i * 7919 + t) % 200000, t * 100000 + i);
        auto a = PutFile(*client, "w" + std::to_string(t) + "_" + std::to_string(i), data);
        std::lock_guard<std::mutex> lock(mu);
        if (!a.ok()) {
          errors.push_back(a.status().ToString());
          continue;
        }
        files[a->inode] = data;
        acked.fetch_add(1);
      }
    });
  }
  auto wait_for = [&](int n) {
    for (int waited = 0; waited < 60000 && acked.load() < n; waited += 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return acked.load() >= n;
  };
  const bool started = wait_for(40);
  if (started) {
    // Stopped (as by a crash: at once, whatever the machine's load) while
    // writes are in flight; down for 3 s.
    PgInstance::Shared().Stop(/*crash=*/true);
    const int at_stop = acked.load();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    PgInstance::Shared().Start();
    // The writers carry on after it is back.
    EXPECT_TRUE(wait_for(at_stop + 40)) << "writers did not carry on after PostgreSQL came back";
  }
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_TRUE(started) << "the writers never got going";
  EXPECT_TRUE(errors.empty()) << errors.size() << " calls failed, first: " << errors.front();

  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto root = client->ListDir(kRootInode);
  ASSERT_TRUE(root.ok()) << root.status();
  std::map<InodeId, uint64_t> present;
  for (const DirEntry& e : *root) present[e.attr.inode] = e.attr.size;
  int missing = 0, wrong = 0;
  for (const auto& [inode, data] : files) {
    if (present.count(inode) == 0) {
      ++missing;
      continue;
    }
    auto back = ReadAll(*client, inode);
    if (!back.ok() || *back != data) ++wrong;
  }
  EXPECT_EQ(missing, 0) << "acknowledged files missing, of " << files.size();
  EXPECT_EQ(wrong, 0) << "acknowledged files with other bytes, of " << files.size();
  auto st = client->ClusterStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->chunks_missing, 0);
}

}  // namespace
}  // namespace ddbfs::testing
