// The trust boundary on a real cluster (docs/security.md): export keys and
// what they allow, reported replicas checked before they are dropped, TLS.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/rpc.h"
#include "process.h"
#include "test_cluster.h"
#include "test_files.h"

namespace ddbfs {
namespace {

using ddbfs::testing::ClusterOptions;
using ddbfs::testing::TestCluster;

// A client that reaches the metaserver over TCP with `key`.
Result<std::unique_ptr<Client>> KeyClient(TestCluster& c, const ExportKeyInfo& info,
                                          const std::string& secret, TlsOptions tls = {}) {
  ClientOptions o;
  o.meta_address = c.meta_tcp_address();
  o.key = Credential{info.key_id, secret};
  o.tls = tls;
  o.meta_retry_ms = 2000;
  return Client::Connect(o);
}

class TrustTest : public ddbfs::testing::SharedClusterTest<TrustTest> {};

TEST_F(TrustTest, ExportKeysGiveTheIdentityAndRightsTheAdminChose) {
  TestCluster& c = *cluster_;
  auto admin = c.NewClient();  // root over the Unix socket
  ASSERT_TRUE(admin);
  AttrChanges open_root;
  open_root.mode = 0777;
  ASSERT_TRUE(admin->SetAttr(kRootInode, open_root).ok());

  // trusted (the default): the client's uids count, root is squashed.
  ExportKeyInfo trusted;
  trusted.name = "workstation";
  auto t = admin->AddKey(trusted);
  ASSERT_TRUE(t.ok()) << t.status();
  auto tc = KeyClient(c, t->first, t->second);
  ASSERT_TRUE(tc.ok()) << tc.status();
  auto who = (*tc)->WhoAmI();
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->caller.uid, 65534u) << "root of a trusted client is squashed";
  EXPECT_FALSE(who->admin);
  // Not an admin: cannot make keys.
  EXPECT_EQ((*tc)->AddKey(trusted).status().code(), ErrorCode::kPermissionDenied);

  // mapall: everything runs as one uid.
  ExportKeyInfo mapall;
  mapall.name = "kiosk";
  mapall.mapall = true;
  mapall.map_uid = 1234;
  mapall.map_gid = 567;
  auto m = admin->AddKey(mapall);
  ASSERT_TRUE(m.ok()) << m.status();
  auto mc = KeyClient(c, m->first, m->second);
  ASSERT_TRUE(mc.ok()) << mc.status();
  auto made = (*mc)->Mkdir(kRootInode, "kiosk-dir", 0755);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->uid, 1234u);
  EXPECT_EQ(made->gid, 567u);

  // read-only: reads work, changes are EROFS.
  ExportKeyInfo ro;
  ro.name = "reader";
  ro.read_only = true;
  auto r = admin->AddKey(ro);
  ASSERT_TRUE(r.ok()) << r.status();
  auto rc = KeyClient(c, r->first, r->second);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_TRUE((*rc)->Lookup(kRootInode, "kiosk-dir").ok());
  EXPECT_EQ((*rc)->Mkdir(kRootInode, "nope", 0755).status().code(), ErrorCode::kReadOnly);
  EXPECT_EQ((*rc)->Lookup(kRootInode, "nope").status().code(), ErrorCode::kNotFound);

  // networks: a key for 10.0.0.0/8 does not connect from 127.0.0.1.
  ExportKeyInfo far;
  far.name = "elsewhere";
  far.networks = {"10.0.0.0/8"};
  auto f = admin->AddKey(far);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(KeyClient(c, f->first, f->second).status().code(), ErrorCode::kUnauthenticated);
  // A bad network is refused when the key is made.
  far.networks = {"10.0.0.0/40"};
  EXPECT_EQ(admin->AddKey(far).status().code(), ErrorCode::kInvalidArgument);

  // A wrong secret for a real key id.
  EXPECT_EQ(KeyClient(c, m->first, std::string(kSecretBytes, 'x')).status().code(),
            ErrorCode::kUnauthenticated);

  // Revoked: refused on the next request of an open connection, and on a new one.
  ASSERT_TRUE(admin->RevokeKey(m->first.key_id).ok());
  EXPECT_EQ((*mc)->Mkdir(kRootInode, "after-revoke", 0755).status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(KeyClient(c, m->first, m->second).status().code(), ErrorCode::kUnauthenticated);
  auto keys = admin->ListKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  int revoked = 0;
  for (const auto& k : *keys) revoked += k.revoked ? 1 : 0;
  EXPECT_EQ(revoked, 1);
  EXPECT_EQ(admin->Lookup(kRootInode, "after-revoke").status().code(), ErrorCode::kNotFound);
}

TEST_F(TrustTest, AKeyLimitedToASubtreeReachesNothingElse) {
  TestCluster& c = *cluster_;
  auto admin = c.NewClient();
  ASSERT_TRUE(admin);
  auto proj = admin->Mkdir(kRootInode, "proj", 0755);
  ASSERT_TRUE(proj.ok()) << proj.status();
  ASSERT_TRUE(admin->Mkdir(proj->inode, "inside", 0755).ok());
  auto other = admin->Mkdir(kRootInode, "other", 0755);
  ASSERT_TRUE(other.ok()) << other.status();
  auto secret = ddbfs::testing::PutFile(*admin, "outside-file", "not for the subtree key");
  ASSERT_TRUE(secret.ok()) << secret.status();

  ExportKeyInfo k;
  k.name = "project-only";
  k.subtree = "/proj";
  k.maproot_uid = 0;  // root inside the subtree, and still nothing outside it
  k.maproot_gid = 0;
  auto key = admin->AddKey(k);
  ASSERT_TRUE(key.ok()) << key.status();
  auto kc = KeyClient(c, key->first, key->second);
  ASSERT_TRUE(kc.ok()) << kc.status();
  Client& sub = **kc;
  auto root = sub.ResolvePath("/");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->inode, proj->inode) << "the subtree is the key's /";
  EXPECT_TRUE(sub.ResolvePath("/inside").ok());
  EXPECT_EQ(sub.ResolvePath("/other").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(sub.Mkdir(proj->inode, "made-by-key", 0755).ok());
  const auto denied = ErrorCode::kPermissionDenied;
  EXPECT_EQ(sub.GetAttr(other->inode).status().code(), denied);
  EXPECT_EQ(sub.ListDir(kRootInode).status().code(), denied);
  EXPECT_EQ(sub.Mkdir(other->inode, "escape", 0755).status().code(), denied);
  EXPECT_EQ(sub.Rename(proj->inode, "inside", other->inode, "moved-out", 0).code(), denied);
  EXPECT_EQ(sub.Unlink(kRootInode, "outside-file").code(), denied);
  EXPECT_FALSE(ddbfs::testing::ReadAll(sub, secret->inode).ok());
  EXPECT_TRUE(admin->Lookup(proj->inode, "inside").ok()) << "nothing moved out";
  EXPECT_TRUE(admin->Lookup(kRootInode, "outside-file").ok());
  // Files inside are reached by inode too (by any of their names), one or
  // many at a time; one file outside among many refuses the whole call.
  auto made = sub.ResolvePath("/made-by-key");
  ASSERT_TRUE(made.ok()) << made.status();
  std::vector<InodeId> files;
  for (int i = 0; i < 70; ++i) {
    auto f = sub.Create(made->inode, "f" + std::to_string(i), 0644);
    ASSERT_TRUE(f.ok()) << f.status();
    files.push_back(f->inode);
  }
  EXPECT_TRUE(sub.GetAttr(files[0]).ok());
  EXPECT_TRUE(sub.SetTags(files[0], {Tag{"one", std::nullopt}}, {}).ok());
  std::vector<InodeId> with_secret = files;
  with_secret.insert(with_secret.begin() + 35, secret->inode);
  EXPECT_EQ(sub.TagMany(with_secret, {Tag{"many", std::nullopt}}, {}).status().code(), denied);
  auto tagged = sub.TagMany(files, {Tag{"many", std::nullopt}}, {});
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_EQ(*tagged, 70);
  EXPECT_TRUE(admin->GetTags(secret->inode)->empty());
  // Queries and tag counts see only the subtree, with its paths as the key
  // names them.
  auto inside = admin->ResolvePath("/proj/inside");
  ASSERT_TRUE(inside.ok()) << inside.status();
  ASSERT_TRUE(admin->SetTags(inside->inode, {Tag{"seen", std::nullopt}}, {}).ok());
  ASSERT_TRUE(admin->SetTags(secret->inode, {Tag{"seen", std::nullopt}}, {}).ok());
  auto page = sub.Query("seen");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->hits.size(), 1u);
  EXPECT_EQ(page->hits[0].path, "/inside");
  auto counts = sub.ListTags(std::string("seen"));
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_EQ(counts->tags.size(), 1u);
  EXPECT_EQ(counts->tags[0].documents, 1);
  // A subtree that is not an absolute path is refused when the key is made.
  k.subtree = "proj/../etc";
  EXPECT_EQ(admin->AddKey(k).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(TrustTest, AClientsReportDropsAReplicaOnlyWhenItsServerFindsItBad) {
  TestCluster& c = *cluster_;
  auto admin = c.NewClient();
  ASSERT_TRUE(admin);
  auto file = ddbfs::testing::PutFile(*admin, "reported", ddbfs::testing::Bytes(300000, 7));
  ASSERT_TRUE(file.ok()) << file.status();
  auto chunks = admin->Chunks(file->inode);
  ASSERT_TRUE(chunks.ok() && !chunks->empty());
  ASSERT_EQ(chunks->front().replicas.size(), 2u);
  // A client (an export key, not a cluster member) says replica 0 is bad.
  ExportKeyInfo k;
  k.name = "liar";
  auto key = admin->AddKey(k);
  ASSERT_TRUE(key.ok()) << key.status();
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseHostPort(c.meta_tcp_address(), &host, &port).ok());
  auto t = Transport::Create({}, Credential{key->first.key_id, key->second});
  ASSERT_TRUE(t.ok());
  RpcConnection<rpc::MetaServiceClient> conn(host, port, 10000, *t);
  rpc::ReportBadReplicaRequest req;
  req.chunk_id = chunks->front().chunk_id;
  req.server_id = chunks->front().replicas[0].server_id;
  req.reason = rpc::ErrorCode::CHECKSUM_MISMATCH;
  rpc::ReportBadReplicaResponse resp;
  ASSERT_TRUE(conn.Call([&](auto& cl) { cl.ReportBadReplica(resp, req); }).ok());
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
  auto after = admin->Chunks(file->inode);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->front().replicas.size(), 2u) << "the server verified the replica: kept";

  // Now really corrupt it: the same report drops it (its server confirms).
  const int bad = ddbfs::testing::IndexOfServer(c, req.server_id);
  ASSERT_GE(bad, 0);
  const std::string path = ddbfs::testing::FindChunkFile(c.chunk_data_dir(bad), req.chunk_id);
  ASSERT_FALSE(path.empty());
  {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const off_t where = 8192 + 100000;  // after the 8 KiB header, inside block 1
    char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, where), 1);
    b ^= 0x20;
    ASSERT_EQ(::pwrite(fd, &b, 1, where), 1);
    ::close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // one verification a second
  ASSERT_TRUE(conn.Call([&](auto& cl) { cl.ReportBadReplica(resp, req); }).ok());
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
  after = admin->Chunks(file->inode);
  ASSERT_TRUE(after.ok());
  // Dropped; the repair (kicked by the drop) may already have copied the
  // chunk to the third server, never back to this one while its deletion
  // is queued.
  ASSERT_FALSE(after->front().replicas.empty());
  for (const auto& r : after->front().replicas) {
    EXPECT_NE(r.server_id, req.server_id) << "a confirmed bad replica is dropped";
  }
}

// Root over the Unix socket serves other local users (the mount): each
// call made under Client::ActingAs runs as that user, checked as that user.
TEST_F(TrustTest, RootOnTheSocketActsForTheUserEachCallNames) {
  auto root = cluster_->NewClient();
  ASSERT_TRUE(root);
  auto dir = root->Mkdir(kRootInode, "acting", 01777);
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto roots = root->Create(dir->inode, "roots", 0644);
  ASSERT_TRUE(roots.ok()) << roots.status();
  const Caller alice{1001, 1001, {}};
  {
    Client::ActingAs as(alice);
    auto who = root->WhoAmI();
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(who->caller.uid, 1001u);
    auto mine = root->Create(dir->inode, "mine", 0600);
    ASSERT_TRUE(mine.ok()) << mine.status();
    EXPECT_EQ(mine->uid, 1001u) << "a new file belongs to the user the call names";
    EXPECT_EQ(mine->gid, 1001u);
    // The sticky directory protects root's file from alice.
    EXPECT_EQ(root->Unlink(dir->inode, "roots").code(), ErrorCode::kNotPermitted);
    AttrChanges chmod;
    chmod.mode = 0666;
    EXPECT_EQ(root->SetAttr(roots->inode, chmod).status().code(), ErrorCode::kNotPermitted);
    // Another thread of the same client is not alice.
    std::thread([&] {
      auto w = root->WhoAmI();
      ASSERT_TRUE(w.ok());
      EXPECT_EQ(w->caller.uid, 0u);
    }).join();
  }
  // Back to root once the scope ends.
  EXPECT_TRUE(root->Unlink(dir->inode, "roots").ok());
}

TEST(TlsTest, EveryConnectionUsesTlsAndAWrongCertificateIsRefused) {
  ClusterOptions o;
  o.tls = true;
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  auto admin = cluster->NewClient();  // trusts the cluster's CA
  ASSERT_TRUE(admin);
  const std::string data = ddbfs::testing::Bytes(5 << 20, 3);
  auto file = ddbfs::testing::PutFile(*admin, "over-tls", data);
  ASSERT_TRUE(file.ok()) << file.status();
  auto back = ddbfs::testing::ReadAll(*admin, file->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == data);

  // Over TCP with a key: the right CA works.
  ExportKeyInfo k;
  k.name = "tls-client";
  k.maproot_uid = 0;
  k.maproot_gid = 0;
  auto key = admin->AddKey(k);
  ASSERT_TRUE(key.ok()) << key.status();
  // Peers that stop in the middle of a TLS handshake (nothing sent, or half
  // a record) must not hold up the server's one I/O thread.
  const std::string tcp = cluster->meta_tcp_address();
  const int meta_port = std::stoi(tcp.substr(tcp.rfind(':') + 1));
  std::vector<int> stalled;
  for (int i = 0; i < 20; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(meta_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    // A TLS record header announcing a 512-byte handshake message, then
    // only part of it.
    const char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01};
    if (i % 2 == 1) {
      ASSERT_EQ(::send(fd, partial, sizeof partial, MSG_NOSIGNAL), 8);
    }
    stalled.push_back(fd);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto good = KeyClient(*cluster, key->first, key->second, cluster->client_tls());
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2))
      << "stalled handshakes delayed a good client";
  for (int fd : stalled) ::close(fd);
  auto again = ddbfs::testing::ReadAll(**good, file->inode);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == data);

  // A CA that did not sign the servers' certificate: refused, metaserver
  // and chunk servers alike.
  ddbfs::testing::TempDir other;
  auto made = ddbfs::testing::RunCommand(
      {std::string(DDBFS_SOURCE_DIR) + "/scripts/tls-certs", other.path() + "/tls"}, "",
      std::chrono::seconds(60));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  TlsOptions wrong;
  wrong.enabled = true;
  wrong.ca_file = other.path() + "/tls/ca.pem";
  EXPECT_EQ(KeyClient(*cluster, key->first, key->second, wrong).status().code(),
            ErrorCode::kUnauthenticated);
  ClientOptions local;
  local.meta_address = cluster->meta_address();  // the Unix socket: no TLS there
  local.tls = wrong;
  auto lc = Client::Connect(local);
  ASSERT_TRUE(lc.ok()) << lc.status();
  EXPECT_FALSE(ddbfs::testing::ReadAll(**lc, file->inode).ok())
      << "a chunk server's certificate must not verify against another CA";
  // No TLS at all: the TLS servers do not talk to it.
  EXPECT_FALSE(KeyClient(*cluster, key->first, key->second, TlsOptions{}).ok());
}

}  // namespace
}  // namespace ddbfs
