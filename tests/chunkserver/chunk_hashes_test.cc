// The chunk store's side of content hashes (docs/content_hash.md): which
// writes keep a replica's running hash, what a sealed write answers, what a
// seal refuses, and HashReplica from disk or from the running hash.

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include "chunk_hashes.h"
#include "chunk_store.h"
#include "ddbfs/auth.h"
#include "process.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::TempDir;

constexpr int64_t kForever = INT64_MAX / 2;

std::span<const char> Span(const std::string& s) { return {s.data(), s.size()}; }

// SHA-256 with OpenSSL directly (not the code under test), as hex.
std::string Sha(const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_sha256(), nullptr), 1);
  return ToHex(std::string(reinterpret_cast<const char*>(out), len));
}

class ChunkHashesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ChunkStore::Open({dir_.path()});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(s).value();
  }
  // A write of `data` at `offset`, sealed; the hash answered (hex), or "".
  std::string SealedWrite(uint64_t id, uint64_t version, uint64_t offset, const std::string& data) {
    HashRequest req;
    req.seal = true;
    req.seal_until_ms = kForever;
    HashAnswer answer;
    Status s = store_->Write(id, version, offset, Span(data), false, req, &answer);
    EXPECT_TRUE(s.ok()) << s;
    if (!answer.sealed) return "";
    EXPECT_EQ(answer.length, store_->State(id)->length);
    return ToHex(answer.sha256);
  }
  std::string Content(uint64_t id, uint64_t version) {
    auto r = store_->Read(id, version, 0, kMaxIoSize);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->data : "";
  }
  TempDir dir_;
  std::unique_ptr<ChunkStore> store_;
};

TEST_F(ChunkHashesTest, AppendsHolesAndRewritesFromTheStartKeepTheRunningHash) {
  ASSERT_TRUE(store_->Write(1, 1, 0, Span(std::string("hello ")), false).ok());
  ASSERT_TRUE(store_->Write(1, 1, 6, Span(std::string(300000, 'w')), false).ok());
  // A hole inside the chunk counts as zeros.
  std::string sealed = SealedWrite(1, 1, 400000, "tail");
  EXPECT_EQ(sealed, Sha(Content(1, 1)));
  EXPECT_EQ(Content(1, 1).size(), 400004u);

  // A later version appending goes on with the same running hash.
  sealed = SealedWrite(1, 2, 400004, "more");
  EXPECT_EQ(sealed, Sha(Content(1, 2)));
  // One from offset 0 covering every byte starts afresh.
  EXPECT_EQ(SealedWrite(1, 3, 0, std::string(500000, 'n')), Sha(std::string(500000, 'n')));

  // A partial overwrite: no running hash, no proof (the rehash reads it).
  EXPECT_EQ(SealedWrite(1, 4, 10, "x"), "");
  EXPECT_EQ(SealedWrite(1, 5, 500000, "y"), "") << "lost until the replica is rewritten";
  uint64_t length = 0;
  auto h = store_->HashReplica(1, 5, 500001, kForever, &length);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(ToHex(*h), Sha(Content(1, 5)));
  EXPECT_EQ(length, 500001u);
}

TEST_F(ChunkHashesTest, TruncatesGrowTheHashWithZerosAndShrinkingLosesIt) {
  ASSERT_TRUE(store_->Write(2, 1, 0, Span(std::string(1000, 'a')), false).ok());
  ASSERT_TRUE(store_->Truncate(2, 1, 70000).ok());
  EXPECT_EQ(SealedWrite(2, 2, 70000, ""), Sha(std::string(1000, 'a') + std::string(69000, '\0')));
  ASSERT_TRUE(store_->Truncate(2, 3, 500).ok());
  EXPECT_EQ(SealedWrite(2, 3, 500, ""), "");
  ASSERT_TRUE(store_->Truncate(2, 4, 0).ok());
  EXPECT_EQ(SealedWrite(2, 4, 0, "fresh"), Sha("fresh"));
}

TEST_F(ChunkHashesTest, ASealedVersionTakesNoOtherBytes) {
  EXPECT_EQ(SealedWrite(3, 7, 0, "sealed"), Sha("sealed"));
  EXPECT_EQ(store_->Write(3, 7, 0, Span(std::string("SEALED")), false).code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(store_->Write(3, 7, 6, Span(std::string("+")), false).code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(store_->Truncate(3, 7, 2).code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(store_->Write(3, 7, 0, {}, true).ok()) << "a sync changes no byte";
  EXPECT_EQ(Content(3, 7), "sealed");
  // The next version is a new write generation.
  EXPECT_TRUE(store_->Write(3, 8, 0, Span(std::string("SEALED")), false).ok());
  EXPECT_EQ(Content(3, 8), "SEALED");

  // An expired seal no longer refuses (the capability could not write).
  HashRequest brief;
  brief.seal = true;
  brief.seal_until_ms = UnixNowMs() - 1;
  HashAnswer answer;
  ASSERT_TRUE(store_->Write(4, 1, 0, Span(std::string("abc")), false, brief, &answer).ok());
  EXPECT_TRUE(answer.sealed);
  EXPECT_TRUE(store_->Write(4, 1, 3, Span(std::string("d")), false).ok());
}

// Regression: a replica trimmed over goal and then wanted again (a goal
// lowered, then raised) was refused by its old seal forever-ish (the
// capability's lifetime), so the chunk stayed under goal.
TEST_F(ChunkHashesTest, ACopyMayReplaceADeletedSealedReplicaNotALiveOne) {
  EXPECT_EQ(SealedWrite(6, 2, 0, "sealed"), Sha("sealed"));
  auto copy = [&](const std::string& bytes) {
    auto r = store_->BeginReplica(6, 2);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return r.status();
    Status w = r->file->Write(0, Span(bytes), 2);
    if (!w.ok()) {
      store_->AbortReplica(&*r);
      return w;
    }
    return store_->CommitReplica(&*r);
  };
  EXPECT_EQ(copy("sealed").code(), ErrorCode::kPermissionDenied)
      << "a copy does not replace a sealed replica";
  ASSERT_TRUE(store_->Delete(6).ok());
  EXPECT_TRUE(copy("sealed").ok()) << "a copy where the sealed replica was deleted";
  EXPECT_EQ(Content(6, 2), "sealed");
  EXPECT_EQ(store_->Write(6, 2, 0, Span(std::string("SEALED")), false).code(),
            ErrorCode::kPermissionDenied)
      << "the seal still refuses writes at that version";
}

TEST_F(ChunkHashesTest, HashReplicaPadsWithZerosCutsAndSeals) {
  const std::string data(100000, 'q');
  ASSERT_TRUE(store_->Write(5, 2, 0, Span(data), false).ok());
  uint64_t length = 0;
  // From the running hash, padded to a longer range.
  auto h = store_->HashReplica(5, 2, 150000, kForever, &length);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(ToHex(*h), Sha(data + std::string(50000, '\0')));
  EXPECT_EQ(length, 100000u);
  // Cut to a shorter range: read from disk.
  h = store_->HashReplica(5, 2, 1000, kForever, &length);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(ToHex(*h), Sha(data.substr(0, 1000)));
  // Hashing sealed the version.
  EXPECT_EQ(store_->Write(5, 2, 0, Span(std::string("z")), false).code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(store_->HashReplica(5, 1, 10, kForever, &length).status().code(),
            ErrorCode::kStaleVersion);
  EXPECT_EQ(store_->HashReplica(6, 1, 10, kForever, &length).status().code(), ErrorCode::kNotFound);
}

TEST(ChunkHashesTable, BeyondItsBoundTheLeastRecentlyPutRunningHashGoesFirst) {
  ChunkHashes table;
  const size_t n = ChunkHashes::kMaxRunning;
  for (uint64_t id = 1; id <= n; ++id) table.Put(id, Sha256());
  table.Put(1, Sha256());  // 1 used again: 2 is now the least recent
  EXPECT_TRUE(table.Take(3).has_value());
  table.Put(3, Sha256());  // taken out and put back: recent too
  table.Put(n + 1, Sha256());
  table.Put(n + 2, Sha256());
  EXPECT_EQ(table.running(), n);
  EXPECT_FALSE(table.Snapshot(2, 0).has_value()) << "the least recent stays";
  EXPECT_FALSE(table.Snapshot(4, 0).has_value()) << "the next least recent stays";
  for (uint64_t id : {uint64_t{1}, uint64_t{3}, uint64_t{5}, uint64_t{n}, n + 1, n + 2}) {
    EXPECT_TRUE(table.Snapshot(id, 0).has_value()) << id << " was dropped";
  }
  table.Forget(5);
  EXPECT_EQ(table.running(), n - 1);
  table.Put(n + 3, Sha256());  // room again: nothing else goes
  EXPECT_TRUE(table.Snapshot(6, 0).has_value());
  EXPECT_EQ(table.running(), n);
}

}  // namespace
}  // namespace ddbfs::chunkserver
