// Content hashes on a real cluster (docs/content_hash.md): a written file's
// hash is the documented formula (SHA-256 over the SHA-256 of each 64 MiB
// chunk, holes as zeros), computed by the chunk servers as the bytes arrive;
// identical documents are grouped by FindDuplicates and only documents the
// caller may see count; a partial overwrite makes the hash stale until the
// background rehash; a client cannot make the metaserver record a hash.

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "ChunkService.h"
#include "MetaService.h"
#include "ddbfs/auth.h"
#include "ddbfs/constants.h"
#include "ddbfs/rpc.h"
#include "test_files.h"
#include "test_keys.h"

namespace ddbfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// SHA-256 with OpenSSL directly (not the code under test).
std::string Sha(std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// The documented formula over a local copy of a file: SHA-256 of the
// concatenation of the SHA-256 of each 64 MiB piece (the last one shorter).
std::string DocHash(const std::string& file) {
  std::string concat;
  for (size_t off = 0; off < file.size(); off += kChunkSize) {
    concat += Sha(std::string_view(file).substr(off, kChunkSize));
  }
  return ToHex(Sha(concat));
}

std::string HashOf(Client& c, InodeId inode) {
  auto h = c.GetContentHash(inode);
  EXPECT_TRUE(h.ok()) << h.status();
  return h.ok() && h->sha256 ? ToHex(*h->sha256) : "stale";
}

// Every group of FindDuplicates below `under`, as sorted path lists, and
// the stale count; `limit` > 0 pages through the raw RPC with that limit.
struct Dupes {
  std::vector<std::vector<std::string>> groups;
  int64_t stale = 0;
};
Dupes AllDupes(Client& c, InodeId under, bool empty = false) {
  Dupes out;
  std::optional<std::string> token;
  std::string last_key;
  do {
    auto page = c.FindDuplicates(under, empty, token);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const auto& e : page->entries) {
      const std::string key = std::to_string(e.attr.size) + ToHex(e.sha256);
      EXPECT_EQ(ToHex(e.sha256).size(), 64u);
      if (out.groups.empty() || key != last_key) out.groups.emplace_back();
      out.groups.back().push_back(e.path);
      last_key = key;
    }
    out.stale += page->stale;
    token = page->next;
  } while (token);
  for (auto& g : out.groups) std::sort(g.begin(), g.end());
  std::sort(out.groups.begin(), out.groups.end());
  return out;
}

using Groups = std::vector<std::vector<std::string>>;

// A connection to the metaserver over its Unix socket (root: a cluster
// member), for calls the library does not make.
std::unique_ptr<RpcConnection<rpc::MetaServiceClient>> RawMeta(TestCluster& c) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(ParseHostPort(c.meta_address(), &host, &port).ok());
  return std::make_unique<RpcConnection<rpc::MetaServiceClient>>(host, port, 10000);
}

Result<Attr> Put(Client& c, InodeId dir, const std::string& name, const std::string& data) {
  ASSIGN_OR_RETURN(CreatedFile f, c.CreateForWrite(dir, name, 0644));
  RETURN_IF_ERROR(WriteAt(*f.writer, 0, data));
  RETURN_IF_ERROR(f.writer->Close());
  return c.GetAttr(f.attr.inode);
}

// Hashes without the background rehash: whatever is known was proved by
// the chunk servers at commit.
class ContentHashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions o;
    o.metaserver_args = {"--rehash-interval-ms", "0"};
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
  InodeId Dir(const std::string& name, uint32_t mode = 0755) {
    auto d = client_->Mkdir(kRootInode, name, mode);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->inode : 0;
  }
  static inline TestCluster* cluster_ = nullptr;
  std::unique_ptr<Client> client_;
};

TEST_F(ContentHashTest, AOneChunkFileHashesAsTheSha256OfItsSha256) {
  const InodeId dir = Dir("one");
  const std::string data = Bytes(3 * kMiB + 12345, 1);
  auto a = Put(*client_, dir, "a", data);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(HashOf(*client_, a->inode), ToHex(Sha(Sha(data))));
  EXPECT_NE(HashOf(*client_, a->inode), ToHex(Sha(data))) << "not sha256sum's value";
  auto h = client_->GetContentHash(a->inode);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size, data.size());
  EXPECT_EQ(h->stale_chunks, 0);

  // Empty: the hash of no chunks at all, SHA-256 of the empty string; so
  // is a file that was written empty.
  auto e = client_->Create(dir, "empty", 0644);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(HashOf(*client_, e->inode),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto e2 = Put(*client_, dir, "empty2", "");
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(HashOf(*client_, e2->inode), ToHex(Sha("")));

  // Written in two sessions, the second appending: still known.
  auto w = client_->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok());
  const std::string more = Bytes(kMiB, 2);
  ASSERT_TRUE(WriteAt(**w, data.size(), more).ok());
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_EQ(HashOf(*client_, a->inode), DocHash(data + more));

  // Not a file: no hash.
  EXPECT_EQ(client_->GetContentHash(dir).status().code(), ErrorCode::kIsDir);
}

TEST_F(ContentHashTest, AMultiChunkFileWithAHoleHashesAsTheDocumentedFormula) {
  const InodeId dir = Dir("multi");
  // Chunk 0 full, chunk 1 a hole, chunk 2 holding 1 MiB and a bit: written
  // in order, as `cp --sparse` would.
  const std::string first = Bytes(kChunkSize, 3);
  const std::string last = Bytes(kMiB + 7, 4);
  auto f = client_->CreateForWrite(dir, "sparse", 0644);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(WriteAt(*f->writer, 0, first, 4 * kMiB).ok());
  ASSERT_TRUE(WriteAt(*f->writer, 2 * kChunkSize, last).ok());
  ASSERT_TRUE(f->writer->Close().ok());
  std::string local = first + std::string(kChunkSize, '\0') + last;
  const std::string want = DocHash(local);
  EXPECT_EQ(HashOf(*client_, f->attr.inode), want);
  // The same by hand: chunk hashes of data, of 64 MiB of zeros, of data.
  EXPECT_EQ(want, ToHex(Sha(Sha(first) + Sha(std::string(kChunkSize, '\0')) + Sha(last))));
  auto chunks = client_->Chunks(f->attr.inode);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(chunks->size(), 2u) << "chunk 1 is a hole";
}

TEST_F(ContentHashTest, IdenticalDocumentsAreGroupedAndOthersAreNot) {
  const InodeId dir = Dir("dup");
  auto sub = client_->Mkdir(dir, "sub", 0755);
  ASSERT_TRUE(sub.ok());
  const InodeId other = Dir("dup-other");
  const std::string x = Bytes(100000, 5);
  std::string y = x;
  y[5000] ^= 1;  // same size, other content
  const std::string z = Bytes(200, 6);
  for (const auto& [d, name, data] :
       std::vector<std::tuple<InodeId, std::string, std::string>>{{dir, "a", x},
                                                                  {dir, "b", x},
                                                                  {dir, "c", y},
                                                                  {sub->inode, "d", x},
                                                                  {dir, "z1", z},
                                                                  {dir, "z2", z},
                                                                  {dir, "lonely", Bytes(300, 7)},
                                                                  {dir, "e1", ""},
                                                                  {dir, "e2", ""},
                                                                  {other, "a", x}}) {
    auto put = Put(*client_, d, name, data);
    ASSERT_TRUE(put.ok()) << name << ": " << put.status();
  }
  // A hard link is one document, listed once.
  auto b = client_->Lookup(dir, "b");
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(client_->Link(b->inode, dir, "b-link").ok());

  Dupes d = AllDupes(*client_, dir);
  EXPECT_EQ(d.groups, (Groups{{"/dup/a", "/dup/b", "/dup/sub/d"}, {"/dup/z1", "/dup/z2"}}));
  EXPECT_EQ(d.stale, 0);
  // Empty files are alike only when asked.
  d = AllDupes(*client_, dir, /*empty=*/true);
  EXPECT_EQ(
      d.groups,
      (Groups{{"/dup/a", "/dup/b", "/dup/sub/d"}, {"/dup/e1", "/dup/e2"}, {"/dup/z1", "/dup/z2"}}));
  // From the root: the copy outside /dup joins (and every other test's).
  d = AllDupes(*client_, kRootInode);
  bool found = false;
  for (const auto& g : d.groups) {
    found = found || std::find(g.begin(), g.end(), "/dup-other/a") != g.end();
    if (found) {
      EXPECT_EQ(g, (std::vector<std::string>{"/dup-other/a", "/dup/a", "/dup/b", "/dup/sub/d"}));
      break;
    }
  }
  EXPECT_TRUE(found);

  // Pages of one document each give the same groups (a group goes on from
  // page to page), and a token is bound to its listing.
  auto meta = RawMeta(*cluster_);
  Groups paged;
  std::string last_key;
  rpc::FindDuplicatesRequest req;
  req.ctx.uid = 0;
  req.under = dir;
  req.limit = 1;
  int pages = 0;
  for (;;) {
    rpc::FindDuplicatesResponse resp;
    ASSERT_TRUE(meta->Call([&](rpc::MetaServiceClient& m) { m.FindDuplicates(resp, req); }).ok());
    ASSERT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
    ++pages;
    for (const auto& e : resp.entries) {
      const std::string key = std::to_string(e.attr.size) + ToHex(e.sha256);
      if (paged.empty() || key != last_key) paged.emplace_back();
      paged.back().push_back(e.path);
      last_key = key;
    }
    if (!resp.__isset.page_token) break;
    req.__set_page_token(resp.page_token);
  }
  for (auto& g : paged) std::sort(g.begin(), g.end());
  std::sort(paged.begin(), paged.end());
  EXPECT_EQ(paged, (Groups{{"/dup/a", "/dup/b", "/dup/sub/d"}, {"/dup/z1", "/dup/z2"}}));
  EXPECT_GE(pages, 8) << "one document looked at per page";
  // A token of this listing, used for another directory or changed.
  rpc::FindDuplicatesRequest bad = req;
  bad.under = other;
  rpc::FindDuplicatesResponse resp;
  ASSERT_TRUE(meta->Call([&](rpc::MetaServiceClient& m) { m.FindDuplicates(resp, bad); }).ok());
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::INVALID_ARGUMENT);
  bad = req;
  bad.page_token[bad.page_token.size() / 2] ^= 1;
  ASSERT_TRUE(meta->Call([&](rpc::MetaServiceClient& m) { m.FindDuplicates(resp, bad); }).ok());
  EXPECT_EQ(resp.status.code, rpc::ErrorCode::INVALID_ARGUMENT);
}

// A document counts only if the caller could reach it by path and read it:
// a group never shows a member the caller may not see, nor that one exists.
TEST_F(ContentHashTest, DuplicatesOnlyCountDocumentsTheCallerMaySee) {
  const InodeId dir = Dir("seen", 0755);
  auto hidden = client_->Mkdir(dir, "hidden", 0700);
  ASSERT_TRUE(hidden.ok());
  const std::string x = Bytes(4096, 8);
  ASSERT_TRUE(Put(*client_, dir, "mine", x).ok());
  ASSERT_TRUE(Put(*client_, hidden->inode, "copy", x).ok());
  auto secret = Put(*client_, dir, "secret", x);
  ASSERT_TRUE(secret.ok());
  AttrChanges private_mode;
  private_mode.mode = 0600;
  ASSERT_TRUE(client_->SetAttr(secret->inode, private_mode).ok());

  ExportKeyInfo k;
  k.name = "user-1000";
  k.mapall = true;
  k.map_uid = 1000;
  k.map_gid = 1000;
  auto key = client_->AddKey(k);
  ASSERT_TRUE(key.ok()) << key.status();
  ClientOptions o;
  o.meta_address = cluster_->meta_tcp_address();
  o.key = Credential{key->first.key_id, key->second};
  auto user = Client::Connect(o);
  ASSERT_TRUE(user.ok()) << user.status();

  // Root sees the three copies; uid 1000 may read only "mine": no group.
  EXPECT_EQ(AllDupes(*client_, dir).groups,
            (Groups{{"/seen/hidden/copy", "/seen/mine", "/seen/secret"}}));
  EXPECT_EQ(AllDupes(**user, dir).groups, Groups{});
  EXPECT_EQ((*user)->GetContentHash(secret->inode).status().code(), ErrorCode::kPermissionDenied);
  // A second readable copy makes a group of the two it may see.
  ASSERT_TRUE(Put(*client_, dir, "public", x).ok());
  EXPECT_EQ(AllDupes(**user, dir).groups, (Groups{{"/seen/mine", "/seen/public"}}));
}

// A client only relays proofs; the metaserver records a hash only with the
// chunk servers' valid MACs, for the chunk, version and length committed,
// and a replica whose hash was given out takes no other bytes.
TEST_F(ContentHashTest, AClientCannotForgeAHash) {
  const InodeId dir = Dir("forge", 0777);
  ExportKeyInfo k;
  k.name = "forger";
  k.mapall = true;
  k.map_uid = 1000;
  k.map_gid = 1000;
  auto key = client_->AddKey(k);
  ASSERT_TRUE(key.ok()) << key.status();
  auto transport = Transport::Create({}, Credential{key->first.key_id, key->second});
  ASSERT_TRUE(transport.ok());
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseHostPort(cluster_->meta_tcp_address(), &host, &port).ok());
  RpcConnection<rpc::MetaServiceClient> meta(host, port, 10000, *transport);
  rpc::WhoAmIRequest who_req;
  rpc::WhoAmIResponse who;
  ASSERT_TRUE(meta.Call([&](rpc::MetaServiceClient& m) { m.WhoAmI(who, who_req); }).ok());
  ASSERT_EQ(who.uid, 1000) << "not a cluster member: " << who.principal;

  // Creates `name` with chunk 0 placed, writes `data` to every replica
  // (sealed: the replicas answer proofs of its hash).
  struct Written {
    InodeId inode = 0;
    rpc::ChunkPlacement chunk;
    std::vector<rpc::ChunkHashProof> proofs;
  };
  auto create_and_write = [&](const std::string& name, const std::string& data) {
    Written w;
    rpc::CreateRequest cr;
    cr.ctx.uid = 1000;
    cr.ctx.gid = 1000;
    cr.parent = dir;
    cr.name = name;
    cr.mode = 0644;
    cr.prepare_first_chunk = true;
    rpc::CreateResponse created;
    EXPECT_TRUE(meta.Call([&](rpc::MetaServiceClient& m) { m.Create(created, cr); }).ok());
    EXPECT_EQ(created.status.code, rpc::ErrorCode::OK) << created.status.message;
    EXPECT_TRUE(created.__isset.first_chunk);
    w.inode = created.attr.inode;
    w.chunk = created.first_chunk;
    rpc::WriteChunkRequest wr;
    wr.chunk_id = w.chunk.chunk_id;
    wr.version = w.chunk.version;
    wr.offset = 0;
    wr.data = data;
    wr.chain.assign(w.chunk.replicas.begin() + 1, w.chunk.replicas.end());
    wr.sync = true;
    wr.__set_cap(w.chunk.capability);
    wr.__set_seal(true);
    RpcConnection<rpc::ChunkServiceClient> cs(w.chunk.replicas[0].host, w.chunk.replicas[0].port,
                                              10000);
    rpc::WriteChunkResponse resp;
    EXPECT_TRUE(cs.Call([&](rpc::ChunkServiceClient& c) { c.WriteChunk(resp, wr); }).ok());
    EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
    for (const auto& r : resp.replicas) {
      EXPECT_TRUE(r.__isset.hash) << "server " << r.server_id;
      EXPECT_EQ(r.hash.sha256, Sha(data));
      w.proofs.push_back(r.hash);
    }
    EXPECT_EQ(w.proofs.size(), w.chunk.replicas.size());
    return w;
  };
  auto commit = [&](const Written& w, int64_t length, std::vector<rpc::ChunkHashProof> proofs) {
    rpc::CommitWriteRequest req;
    req.ctx.uid = 1000;
    req.ctx.gid = 1000;
    req.inode = w.inode;
    rpc::ChunkCommit cc;
    cc.index = 0;
    cc.chunk_id = w.chunk.chunk_id;
    cc.version = w.chunk.version;
    cc.length = length;
    for (const auto& r : w.chunk.replicas) cc.written.push_back(r.server_id);
    cc.lease_id = w.chunk.lease_id;
    cc.__set_hashes(std::move(proofs));
    req.chunks.push_back(cc);
    req.size = length;
    rpc::CommitWriteResponse resp;
    EXPECT_TRUE(meta.Call([&](rpc::MetaServiceClient& m) { m.CommitWrite(resp, req); }).ok());
    EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
  };
  auto hash_as_user = [&](InodeId inode) {
    rpc::GetContentHashRequest req;
    req.ctx.uid = 1000;
    req.inode = inode;
    rpc::GetContentHashResponse resp;
    EXPECT_TRUE(meta.Call([&](rpc::MetaServiceClient& m) { m.GetContentHash(resp, req); }).ok());
    EXPECT_EQ(resp.status.code, rpc::ErrorCode::OK) << resp.status.message;
    return resp.__isset.sha256 ? ToHex(resp.sha256) : "stale";
  };

  const std::string real = Bytes(50000, 9);
  const std::string claimed = Bytes(50000, 10);

  // 1. The replicas' proofs with another hash put in: the MAC no longer
  // matches, nothing is recorded.
  Written a = create_and_write("a", real);
  // The seal: other bytes at this version are refused on every replica.
  {
    rpc::WriteChunkRequest wr;
    wr.chunk_id = a.chunk.chunk_id;
    wr.version = a.chunk.version;
    wr.offset = 0;
    wr.data = claimed;
    wr.chain.assign(a.chunk.replicas.begin() + 1, a.chunk.replicas.end());
    wr.sync = true;
    wr.__set_cap(a.chunk.capability);
    RpcConnection<rpc::ChunkServiceClient> cs(a.chunk.replicas[0].host, a.chunk.replicas[0].port,
                                              10000);
    rpc::WriteChunkResponse resp;
    ASSERT_TRUE(cs.Call([&](rpc::ChunkServiceClient& c) { c.WriteChunk(resp, wr); }).ok());
    EXPECT_EQ(resp.status.code, rpc::ErrorCode::PERMISSION_DENIED) << resp.status.message;
    ASSERT_EQ(resp.replicas.size(), a.chunk.replicas.size());
    for (const auto& r : resp.replicas) {
      EXPECT_EQ(r.status.code, rpc::ErrorCode::PERMISSION_DENIED) << r.status.message;
    }
    // Nor may a client ask a chunk server to hash (cluster members only).
    rpc::HashChunkRequest hr;
    hr.chunk_id = a.chunk.chunk_id;
    hr.version = a.chunk.version;
    hr.length = 10;
    rpc::HashChunkResponse hresp;
    ASSERT_TRUE(cs.Call([&](rpc::ChunkServiceClient& c) { c.HashChunk(hresp, hr); }).ok());
    EXPECT_EQ(hresp.status.code, rpc::ErrorCode::UNAUTHENTICATED);
  }
  std::vector<rpc::ChunkHashProof> forged = a.proofs;
  for (auto& p : forged) p.sha256 = Sha(claimed);
  commit(a, static_cast<int64_t>(real.size()), forged);
  EXPECT_EQ(hash_as_user(a.inode), "stale");

  // 2. Signed with a key of the forger's making.
  Written b = create_and_write("b", real);
  forged = b.proofs;
  const HashProofKey guess(RandomBytes(kSecretBytes));
  for (auto& p : forged) {
    p.sha256 = Sha(claimed);
    guess.Sign(&p);
  }
  commit(b, static_cast<int64_t>(real.size()), forged);
  EXPECT_EQ(hash_as_user(b.inode), "stale");

  // 3. Genuine proofs, but of another chunk (file a's, for file c), and for
  // another length.
  Written c = create_and_write("c", claimed);
  commit(c, static_cast<int64_t>(claimed.size()), a.proofs);
  EXPECT_EQ(hash_as_user(c.inode), "stale");
  Written d = create_and_write("d", real);
  commit(d, static_cast<int64_t>(real.size()) - 1, d.proofs);
  EXPECT_EQ(hash_as_user(d.inode), "stale");

  // 4. The proofs as the replicas gave them: recorded. (The positive case
  // of the same path, so that the refusals above are not vacuous.)
  Written e = create_and_write("e", real);
  commit(e, static_cast<int64_t>(real.size()), e.proofs);
  EXPECT_EQ(hash_as_user(e.inode), ToHex(Sha(Sha(real))));
}

// With the background rehash (a pass every second).
class ContentRehashTest : public ContentHashTest {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions o;
    o.metaserver_args = {"--rehash-interval-ms", "1000"};
    cluster_ = TestCluster::Start(o).release();
  }
  // Waits for the hash of `inode` to be known; "stale" if it never is.
  std::string KnownHash(InodeId inode) {
    std::string h;
    WaitFor([&] { return (h = HashOf(*client_, inode)) != "stale"; }, std::chrono::seconds(20));
    return h;
  }
};

TEST_F(ContentRehashTest, APartialOverwriteIsStaleUntilTheRehashFindsItAgain) {
  const InodeId dir = Dir("over");
  std::string data = Bytes(2 * kMiB, 11);
  auto a = Put(*client_, dir, "a", data);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(Put(*client_, dir, "b", data).ok());
  EXPECT_EQ(HashOf(*client_, a->inode), ToHex(Sha(Sha(data))));
  EXPECT_EQ(AllDupes(*client_, dir).groups, (Groups{{"/over/a", "/over/b"}}));

  // 1000 bytes in the middle: the chunk servers cannot tell the whole
  // chunk's hash without reading it.
  const std::string patch = Bytes(1000, 12);
  auto w = client_->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(WriteAt(**w, 5000, patch).ok());
  ASSERT_TRUE((*w)->Close().ok());
  data.replace(5000, patch.size(), patch);
  auto h = client_->GetContentHash(a->inode);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->sha256) << "stale right after the overwrite";
  EXPECT_EQ(h->stale_chunks, 1);
  Dupes d = AllDupes(*client_, dir);
  EXPECT_EQ(d.groups, Groups{});
  EXPECT_EQ(d.stale, 1) << "a stale document is skipped and counted";

  EXPECT_EQ(KnownHash(a->inode), ToHex(Sha(Sha(data))));
  d = AllDupes(*client_, dir);
  EXPECT_EQ(d.stale, 0);
  EXPECT_EQ(d.groups, Groups{}) << "a and b differ now";
}

TEST_F(ContentRehashTest, AFileExtendedByTruncateHashesItsNewTailAsZeros) {
  const InodeId dir = Dir("ext");
  const std::string data = Bytes(kMiB + 3, 13);
  auto a = Put(*client_, dir, "a", data);
  ASSERT_TRUE(a.ok()) << a.status();
  AttrChanges grow;
  grow.size = kChunkSize + 5 * kMiB;  // chunk 0 holds 1 MiB of its 64, chunk 1 is a hole
  ASSERT_TRUE(client_->SetAttr(a->inode, grow).ok());
  std::string local = data;
  local.resize(*grow.size, '\0');
  EXPECT_EQ(KnownHash(a->inode), DocHash(local));
  // Back to a size inside chunk 0: the tail is cut, the hash follows.
  AttrChanges shrink;
  shrink.size = 1000;
  ASSERT_TRUE(client_->SetAttr(a->inode, shrink).ok());
  EXPECT_EQ(KnownHash(a->inode), DocHash(data.substr(0, 1000)));
}

// Over 64 chunks a commit leaves the file's hash to the background, which
// puts it together once per pass.
TEST_F(ContentRehashTest, ALargeSparseFileIsPutTogetherInTheBackground) {
  const InodeId dir = Dir("large");
  const std::string data = Bytes(kMiB, 14);
  auto a = Put(*client_, dir, "a", data);
  ASSERT_TRUE(a.ok()) << a.status();
  AttrChanges grow;
  grow.size = 70 * kChunkSize + 1;
  ASSERT_TRUE(client_->SetAttr(a->inode, grow).ok());
  const std::string zero_chunk = Sha(std::string(kChunkSize, '\0'));
  std::string concat = Sha(data + std::string(kChunkSize - data.size(), '\0'));
  for (int i = 1; i < 70; ++i) concat += zero_chunk;
  concat += Sha(std::string(1, '\0'));
  EXPECT_EQ(KnownHash(a->inode), ToHex(Sha(concat)));
}

// A chunk server that restarts forgets the running hash of the replicas it
// took: an append after that cannot be proved at commit (the other replica
// could, not this one), the rehash finds the hash.
TEST_F(ContentRehashTest, AnAppendAfterAChunkServerRestartIsLeftToTheRehash) {
  const InodeId dir = Dir("restart");
  const std::string data = Bytes(12 * kMiB, 15);
  auto a = Put(*client_, dir, "a", data.substr(0, 8 * kMiB));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(HashOf(*client_, a->inode), ToHex(Sha(Sha(data.substr(0, 8 * kMiB)))));
  // The server of one replica restarts (a kill -9 keeps the page cache: its
  // bytes stay, the hash it kept in memory goes).
  auto chunks = client_->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 1 && chunks->front().replicas.size() == 2);
  const int victim = IndexOfServer(*cluster_, chunks->front().replicas.front().server_id);
  ASSERT_GE(victim, 0);
  cluster_->StartChunkServer(victim);
  ASSERT_TRUE(cluster_->WaitForAliveServers(cluster_->chunk_server_count(), 30000));
  auto client = cluster_->NewClient();  // no connection from before the restart
  ASSERT_TRUE(client);
  auto w = client->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(WriteAt(**w, 8 * kMiB, data.substr(8 * kMiB), 4 * kMiB).ok());
  ASSERT_TRUE((*w)->Close().ok());
  chunks = client->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok() && chunks->size() == 1);
  EXPECT_EQ(CurrentReplicas(chunks->front()), 2) << "both replicas took the append";
  EXPECT_EQ(HashOf(*client, a->inode), "stale");
  EXPECT_EQ(KnownHash(a->inode), ToHex(Sha(Sha(data))));
}

}  // namespace
}  // namespace ddbfs::testing
