#pragma once

// Helpers of the tests that run on a TestCluster: deterministic data,
// whole-file writes and reads, and finding a replica's chunk file on disk.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "test_cluster.h"

namespace ddbfs::testing {

// A fixture whose tests share one TestCluster, started once per test suite,
// and get a fresh client each. Derived is the fixture itself (one cluster per
// fixture): class MyTest : public SharedClusterTest<MyTest> {...};
template <typename Derived>
class SharedClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = TestCluster::Start().release(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    client_ = cluster_->NewClient();
    ASSERT_TRUE(client_);
  }

  static inline TestCluster* cluster_ = nullptr;
  std::unique_ptr<Client> client_;
};

// `size` pseudo-random bytes from `seed`.
inline std::string Bytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < size; ++i) s[i] = static_cast<char>(rng());
  return s;
}

// Writes `data` at `offset` in pieces of `piece` bytes (the way an
// application calls write(2)).
inline Status WriteAt(FileWriter& w, uint64_t offset, const std::string& data,
                      size_t piece = 1 << 20) {
  for (size_t off = 0; off < data.size(); off += piece) {
    size_t n = std::min(piece, data.size() - off);
    RETURN_IF_ERROR(w.Write(offset + off, std::span<const char>(data.data() + off, n)));
  }
  return Status();
}

// Creates /name and writes `data` with Sync and Close.
inline Result<Attr> PutFile(Client& c, const std::string& name, const std::string& data) {
  ASSIGN_OR_RETURN(Attr a, c.Create(kRootInode, name, 0644));
  ASSIGN_OR_RETURN(auto w, c.OpenWriter(a.inode));
  RETURN_IF_ERROR(WriteAt(*w, 0, data));
  RETURN_IF_ERROR(w->Sync());
  RETURN_IF_ERROR(w->Close());
  return c.GetAttr(a.inode);
}

// Reads [offset, offset + length) (or up to EOF) with a fresh reader.
inline Result<std::string> ReadRange(Client& c, InodeId inode, uint64_t offset, size_t length) {
  ASSIGN_OR_RETURN(auto r, c.OpenReader(inode));
  std::string out(length, '\0');
  size_t done = 0;
  while (done < length) {
    ASSIGN_OR_RETURN(size_t n,
                     r->Read(offset + done, std::span<char>(out.data() + done, length - done)));
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

inline Result<std::string> ReadAll(Client& c, InodeId inode) {
  ASSIGN_OR_RETURN(Attr a, c.GetAttr(inode));
  return ReadRange(c, inode, 0, a.size);
}

// Path of chunk `chunk_id`'s file under a chunk server's data folder.
inline std::string FindChunkFile(const std::string& data_dir, int64_t chunk_id) {
  char name[40];
  std::snprintf(name, sizeof name, "%016llx.chunk", static_cast<unsigned long long>(chunk_id));
  for (const auto& e : std::filesystem::recursive_directory_iterator(data_dir)) {
    if (e.path().filename() == name) return e.path().string();
  }
  return "";
}

// Index (0..n-1) of the cluster's chunk server with registered id `server_id`.
inline int IndexOfServer(TestCluster& c, int server_id) {
  for (int i = 0; i < c.chunk_server_count(); ++i) {
    if (c.chunk_server_id(i) == server_id) return i;
  }
  return -1;
}

inline int CurrentReplicas(const ChunkView& ch) {
  int n = 0;
  for (const auto& r : ch.replicas) n += r.current ? 1 : 0;
  return n;
}

// First difference of two byte strings, for readable failure messages.
inline std::string FirstDifference(const std::string& got, const std::string& want) {
  if (got.size() != want.size()) {
    return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) return "first difference at byte " + std::to_string(i);
  }
  return "equal";
}

}  // namespace ddbfs::testing
