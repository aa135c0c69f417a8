// The write protocol on a real cluster (docs/write_protocol.md): one writer
// per chunk under a lease, a writer that dies between replica writes is
// settled, replicas of a committed version are byte-identical, a replica
// that fails mid-write is replaced, fsync fails when a replica cannot sync.

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "ChunkService.h"
#include "MetaService.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::unique_ptr<RpcConnection<rpc::MetaServiceClient>> Meta(TestCluster& c) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(ParseHostPort(c.meta_address(), &host, &port).ok());
  return std::make_unique<RpcConnection<rpc::MetaServiceClient>>(host, port, 10000);
}

// The whole committed content of one replica of `chunk`, read straight from
// its chunk server at the committed version (no failover).
// Connections that prove the cluster key of the running test's cluster (a
// test reads replicas as a peer server would).
std::shared_ptr<const Transport>& PeerTransport() {
  static std::shared_ptr<const Transport> t;
  return t;
}

Result<std::string> ReadReplica(const std::string& address, const ChunkView& chunk) {
  return ddbfs::testing::ReadReplica(PeerTransport(), address, chunk);
}

// The last `lines` lines of a log file (for failure messages).
std::string TailOf(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += all[i] + "\n";
  }
  return out;
}

// Every current replica of every chunk of `inode` holds the same bytes.
// Returns how many replicas were compared (so that a check over nothing
// shows), or fails the test.
int ExpectReplicasIdentical(Client& client, InodeId inode) {
  auto chunks = client.Chunks(inode);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  if (!chunks.ok()) return 0;
  int compared = 0;
  std::string seen;  // printed when fewer than two replicas were compared
  for (const ChunkView& ch : *chunks) {
    for (const ReplicaView& r : ch.replicas) {
      seen += "chunk " + std::to_string(ch.chunk_id) + " v" + std::to_string(ch.version) +
              ": server " + std::to_string(r.server_id) + " v" + std::to_string(r.version) +
              (r.alive ? " alive" : " dead") + (r.current ? " current" : "") + "\n";
    }
    std::optional<std::string> first;
    for (const ReplicaView& r : ch.replicas) {
      if (!r.current || !r.alive) continue;
      auto data = ReadReplica(r.address, ch);
      // A server killed moments ago may still count as alive: skip it.
      if (data.status().code() == ErrorCode::kUnavailable) {
        seen += "skipped unreachable server " + std::to_string(r.server_id) + ": " +
                data.status().ToString() + "\n";
        continue;
      }
      EXPECT_TRUE(data.ok()) << "chunk " << ch.chunk_id << " on server " << r.server_id << ": "
                             << data.status();
      if (!data.ok()) continue;
      ++compared;
      if (!first) {
        first = *data;
      } else {
        EXPECT_TRUE(*first == *data) << "replicas of chunk " << ch.chunk_id << " version "
                                     << ch.version << " differ: " << FirstDifference(*data, *first);
      }
    }
  }
  if (compared < 2) std::cout << "replicas compared: " << compared << "\n" << seen;
  return compared;
}

TEST(WriteProtocolTest, EightConcurrentWritersOfOneFileLeaveExactlyOneWritersContent) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto a = PutFile(*client, "contended", Bytes(5 * kMiB, 100));
  ASSERT_TRUE(a.ok()) << a.status();
  constexpr int kWriters = 8;
  std::vector<std::string> contents;
  for (int i = 0; i < kWriters; ++i) contents.push_back(Bytes(5 * kMiB, 200 + i));
  std::vector<Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      auto c = cluster->NewClient();
      if (!c) {
        results[i] = Internal("no client");
        return;
      }
      auto w = c->OpenWriter(a->inode);
      if (!w.ok()) {
        results[i] = w.status();
        return;
      }
      Status s = WriteAt(**w, 0, contents[i]);
      if (s.ok()) s = (*w)->Sync();
      Status closed = (*w)->Close();
      results[i] = s.ok() ? closed : s;
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> succeeded;
  for (int i = 0; i < kWriters; ++i) {
    if (results[i].ok()) succeeded.insert(i);
  }
  // Leases serialize the writers: every one of them gets its turn.
  EXPECT_EQ(succeeded.size(), static_cast<size_t>(kWriters));
  auto back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  int matches = 0;
  for (int i : succeeded) matches += *back == contents[i] ? 1 : 0;
  EXPECT_EQ(matches, 1) << "the file is not exactly one successful writer's content";
  EXPECT_GE(ExpectReplicasIdentical(*client, a->inode), 2);
}

// Opens a write generation on chunk 0 of `inode` as a client would, then
// writes `data` to the given replicas only, each on its own (no chain), and
// walks away without committing: a writer that died between replica writes.
struct AbandonedWrite {
  int64_t chunk_id = 0;
  int64_t version = 0;
  std::vector<rpc::ServerAddress> replicas;
};
AbandonedWrite AbandonWrite(TestCluster& cluster, InodeId inode,
                            const std::vector<std::pair<size_t, std::string>>& writes) {
  AbandonedWrite out;
  auto meta = Meta(cluster);
  rpc::PrepareWriteRequest preq;
  preq.inode = inode;
  preq.index = 0;
  rpc::PrepareWriteResponse prep;
  Status s = meta->Call([&](rpc::MetaServiceClient& c) { c.PrepareWrite(prep, preq); });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(FromRpc(prep.status).ok()) << FromRpc(prep.status);
  out.chunk_id = prep.chunk_id;
  out.version = prep.version;
  out.replicas = prep.replicas;
  for (const auto& [which, data] : writes) {
    const rpc::ServerAddress& r = prep.replicas.at(which);
    RpcConnection<rpc::ChunkServiceClient> conn(r.host, r.port, 10000);
    rpc::WriteChunkRequest w;
    w.chunk_id = prep.chunk_id;
    w.version = prep.version;
    w.offset = 0;
    w.data = data;
    w.__set_cap(prep.capability);
    rpc::WriteChunkResponse resp;
    s = conn.Call([&](rpc::ChunkServiceClient& c) { c.WriteChunk(resp, w); });
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(FromRpc(resp.status).ok()) << FromRpc(resp.status);
  }
  return out;
}

// Waits until chunk 0 of `inode` has a committed version above `version`.
bool WaitSettled(Client& client, InodeId inode, int64_t version, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    auto chunks = client.Chunks(inode);
    if (chunks.ok() && !chunks->empty() && chunks->front().version > version) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(WriteProtocolTest, UncommittedBytesOfAWriterKilledBetweenReplicaWritesAreNeverServed) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string old = Bytes(2 * kMiB, 1);
  auto a = PutFile(*client, "abandoned", old);
  ASSERT_TRUE(a.ok()) << a.status();
  // The first replica got new bytes under the new version, the second none.
  AbandonedWrite w = AbandonWrite(*cluster, a->inode, {{0, Bytes(1 * kMiB, 2)}});
  ASSERT_EQ(w.replicas.size(), 2u);

  // While the lease runs, readers get the committed bytes (from the second
  // replica): the first one refuses to serve its uncommitted version.
  auto during = ReadAll(*client, a->inode);
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_TRUE(*during == old) << FirstDifference(*during, old);

  // The lease expires, the metaserver settles the chunk: it rolls back to
  // the replica that still held the committed version.
  ASSERT_TRUE(WaitSettled(*client, a->inode, w.version, 15000)) << "chunk never settled";
  auto after = ReadAll(*client, a->inode);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(*after == old) << FirstDifference(*after, old);
  EXPECT_EQ(after->size(), old.size());
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(CurrentReplicas(chunks->front()), 2);
  EXPECT_EQ(ExpectReplicasIdentical(*client, a->inode), 2);

  // And the chunk takes new writes afterwards.
  const std::string next = Bytes(2 * kMiB, 3);
  auto wr = client->OpenWriter(a->inode);
  ASSERT_TRUE(wr.ok()) << wr.status();
  ASSERT_TRUE(WriteAt(**wr, 0, next).ok());
  ASSERT_TRUE((*wr)->Close().ok());
  auto last = ReadAll(*client, a->inode);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(*last == next);
}

TEST(WriteProtocolTest, ReplicasWithDifferentUncommittedBytesAreMadeIdenticalBySettling) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  const std::string old = Bytes(1 * kMiB, 4);
  auto a = PutFile(*client, "diverged", old);
  ASSERT_TRUE(a.ok()) << a.status();
  // Both replicas moved to the new version, with different bytes (the
  // dying writer's pieces reached them in different states).
  const std::string x = Bytes(1 * kMiB, 5), y = Bytes(1 * kMiB + 4096, 6);
  AbandonedWrite w = AbandonWrite(*cluster, a->inode, {{0, x}, {1, y}});
  ASSERT_TRUE(WaitSettled(*client, a->inode, w.version, 15000)) << "chunk never settled";
  EXPECT_EQ(ExpectReplicasIdentical(*client, a->inode), 2);
  auto after = ReadAll(*client, a->inode);
  ASSERT_TRUE(after.ok()) << after.status();
  // The file size never grew (the write was not acknowledged), and the
  // content is one replica's, cut to the file size.
  ASSERT_EQ(after->size(), old.size());
  EXPECT_TRUE(*after == x || *after == y.substr(0, old.size()));
}

TEST(WriteProtocolTest, ASecondWriterWaitsForTheLeaseAndTimesOutWhenItIsNeverReleased) {
  ClusterOptions o;
  o.lease_ms = 60000;  // the holder never renews nor commits within the test
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto a = PutFile(*client, "held", Bytes(kMiB, 7));
  ASSERT_TRUE(a.ok()) << a.status();
  AbandonedWrite w = AbandonWrite(*cluster, a->inode, {});
  ClientOptions co;
  co.meta_address = cluster->meta_address();
  co.lease_wait_ms = 1500;
  auto impatient = Client::Connect(co);
  ASSERT_TRUE(impatient.ok()) << impatient.status();
  auto wr = (*impatient)->OpenWriter(a->inode);
  ASSERT_TRUE(wr.ok()) << wr.status();
  Status s = WriteAt(**wr, 0, Bytes(kMiB, 8));
  if (s.ok()) s = (*wr)->Sync();
  Status closed = (*wr)->Close();
  if (s.ok()) s = closed;
  EXPECT_EQ(s.code(), ErrorCode::kTimedOut) << s;
  auto back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == Bytes(kMiB, 7));
}

// fsync promises durability on every live replica (issue 7): a replica
// whose server died between the commit and the fsync is not live. The sync
// succeeds on the replica that fdatasynced, the data reads back from it,
// and the chunk is counted under its goal until repair.
TEST(WriteProtocolTest, SyncSucceedsOnTheLiveReplicaWhenOneDiesBeforeItsFdatasync) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto a = PutFile(*client, "unsynced", Bytes(kMiB, 9));
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  auto w = client->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok());
  const std::string data = Bytes(4 * kMiB, 10);
  ASSERT_TRUE(WriteAt(**w, 0, data).ok());  // one whole piece
  ASSERT_TRUE((*w)->Flush().ok());          // written on both replicas and committed, not synced
  const int32_t victim_id = chunks->front().replicas.back().server_id;
  const int victim = IndexOfServer(*cluster, victim_id);
  ASSERT_GE(victim, 0);
  cluster->KillChunkServer(victim, SIGKILL);
  Status s = (*w)->Sync();
  EXPECT_TRUE(s.ok()) << "fsync must succeed when every live replica fdatasynced: " << s;
  EXPECT_TRUE((*w)->Close().ok());
  auto back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data) << FirstDifference(*back, data);
}

// Every chunk server restarting while a writer sends a piece (docs/
// write_protocol.md): the piece finds no replica to take it, waits for them
// with a backoff and goes through once they are back, instead of failing
// the write. The same for the sync that follows.
TEST(WriteProtocolTest, AWriteWaitsForItsChunkServersToComeBackInsteadOfFailing) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto a = PutFile(*client, "restarts", Bytes(kMiB, 11));
  ASSERT_TRUE(a.ok()) << a.status();
  auto w = client->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok());
  const std::string first = Bytes(4 * kMiB, 12);
  ASSERT_TRUE(WriteAt(**w, 0, first).ok());
  ASSERT_TRUE((*w)->Flush().ok());  // committed: the next piece goes to the same two servers
  for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->KillChunkServer(i, SIGKILL);
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    for (int i = 0; i < cluster->chunk_server_count(); ++i) cluster->StartChunkServer(i);
  });
  const auto start = std::chrono::steady_clock::now();
  const std::string second = Bytes(4 * kMiB, 13);
  Status written = WriteAt(**w, 4 * kMiB, second);
  if (written.ok()) written = (*w)->Sync();
  const auto waited = std::chrono::steady_clock::now() - start;
  restart.join();
  ASSERT_TRUE(written.ok()) << "the write failed while its chunk servers restarted: " << written;
  EXPECT_GE(waited, std::chrono::milliseconds(1000)) << "the servers were not down for the write";
  ASSERT_TRUE((*w)->Close().ok());
  auto back = ReadAll(*client, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == first + second) << FirstDifference(*back, first + second);
}

// Every byte of what a replica holds (at whatever version it holds), read
// straight from its chunk server; NOT_FOUND when it holds none.
Result<std::string> ReadWholeReplica(const std::string& address, int64_t chunk_id) {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(ParseHostPort(address, &host, &port));
  RpcConnection<rpc::ChunkServiceClient> conn(host, port, 10000, PeerTransport());
  rpc::ChunkStateRequest sreq;
  sreq.chunk_id = chunk_id;
  rpc::ChunkStateResponse state;
  RETURN_IF_ERROR(conn.Call([&](rpc::ChunkServiceClient& c) { c.ChunkState(state, sreq); }));
  RETURN_IF_ERROR(FromRpc(state.status));
  ChunkView view;
  view.chunk_id = chunk_id;
  view.version = state.version;
  view.length = static_cast<uint64_t>(state.length);
  return ReadReplica(address, view);
}

// A chunk server SIGKILLed at random moments of overwrites: afterwards every
// replica it holds opens and reads without a checksum error, and the file
// holds the last acknowledged content.
TEST(WriteProtocolTest, ChunkServerKilledAtRandomPointsOfAnOverwriteLeavesEveryBlockReadable) {
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  std::string expected = Bytes(20 * kMiB, 50);
  auto a = PutFile(*client, "killed-overwrite", expected);
  ASSERT_TRUE(a.ok()) << a.status();
  std::mt19937_64 rng(7);
  int checked = 0;
  for (int round = 0; round < 5; ++round) {
    auto chunks = client->Chunks(a->inode);
    ASSERT_TRUE(chunks.ok());
    const int victim = IndexOfServer(*cluster, chunks->front().replicas.front().server_id);
    ASSERT_GE(victim, 0);
    const std::string next = Bytes(20 * kMiB, 60 + round);
    Status result;
    std::thread writer([&] {
      auto c = cluster->NewClient();
      auto w = c->OpenWriter(a->inode);
      if (!w.ok()) {
        result = w.status();
        return;
      }
      // Small pieces, so that the kill lands in the middle of the overwrite.
      Status s;
      for (size_t off = 0; s.ok() && off < next.size(); off += 256 * 1024) {
        s = WriteAt(**w, off, next.substr(off, 256 * 1024));
      }
      if (s.ok()) s = (*w)->Sync();
      Status closed = (*w)->Close();
      result = s.ok() ? closed : s;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    cluster->KillChunkServer(victim, SIGKILL);
    writer.join();
    if (result.ok()) expected = next;
    cluster->StartChunkServer(victim);
    ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
    auto back = ReadAll(*client, a->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    if (!result.ok()) {
      // Not acknowledged: the old or the new content, block by block.
      for (size_t b = 0; b < expected.size(); b += 65536) {
        EXPECT_TRUE(back->compare(b, 65536, expected, b, 65536) == 0 ||
                    back->compare(b, 65536, next, b, 65536) == 0)
            << "block " << b / 65536;
      }
      expected = *back;
    }
    EXPECT_TRUE(*back == expected) << "round " << round << ": " << FirstDifference(*back, expected);
    // Whatever the killed server still holds is readable end to end.
    auto after = client->Chunks(a->inode);
    ASSERT_TRUE(after.ok());
    for (const ChunkView& ch : *after) {
      auto data = ReadWholeReplica(cluster->chunk_address(victim), ch.chunk_id);
      if (data.status().code() == ErrorCode::kNotFound) continue;
      EXPECT_TRUE(data.ok()) << "round " << round << " chunk " << ch.chunk_id << ": "
                             << data.status();
      ++checked;
    }
    // An acknowledged write is at goal. A failed one was settled with the
    // replicas reachable then (the killed one is dropped; repair is the
    // self-healing issue's), so one current replica may be all there is.
    const int want = result.ok() ? 2 : 1;
    if (ExpectReplicasIdentical(*client, a->inode) < want) {
      ADD_FAILURE() << "round " << round << ": fewer than " << want
                    << " current replicas after a write that ended with " << result
                    << "; metaserver log:\n"
                    << TailOf(cluster->dir() + "/metaserver.log", 60);
    }
  }
  EXPECT_GT(checked, 0) << "the killed server never held a replica to check";
}

// A randomized exerciser: concurrent writers (one per file) and a reader,
// while chunk servers are killed and restarted at random moments. After
// every round: every acknowledged write reads back exactly, an
// unacknowledged one left each 64 KiB block old or new (never anything
// else), readers never saw other bytes, and all live current replicas of
// every chunk are byte-identical.
TEST(WriteProtocolTest, RandomizedWritersReadersAndServerKillsNeverLoseOrMixData) {
  constexpr int kFiles = 3;
  constexpr int kRounds = 8;
  constexpr size_t kFileSize = 6 * kMiB;
  constexpr size_t kBlock = 64 * 1024;
  auto cluster = TestCluster::Start();
  ASSERT_TRUE(cluster);
  PeerTransport() = cluster->cluster_transport();
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  std::mt19937_64 rng(20261126);
  std::vector<InodeId> inodes;
  std::vector<std::string> expected;
  for (int f = 0; f < kFiles; ++f) {
    expected.push_back(Bytes(kFileSize, 1000 + f));
    auto a = PutFile(*client, "ex" + std::to_string(f), expected.back());
    ASSERT_TRUE(a.ok()) << a.status();
    inodes.push_back(a->inode);
  }
  int acknowledged = 0, failed = 0, reads = 0, kills = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::vector<std::string> old = expected;
    std::vector<std::string> wanted = expected;  // what each file holds if its write succeeds
    std::vector<Status> results(kFiles);
    for (int f = 0; f < kFiles; ++f) {
      const size_t off = rng() % kFileSize;
      const size_t len = 1 + rng() % std::min<size_t>(3 * kMiB, kFileSize - off);
      wanted[f].replace(off, len, Bytes(len, rng()));
    }
    std::atomic<bool> writing{true};
    std::vector<std::thread> writers;
    for (int f = 0; f < kFiles; ++f) {
      writers.emplace_back([&, f] {
        auto c = cluster->NewClient();
        if (!c) return;
        auto w = c->OpenWriter(inodes[f]);
        if (!w.ok()) {
          results[f] = w.status();
          return;
        }
        // Only the changed range is written (found by comparing).
        size_t lo = 0, hi = kFileSize;
        while (lo < hi && wanted[f][lo] == old[f][lo]) ++lo;
        while (hi > lo && wanted[f][hi - 1] == old[f][hi - 1]) --hi;
        Status s = lo < hi ? WriteAt(**w, lo, wanted[f].substr(lo, hi - lo)) : Status();
        if (s.ok()) s = (*w)->Sync();
        Status closed = (*w)->Close();
        results[f] = s.ok() ? closed : s;
      });
    }
    std::atomic<int> bad_reads{0};
    std::thread reader([&] {
      auto c = cluster->NewClient();
      if (!c) return;
      std::mt19937_64 r(round);
      while (writing.load()) {
        const int f = static_cast<int>(r() % kFiles);
        auto got = ReadAll(*c, inodes[f]);
        if (!got.ok()) continue;  // a read may fail while servers die; never lie
        ++reads;
        if (got->size() != kFileSize) {
          ++bad_reads;
          continue;
        }
        for (size_t b = 0; b < kFileSize; b += kBlock) {
          const size_t n = std::min(kBlock, kFileSize - b);
          if (got->compare(b, n, old[f], b, n) != 0 && got->compare(b, n, wanted[f], b, n) != 0) {
            ++bad_reads;
            break;
          }
        }
      }
    });
    // Kill a running server, or bring a dead one back, at a random moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    int dead = -1;
    for (int i = 0; i < cluster->chunk_server_count(); ++i) {
      if (!cluster->chunk_server_running(i)) dead = i;
    }
    if (dead >= 0) {
      cluster->StartChunkServer(dead);
    } else if (rng() % 3 != 0) {
      cluster->KillChunkServer(static_cast<int>(rng() % cluster->chunk_server_count()), SIGKILL);
      ++kills;
    }
    for (auto& t : writers) t.join();
    writing = false;
    reader.join();
    EXPECT_EQ(bad_reads.load(), 0) << "round " << round << ": a reader saw bytes never written";
    for (int f = 0; f < kFiles; ++f) {
      auto got = ReadAll(*client, inodes[f]);
      ASSERT_TRUE(got.ok()) << "round " << round << " file " << f << ": " << got.status();
      if (results[f].ok()) {
        ++acknowledged;
        EXPECT_TRUE(*got == wanted[f])
            << "round " << round << " file " << f
            << ": an acknowledged write was lost: " << FirstDifference(*got, wanted[f]);
        expected[f] = wanted[f];
      } else {
        ++failed;
        ASSERT_EQ(got->size(), kFileSize);
        for (size_t b = 0; b < kFileSize; b += kBlock) {
          const size_t n = std::min(kBlock, kFileSize - b);
          EXPECT_TRUE(got->compare(b, n, old[f], b, n) == 0 ||
                      got->compare(b, n, wanted[f], b, n) == 0)
              << "round " << round << " file " << f << " block " << b / kBlock
              << " after a failed write (" << results[f] << ") is neither old nor new";
        }
        expected[f] = *got;
      }
      EXPECT_GE(ExpectReplicasIdentical(*client, inodes[f]), 1);
    }
  }
  for (int i = 0; i < cluster->chunk_server_count(); ++i) {
    if (!cluster->chunk_server_running(i)) cluster->StartChunkServer(i);
  }
  ASSERT_TRUE(cluster->WaitForAliveServers(3, 30000));
  for (int f = 0; f < kFiles; ++f) {
    auto got = ReadAll(*client, inodes[f]);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == expected[f]) << FirstDifference(*got, expected[f]);
    EXPECT_GE(ExpectReplicasIdentical(*client, inodes[f]), 1);
  }
  // The run exercised what it claims to.
  EXPECT_GT(acknowledged, kRounds);
  EXPECT_GT(kills, 0);
  EXPECT_GT(reads, 0);
  std::cout << "exerciser: " << acknowledged << " acknowledged writes, " << failed << " failed, "
            << reads << " concurrent reads, " << kills << " kills\n";
}

}  // namespace
}  // namespace ddbfs::testing
