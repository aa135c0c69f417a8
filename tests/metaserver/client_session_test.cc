// Client sessions and the orphans they hold (docs/metadata.md, "Client
// sessions and orphans"): a file unlinked or renamed over while its client
// has it open lives on without a name until the client releases it, closes
// its session, or stops renewing it; a session is usable only by the
// principal that opened it.

#include <chrono>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "MetaService.h"
#include "ddbfs/auth.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "meta_test_base.h"
#include "metaserver/ops/open_files.h"
#include "metaserver/ops/session_ops.h"
#include "pg_instance.h"
#include "process.h"
#include "test_keys.h"

namespace ddbfs::meta::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The owner a Unix-socket connection of uid 1000 has (Access::owner).
const std::string kOwner = "uid:1000";
const std::string kOther = "uid:2000";

OrphanHolder Holder(int64_t session, std::vector<InodeId> open, const std::string& owner = kOwner) {
  return OrphanHolder{session, owner, std::move(open)};
}

class ClientSessionTest : public MetaTest {
 protected:
  void SetUp() override {
    MetaTest::SetUp();
    AddServer("session-test-a", "host1");
    AddServer("session-test-b", "host2");
  }

  int64_t MustOpenSession(const std::string& owner = kOwner) {
    auto s = OpenClientSession(ctx(), owner, "test client of " + owner);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }

  // A file with one committed chunk of 100 bytes; *chunk_id: its chunk.
  Attr MustCreateWritten(const std::string& name, int64_t* chunk_id) {
    Attr f = MustCreate(kRootInode, name);
    *chunk_id = MustWriteChunk(f.inode, 0, 100, 100).chunk_id;
    return f;
  }

  bool Exists(InodeId inode) { return GetAttr(ctx(), caller_, inode).ok(); }

  // Replicas of the chunk queued for deletion on the chunk servers.
  int64_t QueuedForGc(int64_t chunk_id) {
    return QueryInt("SELECT count(*) FROM ddbfs.gc_queue WHERE chunk_id = " +
                    std::to_string(chunk_id));
  }
};

TEST_F(ClientSessionTest, AnUnlinkedOpenFileIsAnOrphanUntilItsRelease) {
  int64_t chunk = 0;
  const Attr f = MustCreateWritten("f", &chunk);
  const int64_t s = MustOpenSession();
  auto kept = UnlinkKeepingOpen(ctx(), caller_, kRootInode, "f", Holder(s, {f.inode}));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(*kept, f.inode);

  // No name: neither lookup nor readdir finds it.
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "f")), ErrorCode::kNotFound);
  auto page = ReadDir(ctx(), caller_, kRootInode, "", 100);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->entries.empty());
  // Alive by inode id, with its data, and it takes writes and commits.
  auto a = GetAttr(ctx(), caller_, f.inode);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->nlink, 0u);
  EXPECT_EQ(a->size, 100u);
  EXPECT_EQ(QueuedForGc(chunk), 0);
  const int64_t chunk1 = MustWriteChunk(f.inode, 1, 50, kChunkSize + 50).chunk_id;
  auto map = GetChunks(ctx(), caller_, f.inode, 0, 10, false);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->chunks.size(), 2u);
  EXPECT_EQ(map->attr.size, kChunkSize + 50);
  // It gets no name back (linkat of an unlinked file is ENOENT).
  EXPECT_EQ(CodeOf(Link(ctx(), caller_, f.inode, kRootInode, "again")), ErrorCode::kNotFound);

  // The last close: deleted with its data, as a last unlink does.
  ASSERT_TRUE(ReleaseOrphan(ctx(), kOwner, s, f.inode).ok());
  EXPECT_FALSE(Exists(f.inode));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks WHERE inode = " + std::to_string(f.inode)),
            0);
  EXPECT_EQ(QueuedForGc(chunk), 2);
  EXPECT_EQ(QueuedForGc(chunk1), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.orphans"), 0);
  // A retry after a lost answer changes nothing.
  EXPECT_TRUE(ReleaseOrphan(ctx(), kOwner, s, f.inode).ok());
}

TEST_F(ClientSessionTest, OnlyOpenFilesLosingTheirLastNameAreKept) {
  const int64_t s = MustOpenSession();
  const Attr open = MustCreate(kRootInode, "open");
  const Attr closed = MustCreate(kRootInode, "closed");
  ASSERT_TRUE(Link(ctx(), caller_, open.inode, kRootInode, "second").ok());

  // Not open: deleted at once, as a plain unlink.
  auto r = UnlinkKeepingOpen(ctx(), caller_, kRootInode, "closed", Holder(s, {open.inode}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
  EXPECT_FALSE(Exists(closed.inode));
  // Open, but another name is left: only a link goes.
  r = UnlinkKeepingOpen(ctx(), caller_, kRootInode, "open", Holder(s, {open.inode}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(GetAttr(ctx(), caller_, open.inode)->nlink, 1u);
  // Its last name: kept.
  r = UnlinkKeepingOpen(ctx(), caller_, kRootInode, "second", Holder(s, {open.inode}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, open.inode);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.orphans WHERE session_id = " + std::to_string(s)),
            1);
}

TEST_F(ClientSessionTest, ARenameOverAnOpenFileKeepsItUntilTheSessionCloses) {
  int64_t chunk = 0;
  const Attr old_file = MustCreateWritten("old", &chunk);
  const Attr new_file = MustCreate(kRootInode, "new");
  const int64_t s = MustOpenSession();
  auto kept = RenameKeepingOpen(ctx(), caller_, kRootInode, "new", kRootInode, "old", 0,
                                Holder(s, {old_file.inode}));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(*kept, old_file.inode);
  EXPECT_EQ(Lookup(ctx(), caller_, kRootInode, "old")->inode, new_file.inode);
  auto a = GetAttr(ctx(), caller_, old_file.inode);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->nlink, 0u);

  // A clean unmount closes the session: its orphans go with their data.
  auto closed = CloseClientSession(ctx(), kOwner, s);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(*closed, 1);
  EXPECT_FALSE(Exists(old_file.inode));
  EXPECT_EQ(QueuedForGc(chunk), 2);
  EXPECT_TRUE(Exists(new_file.inode));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.client_sessions"), 0);
  EXPECT_EQ(CodeOf(RenewClientSession(ctx(), kOwner, s)), ErrorCode::kLeaseExpired);
}

TEST_F(ClientSessionTest, AFileOpenInSeveralSessionsGoesWhenTheLastOfThemReleasesIt) {
  int64_t chunk = 0;
  const Attr f = MustCreateWritten("f", &chunk);
  const int64_t a = MustOpenSession();
  const int64_t b = MustOpenSession();
  const int64_t c = MustOpenSession();
  ASSERT_TRUE(UpdateOpenFiles(ctx(), kOwner, b, {f.inode}, {}, false).ok());
  ASSERT_TRUE(UpdateOpenFiles(ctx(), kOwner, c, {f.inode}, {}, false).ok());
  // A (which does not have it open) removes its last name: b and c hold it.
  auto kept = UnlinkKeepingOpen(ctx(), caller_, kRootInode, "f", Holder(a, {}));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(*kept, 0) << "the unlinking session does not hold it";
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.orphans WHERE inode = " + std::to_string(f.inode)),
            2);
  auto released = UpdateOpenFiles(ctx(), kOwner, b, {}, {f.inode}, false);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->orphans_deleted, 0);
  EXPECT_TRUE(Exists(f.inode));
  EXPECT_EQ(QueuedForGc(chunk), 0);
  // The last holder's session closes: it goes with its data.
  ASSERT_EQ(*CloseClientSession(ctx(), kOwner, c), 1);
  EXPECT_FALSE(Exists(f.inode));
  EXPECT_EQ(QueuedForGc(chunk), 2);
  // A file nobody declared goes at once, as before.
  const Attr g = MustCreate(kRootInode, "g");
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "g").ok());
  EXPECT_FALSE(Exists(g.inode));
}

// A metaserver that lets a session have 3 files open.
class OpenFilesLimitTest : public ClientSessionTest {
 protected:
  size_t max_open_files() const override { return 3; }
};

TEST_F(OpenFilesLimitTest, ASessionDeclaresAtMostTheLimitOfOpenFiles) {
  OpenFiles& files = core_->open_files();
  const int64_t s = MustOpenSession();
  ASSERT_TRUE(UpdateOpenFiles(ctx(), kOwner, s, {11, 12}, {}, false).ok());
  EXPECT_EQ(CodeOf(UpdateOpenFiles(ctx(), kOwner, s, {13, 14}, {}, false)),
            ErrorCode::kTooManyOpen);
  EXPECT_EQ(files.Holders(13), std::vector<int64_t>{}) << "a refused declaration changed the set";
  ASSERT_TRUE(UpdateOpenFiles(ctx(), kOwner, s, {}, {11}, false).ok());
  EXPECT_TRUE(UpdateOpenFiles(ctx(), kOwner, s, {13, 14}, {}, false).ok());
  EXPECT_EQ(files.Holders(14), std::vector<int64_t>{s});
  EXPECT_EQ(CodeOf(UpdateOpenFiles(ctx(), kOwner, s, {1, 2, 3, 4}, {}, true)),
            ErrorCode::kTooManyOpen);
  EXPECT_EQ(files.Holders(14), std::vector<int64_t>{s});
  EXPECT_EQ(CodeOf(UpdateOpenFiles(ctx(), kOwner, s + 1000, {5}, {}, false)),
            ErrorCode::kLeaseExpired);
}

TEST_F(ClientSessionTest, AnotherPrincipalCannotUseTheSession) {
  const int64_t s = MustOpenSession(kOwner);
  const Attr f = MustCreate(kRootInode, "f");
  ASSERT_EQ(*UnlinkKeepingOpen(ctx(), caller_, kRootInode, "f", Holder(s, {f.inode})), f.inode);

  // Guessing the session id gets another principal nothing.
  EXPECT_EQ(CodeOf(ReleaseOrphan(ctx(), kOther, s, f.inode)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(CloseClientSession(ctx(), kOther, s)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(RenewClientSession(ctx(), kOther, s)), ErrorCode::kPermissionDenied);
  const Attr g = MustCreate(kRootInode, "g");
  EXPECT_EQ(
      CodeOf(UnlinkKeepingOpen(ctx(), caller_, kRootInode, "g", Holder(s, {g.inode}, kOther))),
      ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Lookup(ctx(), caller_, kRootInode, "g").ok()) << "a refused unlink removed the name";
  // Nor does a session of its own release another session's orphan (it
  // holds none: nothing happens).
  const int64_t theirs = MustOpenSession(kOther);
  EXPECT_TRUE(ReleaseOrphan(ctx(), kOther, theirs, f.inode).ok());
  EXPECT_TRUE(Exists(f.inode));
  // Nor declare files open in it, nor release them.
  EXPECT_EQ(CodeOf(UpdateOpenFiles(ctx(), kOther, s, {f.inode}, {}, false)),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(UpdateOpenFiles(ctx(), kOther, s, {}, {f.inode}, false)),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(UpdateOpenFiles(ctx(), kOther, s, {}, {}, true)), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Exists(f.inode));
  EXPECT_EQ(GetAttr(ctx(), caller_, f.inode)->nlink, 0u);
  // A session id that was never handed out.
  EXPECT_EQ(CodeOf(UnlinkKeepingOpen(ctx(), caller_, kRootInode, "g", Holder(s + 1000, {}))),
            ErrorCode::kLeaseExpired);
  EXPECT_TRUE(ReleaseOrphan(ctx(), kOwner, s, f.inode).ok());
  EXPECT_FALSE(Exists(f.inode));
}

// Sessions that live for one second unless renewed.
class SessionExpiryTest : public ClientSessionTest {
 protected:
  int session_timeout_ms() const override { return 1000; }

  // Stops the core and opens a new one on the same database.
  void Restart() {
    core_.reset();
    MetaOptions o;
    o.db_url = db_url();
    o.db_wait = std::chrono::seconds(10);
    o.sessions.timeout_ms = session_timeout_ms();
    auto core = MetaCore::Open(o);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = std::move(core).value();
  }

  // Renews `session` every 200 ms until `done()` or `limit` passed; false
  // if a renewal failed or the limit passed first.
  template <typename Done>
  bool RenewUntil(int64_t session, Done done, std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      Status r = RenewClientSession(ctx(), kOwner, session).status();
      EXPECT_TRUE(r.ok()) << r;
      if (!r.ok()) return false;
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
};

TEST_F(SessionExpiryTest, ADeadSessionsOrphansAreDeletedWithTheirData) {
  int64_t dead_chunk = 0;
  int64_t live_chunk = 0;
  const Attr dead_file = MustCreateWritten("dead", &dead_chunk);
  const Attr live_file = MustCreateWritten("live", &live_chunk);
  const int64_t dead = MustOpenSession();
  const int64_t live = MustOpenSession();
  ASSERT_EQ(*UnlinkKeepingOpen(ctx(), caller_, kRootInode, "dead", Holder(dead, {dead_file.inode})),
            dead_file.inode);
  ASSERT_EQ(*UnlinkKeepingOpen(ctx(), caller_, kRootInode, "live", Holder(live, {live_file.inode})),
            live_file.inode);
  const auto start = Clock::now();

  // `dead` is never renewed (its client was killed); `live` is.
  EXPECT_TRUE(RenewUntil(
      live, [&] { return !Exists(dead_file.inode); }, std::chrono::seconds(10)))
      << "the orphan of an expired session is still there";
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(session_timeout_ms() - 100));
  EXPECT_EQ(QueuedForGc(dead_chunk), 2);
  EXPECT_EQ(CodeOf(RenewClientSession(ctx(), kOwner, dead)), ErrorCode::kLeaseExpired);
  EXPECT_GE(core_->reaper().reaped(), 1);

  // A renewed session keeps its orphan for as long as it lives.
  RenewUntil(
      live, [] { return false; }, std::chrono::milliseconds(3 * session_timeout_ms()));
  EXPECT_TRUE(Exists(live_file.inode));
  EXPECT_EQ(QueuedForGc(live_chunk), 0);
}

TEST_F(SessionExpiryTest, AfterARestartSessionsThatDoNotComeBackAreReaped) {
  const Attr back_file = MustCreate(kRootInode, "back");
  const Attr gone_file = MustCreate(kRootInode, "gone");
  const int64_t back = MustOpenSession();
  const int64_t gone = MustOpenSession();
  ASSERT_EQ(*UnlinkKeepingOpen(ctx(), caller_, kRootInode, "back", Holder(back, {back_file.inode})),
            back_file.inode);
  ASSERT_EQ(*UnlinkKeepingOpen(ctx(), caller_, kRootInode, "gone", Holder(gone, {gone_file.inode})),
            gone_file.inode);
  // The metaserver stays down for longer than the timeout: no client could
  // renew meanwhile.
  core_.reset();
  {
    pqxx::connection conn(db_url());
    pqxx::nontransaction txn(conn);
    txn.exec("UPDATE ddbfs.client_sessions SET expires_ms = expires_ms - 3600000");
  }
  Restart();
  ASSERT_NE(core_, nullptr);
  // A client that comes back within the timeout keeps its session.
  Status renewed = RenewClientSession(ctx(), kOwner, back).status();
  EXPECT_TRUE(renewed.ok()) << renewed;
  EXPECT_TRUE(Exists(gone_file.inode));
  // One that does not is reaped after the timeout.
  EXPECT_TRUE(RenewUntil(
      back, [&] { return !Exists(gone_file.inode); }, std::chrono::seconds(10)))
      << "the orphan of a session that did not come back is still there";
  EXPECT_TRUE(Exists(back_file.inode));
}

// ---- over Thrift, against the real ddbfs-metaserver

using ddbfs::testing::PgInstance;
using ddbfs::testing::Process;
using ddbfs::testing::TempDir;
using Conn = RpcConnection<rpc::MetaServiceClient>;

class ClientSessionProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_url_ = PgInstance::Shared().NewDatabaseUrl();
    port_ = ddbfs::testing::FreePort();
    key_file_ = ddbfs::testing::WriteClusterKey(dir_.path());
    meta_ = std::make_unique<Process>(
        std::string(DDBFS_BINARY_DIR) + "/bin/ddbfs-metaserver",
        std::vector<std::string>{"--db", db_url_, "--listen", "127.0.0.1:" + std::to_string(port_),
                                 "--cluster-key-file", key_file_},
        dir_.path() + "/meta.log");
    ASSERT_TRUE(ddbfs::testing::WaitForPort(port_, std::chrono::seconds(30))) << meta_->LogTail();
    cluster_ = std::make_unique<Conn>("127.0.0.1", port_, 20000,
                                      ddbfs::testing::ClusterTransport(key_file_));
    pqxx::connection conn(db_url_);
    pqxx::nontransaction txn(conn);
    txn.exec("UPDATE ddbfs.inodes SET uid = 1000, gid = 100 WHERE id = 1");
  }

  // A context of uid 1000 with request id (client, seq).
  static rpc::RequestContext Ctx(const std::string& client, int64_t seq) {
    rpc::RequestContext ctx;
    ctx.uid = 1000;
    ctx.gid = 100;
    ctx.__set_client_id(client);
    ctx.__set_seq(seq);
    return ctx;
  }

  int64_t QueryInt(const std::string& sql) {
    pqxx::connection conn(db_url_);
    pqxx::nontransaction txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  TempDir dir_{"ddbfs-session"};
  std::string db_url_;
  int port_ = 0;
  std::string key_file_;
  std::unique_ptr<Process> meta_;
  std::unique_ptr<Conn> cluster_;  // the cluster key: principal "cluster"
};

TEST_F(ClientSessionProcessTest, ASessionIsTiedToThePrincipalOfItsConnection) {
  const std::string a = "aaaaaaaaaaaaaaaa";
  rpc::OpenSessionRequest open;
  open.ctx = Ctx(a, 1);
  open.description = "mount A";
  rpc::OpenSessionResponse session;
  ASSERT_TRUE(cluster_->Call([&](auto& c) { c.OpenSession(session, open); }).ok());
  ASSERT_EQ(session.status.code, rpc::ErrorCode::OK) << session.status.message;
  EXPECT_EQ(session.timeout_ms, 60000);
  rpc::CreateRequest create;
  create.ctx = Ctx(a, 2);
  create.parent = kRootInode;
  create.name = "f";
  create.mode = 0644;
  rpc::CreateResponse created;
  ASSERT_TRUE(cluster_->Call([&](auto& c) { c.Create(created, create); }).ok());
  ASSERT_EQ(created.status.code, rpc::ErrorCode::OK) << created.status.message;
  const int64_t inode = created.attr.inode;

  // Unlink keeping the open file; a retry of the same request (its answer
  // was lost) gets the same answer, orphan included.
  rpc::UnlinkRequest unlink;
  unlink.ctx = Ctx(a, 3);
  unlink.parent = kRootInode;
  unlink.name = "f";
  unlink.__set_session_id(session.session_id);
  unlink.__set_open_inodes({inode});
  for (int attempt = 0; attempt < 2; ++attempt) {
    rpc::UnlinkResponse r;
    ASSERT_TRUE(cluster_->Call([&](auto& c) { c.Unlink(r, unlink); }).ok());
    ASSERT_EQ(r.status.code, rpc::ErrorCode::OK)
        << "attempt " << attempt << ": " << r.status.message;
    EXPECT_TRUE(r.__isset.orphaned_inode) << "attempt " << attempt;
    EXPECT_EQ(r.orphaned_inode, inode) << "attempt " << attempt;
  }

  // Another principal (an export key) that knows the session id.
  rpc::AddKeyRequest add;
  add.ctx = Ctx(a, 4);
  add.key.name = "other";
  add.key.identity = "trusted";
  add.key.subtree = "/";
  rpc::AddKeyResponse key;
  ASSERT_TRUE(cluster_->Call([&](auto& c) { c.AddKey(key, add); }).ok());
  ASSERT_EQ(key.status.code, rpc::ErrorCode::OK) << key.status.message;
  auto transport = Transport::Create({}, Credential{key.key.key_id, key.secret});
  ASSERT_TRUE(transport.ok()) << transport.status();
  Conn other("127.0.0.1", port_, 20000, *transport);
  const std::string b = "bbbbbbbbbbbbbbbb";
  rpc::ReleaseOrphanRequest release;
  release.ctx = Ctx(b, 1);
  release.session_id = session.session_id;
  release.inode = inode;
  rpc::ReleaseOrphanResponse released;
  ASSERT_TRUE(other.Call([&](auto& c) { c.ReleaseOrphan(released, release); }).ok());
  EXPECT_EQ(released.status.code, rpc::ErrorCode::PERMISSION_DENIED) << released.status.message;
  rpc::CloseSessionRequest close;
  close.ctx = Ctx(b, 2);
  close.session_id = session.session_id;
  rpc::CloseSessionResponse closed;
  ASSERT_TRUE(other.Call([&](auto& c) { c.CloseSession(closed, close); }).ok());
  EXPECT_EQ(closed.status.code, rpc::ErrorCode::PERMISSION_DENIED) << closed.status.message;
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes WHERE id = " + std::to_string(inode)), 1);

  // Its owner closes it: the orphan goes.
  close.ctx = Ctx(a, 5);
  ASSERT_TRUE(cluster_->Call([&](auto& c) { c.CloseSession(closed, close); }).ok());
  ASSERT_EQ(closed.status.code, rpc::ErrorCode::OK) << closed.status.message;
  EXPECT_EQ(closed.released, 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes WHERE id = " + std::to_string(inode)), 0);
}

}  // namespace
}  // namespace ddbfs::meta::testing
