// ddbfs-metaserver as a real process, over Thrift.

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "MetaService.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "fake_server.h"
#include "pg_instance.h"
#include "process.h"
#include "test_keys.h"

namespace ddbfs::meta::testing {
namespace {

using ddbfs::testing::PgInstance;
using ddbfs::testing::Process;
using ddbfs::testing::TempDir;
using ddbfs::testing::WaitFor;
using Conn = RpcConnection<rpc::MetaServiceClient>;

std::string MetaserverBinary() { return std::string(DDBFS_BINARY_DIR) + "/bin/ddbfs-metaserver"; }

class MetaserverProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { db_url_ = PgInstance::Shared().NewDatabaseUrl(); }

  // Starts the metaserver with `args` (plus --listen on a free port unless
  // given) and waits until it accepts connections.
  std::unique_ptr<Process> Start(std::vector<std::string> args, bool wait = true) {
    port_ = ddbfs::testing::FreePort();
    args.push_back("--listen");
    args.push_back("127.0.0.1:" + std::to_string(port_));
    if (key_file_.empty()) key_file_ = ddbfs::testing::WriteClusterKey(dir_.path());
    args.push_back("--cluster-key-file");
    args.push_back(key_file_);
    auto p = std::make_unique<Process>(MetaserverBinary(), args, dir_.path() + "/meta.log");
    if (wait) {
      EXPECT_TRUE(ddbfs::testing::WaitForPort(port_, std::chrono::seconds(30))) << p->LogTail();
    }
    return p;
  }
  std::unique_ptr<Process> StartDefault() {
    return Start({"--db", db_url_, "--heartbeat-timeout-ms", "10000"});
  }
  std::unique_ptr<Conn> Connect() {
    return std::make_unique<Conn>("127.0.0.1", port_, 10000,
                                  ddbfs::testing::ClusterTransport(key_file_));
  }

  TempDir dir_{"ddbfs-meta-test"};
  std::string db_url_;
  int port_ = 0;
  std::string key_file_;
};

TEST_F(MetaserverProcessTest, ServesTheNamespaceOverThrift) {
  auto meta = StartDefault();
  auto conn = Connect();
  {
    // The mkdir below runs as uid 1000: give it the root directory (root's,
    // 0755, in a new file system), as an administrator would.
    pqxx::connection c(db_url_);
    pqxx::nontransaction txn(c);
    txn.exec("UPDATE ddbfs.inodes SET uid = 1000 WHERE id = 1");
  }
  rpc::MkdirResponse mk;
  rpc::MkdirRequest mreq;
  mreq.parent = kRootInode;
  mreq.name = "docs";
  mreq.mode = 0755;
  mreq.ctx.uid = 1000;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.Mkdir(mk, mreq); }).ok());
  ASSERT_EQ(mk.status.code, rpc::ErrorCode::OK) << mk.status.message;
  EXPECT_EQ(mk.attr.type, rpc::FileType::DIRECTORY);
  EXPECT_EQ(mk.attr.uid, 1000);

  rpc::CreateRequest creq;
  creq.parent = mk.attr.inode;
  creq.name = "a.txt";
  creq.mode = 0644;
  creq.__set_mtime_ns(42);
  rpc::CreateResponse cr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.Create(cr, creq); }).ok());
  ASSERT_EQ(cr.status.code, rpc::ErrorCode::OK) << cr.status.message;
  EXPECT_EQ(cr.attr.mtime_ns, 42);
  EXPECT_EQ(cr.attr.goal, kDefaultGoal);
  EXPECT_FALSE(cr.__isset.first_chunk);  // not asked for

  rpc::ResolvePathRequest rreq;
  rreq.path = "/docs/a.txt";
  rpc::ResolvePathResponse rr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.ResolvePath(rr, rreq); }).ok());
  EXPECT_EQ(rr.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(rr.attr.inode, cr.attr.inode);

  rpc::ReadDirRequest dreq;
  dreq.inode = mk.attr.inode;
  dreq.limit = 10;
  rpc::ReadDirResponse dr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.ReadDir(dr, dreq); }).ok());
  ASSERT_EQ(dr.entries.size(), 1u);
  EXPECT_EQ(dr.entries[0].name, "a.txt");
  EXPECT_FALSE(dr.more);

  // A fake chunk server, a write, and the chunk map.
  rpc::RegisterServerResponse regr = RegisterFakeServer(*conn);
  ASSERT_EQ(regr.status.code, rpc::ErrorCode::OK) << regr.status.message;
  EXPECT_EQ(regr.heartbeat_interval_ms, 2500);
  rpc::PrepareWriteRequest pw;
  pw.inode = cr.attr.inode;
  pw.index = 0;
  rpc::PrepareWriteResponse pwr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.PrepareWrite(pwr, pw); }).ok());
  ASSERT_EQ(pwr.status.code, rpc::ErrorCode::OK) << pwr.status.message;
  ASSERT_EQ(pwr.replicas.size(), 1u);
  EXPECT_EQ(pwr.replicas[0].port, 9999);
  rpc::CommitWriteRequest cw;
  cw.inode = cr.attr.inode;
  rpc::ChunkCommit cc;
  cc.index = 0;
  cc.chunk_id = pwr.chunk_id;
  cc.version = pwr.version;
  cc.length = 5;
  cc.written = {regr.server_id};
  cc.lease_id = pwr.lease_id;
  cw.chunks = {cc};
  cw.size = 5;
  rpc::CommitWriteResponse cwr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.CommitWrite(cwr, cw); }).ok());
  ASSERT_EQ(cwr.status.code, rpc::ErrorCode::OK) << cwr.status.message;
  EXPECT_EQ(cwr.attr.size, 5);
  rpc::GetChunksRequest gc;
  gc.inode = cr.attr.inode;
  gc.count = 10;
  gc.all_replicas = true;
  rpc::GetChunksResponse gcr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.GetChunks(gcr, gc); }).ok());
  ASSERT_EQ(gcr.chunks.size(), 1u);
  ASSERT_EQ(gcr.chunks[0].replicas.size(), 1u);
  EXPECT_EQ(gcr.chunks[0].replicas[0].label, "h1");
  EXPECT_TRUE(gcr.chunks[0].replicas[0].alive);

  rpc::ClusterStatusResponse cs;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.ClusterStatus(cs, rpc::ClusterStatusRequest()); }).ok());
  EXPECT_EQ(cs.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(cs.files, 1);
  EXPECT_EQ(cs.directories, 2);
  EXPECT_EQ(cs.logical_bytes, 5);
  ASSERT_EQ(cs.servers.size(), 1u);

  // SIGTERM: a clean exit.
  int status = meta->Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << meta->LogTail();
}

TEST_F(MetaserverProcessTest, CreateCanPlaceTheFirstChunkOverThrift) {
  auto meta = StartDefault();
  auto conn = Connect();
  rpc::CreateRequest creq;
  creq.parent = kRootInode;
  creq.name = "early";
  creq.mode = 0644;
  creq.prepare_first_chunk = true;
  rpc::CreateResponse cr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.Create(cr, creq); }).ok());
  ASSERT_EQ(cr.status.code, rpc::ErrorCode::OK) << cr.status.message;
  EXPECT_FALSE(cr.__isset.first_chunk);  // no chunk server yet: the file alone

  rpc::RegisterServerResponse regr = RegisterFakeServer(*conn);
  ASSERT_EQ(regr.status.code, rpc::ErrorCode::OK) << regr.status.message;
  creq.name = "placed";
  ASSERT_TRUE(conn->Call([&](auto& c) { c.Create(cr, creq); }).ok());
  ASSERT_EQ(cr.status.code, rpc::ErrorCode::OK) << cr.status.message;
  ASSERT_TRUE(cr.__isset.first_chunk);
  EXPECT_EQ(cr.first_chunk.index, 0);
  EXPECT_GT(cr.first_chunk.chunk_id, 0);
  EXPECT_EQ(cr.first_chunk.version, 1);
  EXPECT_EQ(cr.first_chunk.length, 0);
  ASSERT_EQ(cr.first_chunk.replicas.size(), 1u);
  EXPECT_EQ(cr.first_chunk.replicas[0].server_id, regr.server_id);
  EXPECT_EQ(cr.first_chunk.replicas[0].host, "127.0.0.1");
  EXPECT_EQ(cr.first_chunk.replicas[0].port, 9999);

  rpc::CommitWriteRequest cw;
  cw.inode = cr.attr.inode;
  rpc::ChunkCommit cc;
  cc.index = 0;
  cc.chunk_id = cr.first_chunk.chunk_id;
  cc.version = cr.first_chunk.version;
  cc.length = 7;
  cc.written = {regr.server_id};
  cc.lease_id = cr.first_chunk.lease_id;
  cw.chunks = {cc};
  cw.size = 7;
  rpc::CommitWriteResponse cwr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.CommitWrite(cwr, cw); }).ok());
  ASSERT_EQ(cwr.status.code, rpc::ErrorCode::OK) << cwr.status.message;
  EXPECT_EQ(cwr.attr.size, 7);
}

// The findings of the trust-boundary review (docs/security.md): a peer that
// has not authenticated is served nothing and changes nothing.
TEST_F(MetaserverProcessTest, UnauthenticatedCallsAreRefusedAndChangeNothing) {
  auto meta = StartDefault();
  auto trusted = Connect();
  RegisterFakeServer(*trusted);            // server "u1" at 127.0.0.1:9999
  Conn anyone("127.0.0.1", port_, 10000);  // no key
  const auto refused = rpc::ErrorCode::UNAUTHENTICATED;

  rpc::RegisterServerRequest reg;  // u1's uuid, moved to a bogus address
  reg.host = "10.66.66.66";
  reg.port = 1;
  reg.label = "evil";
  reg.uuid = "u1";
  rpc::RegisterServerResponse regr;
  ASSERT_TRUE(anyone.Call([&](auto& c) { c.RegisterServer(regr, reg); }).ok());
  EXPECT_EQ(regr.status.code, refused);

  rpc::ReportBadReplicaRequest bad;
  bad.chunk_id = 1;
  bad.server_id = 1;
  bad.reason = rpc::ErrorCode::CHECKSUM_MISMATCH;
  rpc::ReportBadReplicaResponse badr;
  ASSERT_TRUE(anyone.Call([&](auto& c) { c.ReportBadReplica(badr, bad); }).ok());
  EXPECT_EQ(badr.status.code, refused);

  rpc::SetAttrRequest chown;  // take the root directory
  chown.inode = kRootInode;
  chown.__set_uid(666);
  rpc::SetAttrResponse chownr;
  ASSERT_TRUE(anyone.Call([&](auto& c) { c.SetAttr(chownr, chown); }).ok());
  EXPECT_EQ(chownr.status.code, refused);

  rpc::GetAttrRequest get;
  get.inode = kRootInode;
  rpc::GetAttrResponse getr;
  ASSERT_TRUE(anyone.Call([&](auto& c) { c.GetAttr(getr, get); }).ok());
  EXPECT_EQ(getr.status.code, refused);

  // A wrong cluster key does not authenticate either.
  auto wrong = Transport::Create({}, Credential{"cluster", RandomBytes(kSecretBytes)});
  ASSERT_TRUE(wrong.ok());
  Conn impostor("127.0.0.1", port_, 10000, *wrong);
  Status s = impostor.Call([&](auto& c) { c.GetAttr(getr, get); });
  EXPECT_EQ(s.code(), ErrorCode::kUnauthenticated) << s;

  pqxx::connection db(db_url_);
  pqxx::nontransaction txn(db);
  EXPECT_EQ(txn.exec1("SELECT host || ':' || port FROM ddbfs.servers WHERE uuid = 'u1'")[0]
                .as<std::string>(),
            "127.0.0.1:9999");
  EXPECT_EQ(txn.exec1("SELECT uid FROM ddbfs.inodes WHERE id = 1")[0].as<int>(), 0);
}

TEST_F(MetaserverProcessTest, MalformedRequestsAreInvalidArgumentsAndTheServerStaysUp) {
  auto meta = StartDefault();
  auto conn = Connect();
  for (const std::string& name : {std::string(""), std::string("a/b"), std::string("..")}) {
    rpc::CreateRequest req;
    req.parent = kRootInode;
    req.name = name;
    rpc::CreateResponse resp;
    ASSERT_TRUE(conn->Call([&](auto& c) { c.Create(resp, req); }).ok());
    EXPECT_EQ(resp.status.code, rpc::ErrorCode::INVALID_ARGUMENT) << name;
    EXPECT_FALSE(resp.status.message.empty());
  }
  rpc::GetAttrRequest neg;
  neg.inode = -7;
  rpc::GetAttrResponse ga;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.GetAttr(ga, neg); }).ok());
  EXPECT_EQ(ga.status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  rpc::SetAttrRequest sa;
  sa.inode = kRootInode;
  sa.__set_size(-1);
  rpc::SetAttrResponse sar;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.SetAttr(sar, sa); }).ok());
  EXPECT_EQ(sar.status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  rpc::ReadDirRequest rd;
  rd.inode = kRootInode;
  rd.limit = -3;
  rpc::ReadDirResponse rdr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.ReadDir(rdr, rd); }).ok());
  EXPECT_EQ(rdr.status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  rpc::HeartbeatRequest hb;
  hb.server_id = 12345;
  rpc::HeartbeatResponse hbr;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.Heartbeat(hbr, hb); }).ok());
  EXPECT_EQ(hbr.status.code, rpc::ErrorCode::OK);
  EXPECT_TRUE(hbr.reregister);
  // Still serving.
  EXPECT_TRUE(meta->running());
  rpc::GetAttrRequest root;
  root.inode = kRootInode;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.GetAttr(ga, root); }).ok());
  EXPECT_EQ(ga.status.code, rpc::ErrorCode::OK);
  EXPECT_EQ(ga.attr.type, rpc::FileType::DIRECTORY);
}

TEST_F(MetaserverProcessTest, UnreachableDatabaseFailsWithOneClearLine) {
  auto meta = Start(
      {"--db", "postgresql://postgres:hunter2@127.0.0.1:1/nope", "--db-wait-ms", "500"}, false);
  auto status = meta->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "still running:\n" << meta->LogTail();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  std::string log = meta->LogTail();
  EXPECT_NE(log.find("cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/nope: "),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
}

TEST_F(MetaserverProcessTest, StartingTwiceKeepsOneSetOfMigrations) {
  auto count = [&] {
    pqxx::connection c(db_url_);
    pqxx::nontransaction t(c);
    return t.exec1("SELECT count(*) FROM ddbfs.schema_migrations")[0].as<int>();
  };
  auto accepts = [](int port) {
    return ddbfs::testing::WaitForPort(port, std::chrono::seconds(0));
  };
  const std::vector<std::string> args{"--db", db_url_, "--heartbeat-timeout-ms", "10000"};
  // Two at once on a fresh database: one becomes the active metaserver, the
  // other waits as a standby without serving (docs/ha.md); then the
  // standby takes over, and one more starts later.
  auto first = Start(args, false);
  const int first_port = port_;
  auto second = Start(args, false);
  const int second_port = port_;
  ASSERT_TRUE(WaitFor([&] { return accepts(first_port) || accepts(second_port); },
                      std::chrono::seconds(30)))
      << first->LogTail();
  const bool first_active = accepts(first_port);
  Process& active = first_active ? *first : *second;
  Process& standby = first_active ? *second : *first;
  const int standby_port = first_active ? second_port : first_port;
  EXPECT_TRUE(WaitFor([&] { return standby.Log().find("standby: ") != std::string::npos; },
                      std::chrono::seconds(10)))
      << active.LogTail();
  EXPECT_TRUE(standby.running());
  EXPECT_FALSE(accepts(standby_port));
  int n = count();
  EXPECT_GE(n, 1);
  active.Stop(SIGTERM);
  EXPECT_TRUE(ddbfs::testing::WaitForPort(standby_port, std::chrono::seconds(30)))
      << standby.LogTail();
  EXPECT_EQ(count(), n);
  standby.Stop(SIGTERM);
  auto third = StartDefault();
  EXPECT_NE(port_, first_port);
  EXPECT_EQ(count(), n);
}

TEST_F(MetaserverProcessTest, ConfigFileGivesTheSameOptions) {
  const std::string config = dir_.path() + "/meta.ini";
  std::ofstream(config) << "db = " << db_url_ << "\nheartbeat-timeout-ms = 2000\n";
  auto meta = Start({"--config", config});
  auto conn = Connect();
  rpc::RegisterServerRequest reg;
  reg.host = "127.0.0.1";
  reg.port = 1;
  reg.uuid = "x";
  rpc::RegisterServerResponse r;
  ASSERT_TRUE(conn->Call([&](auto& c) { c.RegisterServer(r, reg); }).ok());
  EXPECT_EQ(r.status.code, rpc::ErrorCode::OK) << r.status.message;
  EXPECT_EQ(r.heartbeat_interval_ms, 500);  // 2000 / 4, from the file
}

// Restarts the shared PostgreSQL: keep this test cheap and self-contained.
TEST_F(MetaserverProcessTest, DatabaseOutagesAreUnavailableNotCrashes) {
  auto meta = StartDefault();
  auto conn = Connect();
  auto create = [&](const std::string& name) {
    rpc::CreateRequest req;
    req.parent = kRootInode;
    req.name = name;
    req.mode = 0644;
    rpc::CreateResponse resp;
    Status s = conn->Call([&](auto& c) { c.Create(resp, req); });
    EXPECT_TRUE(s.ok()) << s;
    return resp.status;
  };
  auto getattr = [&](int64_t inode) {
    rpc::GetAttrRequest req;
    req.inode = inode;
    rpc::GetAttrResponse resp;
    Status s = conn->Call([&](auto& c) { c.GetAttr(resp, req); });
    EXPECT_TRUE(s.ok()) << s;
    return resp.status;
  };
  ASSERT_EQ(create("before").code, rpc::ErrorCode::OK);
  PgInstance::Shared().Stop();
  rpc::RpcStatus down = create("during");
  EXPECT_EQ(down.code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_NE(down.message.find("metadata database unavailable"), std::string::npos) << down.message;
  // A read that needs the database fails cleanly (inode 424242 is in no
  // cache); so does, once the metaserver cannot confirm its active lock
  // (docs/ha.md, "Fencing"), what the namespace cache holds (the root,
  // which the create changed): it might no longer be the active one.
  EXPECT_EQ(getattr(424242).code, rpc::ErrorCode::UNAVAILABLE);
  EXPECT_TRUE(WaitFor([&] { return getattr(kRootInode).code == rpc::ErrorCode::UNAVAILABLE; },
                      std::chrono::seconds(5)));
  EXPECT_TRUE(meta->running());
  PgInstance::Shared().Start();
  EXPECT_TRUE(
      WaitFor([&] { return create("after").code == rpc::ErrorCode::OK; }, std::chrono::seconds(20)))
      << meta->LogTail();
  EXPECT_EQ(getattr(kRootInode).code, rpc::ErrorCode::OK);
  EXPECT_TRUE(meta->running());
}

}  // namespace
}  // namespace ddbfs::meta::testing
