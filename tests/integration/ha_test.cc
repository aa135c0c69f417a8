// Metaserver high availability (docs/ha.md) on a real cluster: an active
// metaserver and a standby against one PostgreSQL, clients and chunk
// servers given both addresses.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "ddbfs/constants.h"
#include "net_hosts.h"
#include "pg_instance.h"
#include "process.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs::testing {
namespace {

using Steady = std::chrono::steady_clock;

// The active lock's row in pg_locks (store::kActiveLockKey: a bigint key,
// its halves in classid and objid).
constexpr char kLockHolderSql[] =
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND classid = (6800682566612::bigint >> 32)::oid"
    " AND objid = (6800682566612::bigint & 4294967295)::oid"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

// Backend pid of the session holding the active lock; 0: nobody.
int LockHolder(const std::string& db_url) {
  pqxx::connection c(db_url);
  pqxx::nontransaction t(c);
  pqxx::result r = t.exec(kLockHolderSql);
  return r.empty() ? 0 : r[0][0].as<int>();
}

// Every row of every table of the schema, as one string of digests.
std::string DatabaseDigest(const std::string& db_url) {
  pqxx::connection c(db_url);
  pqxx::nontransaction t(c);
  std::string out;
  for (const auto& row :
       t.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'ddbfs' ORDER BY 1")) {
    const std::string table = row[0].as<std::string>();
    out +=
        table + "=" +
        t.exec1("SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM ddbfs." +
                c.quote_name(table) + " r")[0]
            .as<std::string>() +
        ";";
  }
  return out;
}

std::unique_ptr<Client> ConnectTo(const std::string& address, int meta_retry_ms = 20000) {
  ClientOptions o;
  o.meta_address = address;
  o.meta_retry_ms = meta_retry_ms;
  auto c = Client::Connect(o);
  if (!c.ok()) return nullptr;
  return std::move(c).value();
}

// Nothing missing, corrupt, stale, under or over goal, every server checked.
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
        problems += "chunk " + std::to_string(c.chunk_id) + " " + p + "; ";
      }
    }
    if (!page->servers_not_checked.empty()) problems += "a server not checked; ";
    if (!page->more) break;
    after = page->next_after_chunk_id;
  }
  *why = problems;
  return problems.empty();
}

ClusterOptions HaCluster(int chunk_servers = 3) {
  ClusterOptions o;
  o.chunk_servers = chunk_servers;
  o.standby_metaservers = 1;
  return o;
}

// What one client thread had acknowledged: file name -> (content, final
// name after an acknowledged rename).
struct Acked {
  std::string content;
  std::string final_name;
};

// kill -9 of the active metaserver while four client threads, given both
// addresses, create, write and rename files: the standby serves within
// 10 s, no client sees an error, and afterwards every acknowledged file is
// there under its final name with its exact content, nothing else is, and
// fsck finds every chunk at its goal.
TEST(HaTest, KillOfTheActiveDuringCreatesWritesAndRenamesFailsOverWithoutAnError) {
  auto cluster = TestCluster::Start(HaCluster());
  ASSERT_TRUE(cluster);
  auto setup = cluster->NewClient();
  ASSERT_TRUE(setup);
  auto dir = setup->Mkdir(kRootInode, "ha", 0755);
  ASSERT_TRUE(dir.ok()) << dir.status();
  const InodeId dir_inode = dir->inode;

  constexpr int kThreads = 4;
  constexpr int kFilesPerThread = 400;  // 1600 creates and writes, 800 renames
  std::atomic<int> done{0};
  std::vector<std::map<std::string, Acked>> acked(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = ConnectTo(cluster->meta_address());
      if (!client) {
        errors[t] = "cannot connect";
        return;
      }
      for (int i = 0; i < kFilesPerThread; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        const std::string data =
            Bytes(1 + static_cast<size_t>(i * 7919 + t * 131) % 20000, 1000000u * t + i);
        auto attr = client->Create(dir_inode, name, 0644);
        if (!attr.ok()) {
          errors[t] = "create " + name + ": " + attr.status().ToString();
          return;
        }
        auto w = client->OpenWriter(attr->inode);
        Status s = w.ok() ? WriteAt(**w, 0, data) : w.status();
        if (s.ok()) s = (*w)->Sync();
        if (s.ok()) s = (*w)->Close();
        if (!s.ok()) {
          errors[t] = "write " + name + ": " + s.ToString();
          return;
        }
        acked[t][name] = Acked{data, name};
        if (i % 2 == 1) {
          const std::string renamed = "r" + name;
          s = client->Rename(dir_inode, name, dir_inode, renamed);
          if (!s.ok()) {
            errors[t] = "rename " + name + ": " + s.ToString();
            return;
          }
          acked[t][name].final_name = renamed;
        }
        done.fetch_add(1);
      }
    });
  }
  constexpr int kTotal = kThreads * kFilesPerThread;
  // Kill the active one a third of the way in.
  EXPECT_TRUE(WaitFor([&] { return done.load() >= kTotal / 3; }, std::chrono::seconds(180)));
  const int done_at_kill = done.load();
  const auto killed_at = Steady::now();
  cluster->StopMetaserver(0, SIGKILL);
  // The standby serves: its port answers, and a client reaching only it
  // gets an answer, within 10 s of the kill.
  EXPECT_TRUE(WaitForPort(cluster->meta_port(1), std::chrono::seconds(10)))
      << cluster->metaserver_process(1)->LogTail();
  std::unique_ptr<Client> standby_only;
  EXPECT_TRUE(WaitFor(
      [&] {
        if (!standby_only) standby_only = ConnectTo(cluster->meta_socket_address(1), 0);
        return standby_only && standby_only->ResolvePath("/ha").ok();
      },
      std::chrono::milliseconds(10000) -
          std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - killed_at)))
      << cluster->metaserver_process(1)->LogTail();
  const double takeover_s = std::chrono::duration<double>(Steady::now() - killed_at).count();
  EXPECT_LT(takeover_s, 10.0);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  EXPECT_LT(done_at_kill, kTotal) << "the kill came after the last operation";
  ASSERT_EQ(done.load(), kTotal);

  // Every acknowledged operation, and nothing else.
  auto check = cluster->NewClient();
  ASSERT_TRUE(check);
  auto entries = check->ListDir(dir_inode);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::map<std::string, const DirEntry*> present;
  for (const DirEntry& e : *entries) present[e.name] = &e;
  int missing = 0, wrong = 0;
  std::string first_problem;
  size_t expected = 0;
  for (const auto& per_thread : acked) {
    for (const auto& [name, a] : per_thread) {
      ++expected;
      auto it = present.find(a.final_name);
      if (it == present.end()) {
        ++missing;
        if (first_problem.empty()) first_problem = a.final_name + " missing";
        continue;
      }
      auto back = ReadAll(*check, it->second->attr.inode);
      if (!back.ok() || *back != a.content) {
        ++wrong;
        if (first_problem.empty()) {
          first_problem =
              a.final_name + ": " +
              (back.ok() ? FirstDifference(*back, a.content) : back.status().ToString());
        }
      }
    }
  }
  EXPECT_EQ(expected, static_cast<size_t>(kTotal));
  EXPECT_EQ(missing, 0) << first_problem;
  EXPECT_EQ(wrong, 0) << first_problem;
  EXPECT_EQ(present.size(), expected) << "names that no acknowledged operation left";
  std::string why;
  EXPECT_TRUE(WaitFor([&] { return FsckClean(*check, &why); }, std::chrono::seconds(60))) << why;
  std::printf("takeover %.2f s after kill -9 (%d of %d files done at the kill)\n", takeover_s,
              done_at_kill, kTotal);
}

// pg_terminate_backend of the active one's lock session while the standby
// waits: the standby takes over, the old active stops (one "fenced" line,
// exit 3) within a few seconds, and nothing it was asked after the
// termination committed.
TEST(HaTest, TerminatedLockSessionFencesTheActiveAndTheStandbyTakesOver) {
  auto cluster = TestCluster::Start(HaCluster(2));
  ASSERT_TRUE(cluster);
  // A client of the old active only, which gives up quickly.
  auto old_only = ConnectTo(cluster->meta_socket_address(0), 1500);
  ASSERT_TRUE(old_only);
  ASSERT_TRUE(old_only->Mkdir(kRootInode, "before", 0755).ok());
  const int holder = LockHolder(cluster->db_url());
  ASSERT_NE(holder, 0);

  struct Attempt {
    Steady::time_point sent;
    bool acked = false;
  };
  std::vector<Attempt> attempts;  // index i: /f<i>; the writer's until joined
  std::atomic<int> made{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      Attempt a;
      a.sent = Steady::now();
      a.acked = old_only->Create(kRootInode, "f" + std::to_string(i), 0644).ok();
      attempts.push_back(a);
      made.fetch_add(1);
    }
  });
  if (!WaitFor([&] { return made.load() >= 20; }, std::chrono::seconds(10))) {
    stop = true;
    writer.join();
    FAIL() << "the old active created nothing";
  }
  Steady::time_point terminated;
  {
    pqxx::connection c(cluster->db_url());
    pqxx::nontransaction t(c);
    // Waits (up to 5 s) until the backend is gone.
    EXPECT_TRUE(t.exec_params("SELECT pg_terminate_backend($1, 5000)", holder)[0][0].as<bool>());
    terminated = Steady::now();
  }
  Process* old_active = cluster->metaserver_process(0);
  std::optional<int> status = old_active->Wait(std::chrono::seconds(8));
  EXPECT_TRUE(status.has_value()) << "the old active still runs:\n" << old_active->LogTail();
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 3) << old_active->LogTail();
  EXPECT_NE(old_active->Log().find("fenced: another metaserver holds the active lock"),
            std::string::npos)
      << old_active->LogTail();
  EXPECT_TRUE(WaitForPort(cluster->meta_port(1), std::chrono::seconds(10)))
      << cluster->metaserver_process(1)->LogTail();
  stop = true;
  writer.join();
  const int new_holder = LockHolder(cluster->db_url());
  EXPECT_NE(new_holder, 0);
  EXPECT_NE(new_holder, holder);

  auto both = cluster->NewClient();
  ASSERT_TRUE(both);
  ASSERT_TRUE(both->Mkdir(kRootInode, "after", 0755).ok());
  int late_acked = 0, late_present = 0, early_missing = 0, late = 0;
  for (size_t i = 0; i < attempts.size(); ++i) {
    const bool present = both->ResolvePath("/f" + std::to_string(i)).ok();
    if (attempts[i].sent > terminated) {
      ++late;
      late_acked += attempts[i].acked ? 1 : 0;
      late_present += present ? 1 : 0;
    } else if (attempts[i].acked && !present) {
      ++early_missing;
    }
  }
  EXPECT_GT(late, 0) << "no create was sent to the old active after the termination";
  EXPECT_EQ(late_acked, 0) << "the old active acknowledged creates after losing its lock";
  EXPECT_EQ(late_present, 0) << "creates sent to the old active after the termination committed";
  EXPECT_EQ(early_missing, 0) << "acknowledged creates are missing";
}

// The active metaserver runs on a host of its own (a network namespace) and
// is cut off from PostgreSQL, and from everyone else, by taking its link down
// while two clients create and write files: one reaches the metaservers over
// TCP (the old one is then unreachable), one over their Unix sockets (the old
// one still answers it, and must stop serving). PostgreSQL ends the lock's
// session by its keepalives, the standby takes over within 10 s of the cut,
// both clients carry on without an error, every acknowledged file is there
// with its content, and the old one, connected again, finds another holder
// and stops (exit 3) without having committed anything after the cut.
TEST(HaTest, ActiveCutOffFromPostgresByTheNetworkIsReplacedWithin10Seconds) {
  auto net = NetHosts::Create(1);
  ASSERT_TRUE(net);
  PgInstance::Shared().ListenAlso(net->bridge_address());
  struct ListenOnLoopbackAgain {
    ~ListenOnLoopbackAgain() { PgInstance::Shared().ListenAlso(""); }
  } restore_listen;
  ClusterOptions o = HaCluster();
  // Production's lease (20 s), not the tests' 2 s: the client on the Unix
  // sockets learns only when the cut-off active's database session breaks,
  // about 10 s after the cut, that its call there failed; a 2 s lease,
  // extended by the new active at its start, could expire (and its chunk
  // be settled) just before that client's commit reaches the new active.
  o.lease_ms = 20000;
  o.meta0_wrapper = net->wrapper(0);
  o.meta0_host = net->host_address(0);
  o.meta0_db_host = net->bridge_address();
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto setup = cluster->NewClient();
  ASSERT_TRUE(setup);
  auto dir = setup->Mkdir(kRootInode, "cut", 0777);
  ASSERT_TRUE(dir.ok()) << dir.status();
  const InodeId dir_inode = dir->inode;
  {
    // The old active's lock session comes from its own host.
    pqxx::connection c(cluster->db_url());
    pqxx::nontransaction t(c);
    const int holder = LockHolder(cluster->db_url());
    ASSERT_NE(holder, 0);
    EXPECT_EQ(
        t.exec_params1("SELECT host(client_addr) FROM pg_stat_activity WHERE pid = $1", holder)[0]
            .as<std::string>(""),
        net->host_address(0));
  }
  ExportKeyInfo info;
  info.name = "cut-test";
  auto key = setup->AddKey(info);
  ASSERT_TRUE(key.ok()) << key.status();

  struct Writer {
    std::string name;
    ClientOptions options;
    std::map<std::string, std::string> acked;  // file -> content
    std::string error;
    std::atomic<int> done{0};
    double longest_s = 0;  // the longest create + write + close
  };
  Writer writers[2];
  writers[0].name = "tcp";
  writers[0].options.meta_address = cluster->meta_tcp_address();
  writers[0].options.key = Credential{key->first.key_id, key->second};
  writers[1].name = "unix";
  writers[1].options.meta_address = cluster->meta_address();
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (Writer& w : writers) {
    threads.emplace_back([&] {
      auto client = Client::Connect(w.options);
      if (!client.ok()) {
        w.error = "connect: " + client.status().ToString();
        return;
      }
      for (int i = 0; !stop.load(); ++i) {
        const std::string name = w.name + std::to_string(i);
        const std::string data = Bytes(1 + static_cast<size_t>(i * 7919) % 9000, 5000u + i);
        const auto started = Steady::now();
        auto attr = (*client)->Create(dir_inode, name, 0644);
        Status s = attr.ok() ? Status() : attr.status();
        if (s.ok()) {
          auto fw = (*client)->OpenWriter(attr->inode);
          s = fw.ok() ? WriteAt(**fw, 0, data) : fw.status();
          if (s.ok()) s = (*fw)->Close();
        }
        if (!s.ok()) {
          w.error = name + ": " + s.ToString();
          return;
        }
        w.acked[name] = data;
        w.longest_s =
            std::max(w.longest_s, std::chrono::duration<double>(Steady::now() - started).count());
        w.done.fetch_add(1);
      }
    });
  }
  auto stop_writers = [&] {
    stop = true;
    for (auto& th : threads) th.join();
    threads.clear();
  };
  if (!WaitFor([&] { return writers[0].done >= 20 && writers[1].done >= 20; },
               std::chrono::seconds(30))) {
    stop_writers();
    FAIL() << "the writers did not get going: " << writers[0].error << " / " << writers[1].error;
  }

  ASSERT_TRUE(net->SetLink(0, false));
  const auto cut_at = Steady::now();
  std::unique_ptr<Client> standby_only;
  const bool took_over = WaitFor(
      [&] {
        if (!standby_only) standby_only = ConnectTo(cluster->meta_socket_address(1), 0);
        return standby_only && standby_only->ResolvePath("/cut").ok();
      },
      std::chrono::seconds(20));
  const double takeover_s = std::chrono::duration<double>(Steady::now() - cut_at).count();
  EXPECT_TRUE(took_over) << cluster->metaserver_process(1)->LogTail();
  EXPECT_LT(takeover_s, 10.0) << cluster->metaserver_process(1)->LogTail();
  // Both writers get on through the new active.
  const int done_at_takeover[2] = {writers[0].done.load(), writers[1].done.load()};
  EXPECT_TRUE(WaitFor(
      [&] {
        return writers[0].done >= done_at_takeover[0] + 20 &&
               writers[1].done >= done_at_takeover[1] + 20;
      },
      std::chrono::seconds(60)))
      << writers[0].error << " / " << writers[1].error;
  stop_writers();
  for (const Writer& w : writers) {
    EXPECT_EQ(w.error, "") << w.name << " writer; the new active's log:\n"
                           << cluster->metaserver_process(1)->LogTail();
  }
  // Over TCP the writer notices the cut about 5 s in (keepalives), then
  // tries both addresses in each attempt: the new active's refuses until
  // the takeover, the old one's connect times out (2 s), and the next
  // attempt starts at the address that refused. After the takeover at most
  // the attempt in progress (its 2 s connect timeout) passes before the
  // client reaches the new active. New chunks wait for the chunk servers,
  // which register by the same rule (also within 2 s of the takeover); the
  // new active's "unavailable" meanwhile neither sends the client back to
  // the silent address nor makes it wait more than 250 ms to ask again.
  // Under a second more for the file itself on a busy machine. Through the
  // Unix sockets the writer's call waits in the old active until its
  // database session breaks (about 10 s), then moves on.
  EXPECT_LT(writers[0].longest_s, takeover_s + 3.0) << "tcp writer waited that long for one file";
  EXPECT_LT(writers[1].longest_s, 12.0) << "unix writer waited that long for one file";

  // Connected again, the old active stops.
  ASSERT_TRUE(net->SetLink(0, true));
  Process* old_active = cluster->metaserver_process(0);
  const auto link_up = Steady::now();
  std::optional<int> status = old_active->Wait(std::chrono::seconds(60));
  const double fenced_s = std::chrono::duration<double>(Steady::now() - link_up).count();
  EXPECT_TRUE(status && WIFEXITED(*status) &&
              WEXITSTATUS(*status) == 3)  // LockKeeper::kFencedExitCode
      << old_active->LogTail();
  EXPECT_NE(old_active->Log().find("fenced: "), std::string::npos) << old_active->LogTail();

  // Every acknowledged file, and nothing else than what the writers tried.
  auto check = cluster->NewClient();
  ASSERT_TRUE(check);
  auto entries = check->ListDir(dir_inode);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::map<std::string, InodeId> present;
  for (const DirEntry& e : *entries) present[e.name] = e.attr.inode;
  int missing = 0, wrong = 0;
  size_t acked = 0;
  std::string first_problem;
  for (const Writer& w : writers) {
    acked += w.acked.size();
    for (const auto& [name, content] : w.acked) {
      auto it = present.find(name);
      auto back =
          it == present.end() ? Result<std::string>(NotFound(name)) : ReadAll(*check, it->second);
      if (!back.ok() || *back != content) {
        (it == present.end() ? missing : wrong) += 1;
        if (first_problem.empty()) {
          first_problem = name + ": " +
                          (back.ok() ? FirstDifference(*back, content) : back.status().ToString());
        }
      }
    }
  }
  EXPECT_EQ(missing, 0) << first_problem;
  EXPECT_EQ(wrong, 0) << first_problem;
  EXPECT_LE(present.size(), acked + 2) << "names no writer made";
  std::string why;
  EXPECT_TRUE(WaitFor([&] { return FsckClean(*check, &why); }, std::chrono::seconds(60))) << why;
  std::printf(
      "takeover %.2f s after the cut (files before it: %d tcp, %d unix; %zu acknowledged in all);"
      " longest file: %.2f s tcp, %.2f s unix; the old active stopped %.2f s after its link came"
      " back\n",
      takeover_s, done_at_takeover[0], done_at_takeover[1], acked, writers[0].longest_s,
      writers[1].longest_s, fenced_s);
}

// A second metaserver started while one is active waits as a standby: it
// binds nothing and changes nothing in the database; the active one goes on
// serving.
TEST(HaTest, SecondMetaserverStartedWhileOneIsActiveStaysStandbyAndChangesNothing) {
  auto cluster = TestCluster::Start(HaCluster(2));
  ASSERT_TRUE(cluster);
  {
    auto client = cluster->NewClient();
    ASSERT_TRUE(client);
    ASSERT_TRUE(PutFile(*client, "doc", Bytes(5000, 7)).ok());
  }
  const int holder = LockHolder(cluster->db_url());
  ASSERT_NE(holder, 0);
  // Start the second one afresh while the active one is held still, so that
  // nobody else changes the database meanwhile.
  cluster->StopMetaserver(1, SIGKILL);
  const std::string log_path = cluster->metaserver_process(1)->log_path();
  std::filesystem::remove(log_path);
  Process* active = cluster->metaserver_process(0);
  ASSERT_EQ(::kill(active->pid(), SIGSTOP), 0);
  // A COMMIT it sent just before may land a moment later: wait until two
  // digests in a row agree.
  std::string before = DatabaseDigest(cluster->db_url());
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string now = DatabaseDigest(cluster->db_url());
        std::swap(now, before);
        return now == before;
      },
      std::chrono::seconds(10)));
  cluster->StartMetaserver(1);
  Process* standby = cluster->metaserver_process(1);
  const bool waiting =
      WaitFor([&] { return standby->Log().find("standby: ") != std::string::npos; },
              std::chrono::seconds(30));
  // For 2 s more (four attempts to take the lock): nothing changes, no port.
  const bool changed = WaitFor(
      [&] {
        return DatabaseDigest(cluster->db_url()) != before ||
               WaitForPort(cluster->meta_port(1), std::chrono::seconds(0)) ||
               std::filesystem::exists(cluster->meta_socket_address(1).substr(5));
      },
      std::chrono::seconds(2));
  const bool standby_running = standby->running();
  ASSERT_EQ(::kill(active->pid(), SIGCONT), 0);
  EXPECT_TRUE(waiting) << standby->LogTail();
  EXPECT_FALSE(changed) << "the standby changed the database or serves";
  EXPECT_TRUE(standby_running) << standby->LogTail();
  EXPECT_EQ(LockHolder(cluster->db_url()), holder);
  // The active one serves on (the chunk servers, silent towards it while
  // it was stopped, register again).
  EXPECT_TRUE(cluster->WaitForAliveServers(2, 30000));
  auto client = ConnectTo(cluster->meta_address());
  ASSERT_TRUE(client);
  auto doc = client->ResolvePath("/doc");
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto back = ReadAll(*client, doc->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == Bytes(5000, 7));
  EXPECT_TRUE(client->Mkdir(kRootInode, "later", 0755).ok());
  EXPECT_FALSE(WaitForPort(cluster->meta_port(1), std::chrono::seconds(0)));
  EXPECT_TRUE(active->running());
}

// Address lists: a dead address before a good one works (Unix sockets and
// TCP, with spaces, through the library, --meta and $DDBFS_META); only dead
// addresses fail with one line naming them all.
TEST(HaTest, AddressListsSkipDeadAddressesAndAllDeadFailsWithOneLine) {
  ClusterOptions o;
  o.chunk_servers = 2;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  const std::string dead_socket = "unix:" + cluster->dir() + "/nobody.sock";
  const std::string dead_tcp = "127.0.0.1:" + std::to_string(FreePort());
  const std::string dead_tcp2 = "127.0.0.1:" + std::to_string(FreePort());
  const std::string good = cluster->meta_socket_address(0);

  auto a = ConnectTo(dead_socket + "," + good);
  ASSERT_TRUE(a);
  ASSERT_TRUE(PutFile(*a, "listed", Bytes(3000, 3)).ok());
  auto b = ConnectTo(dead_tcp + " , " + dead_socket + ", " + good);
  ASSERT_TRUE(b);
  auto listed = b->ResolvePath("/listed");
  ASSERT_TRUE(listed.ok()) << listed.status();
  auto back = ReadAll(*b, listed->inode);
  ASSERT_TRUE(back.ok() && *back == Bytes(3000, 3));

  const std::string ddbfs = cluster->bin("ddbfs");
  CommandResult ls = RunCommand({ddbfs, "--meta", dead_tcp + "," + good, "ls", "/"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("listed"), std::string::npos) << ls.out;
  CommandResult env_ls = RunCommand({ddbfs, "ls", "/"}, "", std::chrono::seconds(60),
                                    {"DDBFS_META=" + dead_socket + "," + good});
  EXPECT_EQ(env_ls.exit_code, 0) << env_ls.err;
  EXPECT_NE(env_ls.out.find("listed"), std::string::npos) << env_ls.out;

  CommandResult dead = RunCommand({ddbfs, "--meta", dead_tcp + "," + dead_tcp2, "ls", "/"});
  EXPECT_EQ(dead.exit_code, 9) << dead.err;
  EXPECT_EQ(std::count(dead.err.begin(), dead.err.end(), '\n'), 1) << dead.err;
  EXPECT_NE(dead.err.find("cannot reach metaserver at " + dead_tcp + "," + dead_tcp2 +
                          " (connection refused)"),
            std::string::npos)
      << dead.err;
  CommandResult malformed = RunCommand({ddbfs, "--meta", dead_tcp + ",," + good, "ls", "/"});
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_EQ(std::count(malformed.err.begin(), malformed.err.end(), '\n'), 1) << malformed.err;
  EXPECT_NE(malformed.err.find("has an empty entry"), std::string::npos) << malformed.err;
}

}  // namespace
}  // namespace ddbfs::testing
