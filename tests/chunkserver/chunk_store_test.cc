#include "chunk_store.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "process.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::TempDir;

std::span<const char> Span(const std::string& s) { return {s.data(), s.size()}; }

std::string Pattern(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

std::unique_ptr<ChunkStore> OpenStore(const std::vector<std::string>& dirs) {
  auto store = ChunkStore::Open(dirs);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string MustRead(ChunkStore& store, uint64_t id, uint64_t version) {
  auto r = store.Read(id, version, 0, kMaxIoSize);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->data : "";
}

TEST(ChunkStoreTest, VersionRules) {
  TempDir dir;
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write(1, 2, 0, Span(std::string("v2")), false).ok());
  EXPECT_EQ(store->Write(1, 1, 0, Span(std::string("v1")), false).code(), ErrorCode::kStaleVersion);
  EXPECT_EQ(store->Truncate(1, 1, 0).code(), ErrorCode::kStaleVersion);
  EXPECT_EQ(MustRead(*store, 1, 2), "v2");
  // Reads want the exact version: an older or newer replica is stale.
  EXPECT_EQ(store->Read(1, 1, 0, 10).status().code(), ErrorCode::kStaleVersion);
  EXPECT_EQ(store->Read(1, 3, 0, 10).status().code(), ErrorCode::kStaleVersion);
  EXPECT_NE(store->Read(1, 3, 0, 10).status().message().find("holds version 2"), std::string::npos);
  ASSERT_TRUE(store->Write(1, 2, 2, Span(std::string("+")), true).ok());
  ASSERT_TRUE(store->Write(1, 5, 3, Span(std::string("!")), false).ok());
  auto r = store->Read(1, 5, 0, 100);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->data, "v2+!");
  EXPECT_EQ(r->version, 5u);
  EXPECT_EQ(store->Read(1, 6, 0, 100).status().code(), ErrorCode::kStaleVersion);
  ASSERT_TRUE(store->Truncate(1, 7, 2).ok());
  r = store->Read(1, 7, 0, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data, "v2");
  EXPECT_EQ(r->version, 7u);
  ASSERT_EQ(store->Inventory().size(), 1u);
  EXPECT_EQ(store->Inventory()[0].version, 7u);
}

// --capacity-gib (docs/repair.md, "Rebalancing"): the space reported is the
// replicas' bytes, the capacity at most the limit, and new data past it is
// refused (kNoSpace) while overwrites go on; a delete makes room again.
TEST(ChunkStoreTest, CapacityLimitCountsReplicaBytesAndRefusesNewDataPastIt) {
  TempDir dir;
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->Space().used_bytes, 0u);
    store->set_capacity_limit(10000);
    ASSERT_TRUE(store->Write(1, 1, 0, Span(std::string(6000, 'a')), false).ok());
    ASSERT_TRUE(store->Write(2, 1, 0, Span(std::string(3000, 'b')), false).ok());
    SpaceInfo space = store->Space();
    EXPECT_EQ(space.used_bytes, 9000u);
    EXPECT_EQ(space.capacity_bytes, 10000u);
    // 1001 more bytes: refused, and nothing changed (a new chunk is not made).
    EXPECT_EQ(store->Write(3, 1, 0, Span(std::string(1001, 'c')), false).code(),
              ErrorCode::kNoSpace);
    EXPECT_EQ(store->Write(2, 1, 3000, Span(std::string(1001, 'c')), false).code(),
              ErrorCode::kNoSpace);
    EXPECT_EQ(store->Truncate(2, 1, 4001).code(), ErrorCode::kNoSpace);
    EXPECT_EQ(store->Inventory().size(), 2u);
    EXPECT_EQ(store->CheckRoom(1001).code(), ErrorCode::kNoSpace);
    EXPECT_TRUE(store->CheckRoom(1000).ok());
    // Overwrites need no new space; growing up to the limit is fine.
    ASSERT_TRUE(store->Write(1, 1, 0, Span(std::string(6000, 'z')), false).ok());
    ASSERT_TRUE(store->Write(2, 1, 3000, Span(std::string(1000, 'c')), false).ok());
    EXPECT_EQ(store->Space().used_bytes, 10000u);
    ASSERT_TRUE(store->Delete(1).ok());
    EXPECT_EQ(store->Space().used_bytes, 4000u);
    ASSERT_TRUE(store->Truncate(2, 2, 100).ok());
    EXPECT_EQ(store->Space().used_bytes, 100u);
  }
  // Counted again from the files at start; without a limit the capacity is
  // the disk's free space plus the replicas.
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  SpaceInfo space = store->Space();
  EXPECT_EQ(space.used_bytes, 100u);
  EXPECT_GT(space.capacity_bytes, 100u);
}

TEST(ChunkStoreTest, AbsentChunksAndDelete) {
  TempDir dir;
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Read(9, 0, 0, 10).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->Delete(9).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->Truncate(9, 1, 100000).ok());  // a truncate creates, zero-filled
  EXPECT_EQ(MustRead(*store, 9, 1), std::string(100000, '\0'));
  ASSERT_TRUE(store->Delete(9).ok());
  EXPECT_EQ(store->Read(9, 0, 0, 10).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->chunk_count(), 0u);
  EXPECT_FALSE(std::filesystem::exists(store->ChunkPath(0, 9)));
}

TEST(ChunkStoreTest, LayoutAndInventoryAfterReopen) {
  TempDir a, b;
  std::map<uint64_t, std::string> contents;
  {
    auto store = OpenStore({a.path(), b.path()});
    ASSERT_NE(store, nullptr);
    for (uint64_t id : {1ull, 255ull, 256ull, 0x123456789abcull}) {
      contents[id] = Pattern(1000 + id % 5000, static_cast<uint32_t>(id));
      ASSERT_TRUE(store->Write(id, id % 7 + 1, 0, Span(contents[id]), true).ok());
    }
  }
  auto store = OpenStore({a.path(), b.path()});
  ASSERT_NE(store, nullptr);
  auto inventory = store->Inventory();
  ASSERT_EQ(inventory.size(), contents.size());
  for (const auto& replica : inventory) {
    ASSERT_TRUE(contents.count(replica.chunk_id));
    EXPECT_EQ(replica.version, replica.chunk_id % 7 + 1);
    EXPECT_EQ(MustRead(*store, replica.chunk_id, replica.version), contents[replica.chunk_id]);
  }
  bool in_a = std::filesystem::exists(a.path() + "/bc/0000123456789abc.chunk");
  bool in_b = std::filesystem::exists(b.path() + "/bc/0000123456789abc.chunk");
  EXPECT_TRUE(in_a != in_b);
  EXPECT_TRUE(std::filesystem::exists(store->ChunkPath(in_a ? 0 : 1, 0x123456789abc)));
}

TEST(ChunkStoreTest, CorruptHeaderIsLeftOutOfTheInventoryUntilDeleted) {
  TempDir dir;
  std::string path;
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Write(3, 1, 0, Span(std::string("good")), true).ok());
    ASSERT_TRUE(store->Write(4, 1, 0, Span(std::string("bad")), true).ok());
    path = store->ChunkPath(0, 4);
  }
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, "X", 1, 33), 1);  // inside the length field of both slots
  ASSERT_EQ(::pwrite(fd, "X", 1, kHeaderSlotSize + 33), 1);
  ::close(fd);
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->Inventory().size(), 1u);
  EXPECT_EQ(store->Inventory()[0].chunk_id, 3u);
  EXPECT_EQ(store->Read(4, 0, 0, 10).status().code(), ErrorCode::kChecksumMismatch);
  EXPECT_EQ(store->Write(4, 2, 0, Span(std::string("x")), false).code(),
            ErrorCode::kChecksumMismatch);
  ASSERT_TRUE(store->Delete(4).ok());
  ASSERT_TRUE(store->Write(4, 2, 0, Span(std::string("new")), false).ok());
  EXPECT_EQ(MustRead(*store, 4, 2), "new");
}

// Regression: copying one chunk file over another of the same version made
// `ddbfs cat` return the other file's bytes.
TEST(ChunkStoreTest, ChunkFileCopiedOverAnotherIsCorruptNotItsBytes) {
  TempDir dir;
  std::string path1, path2;
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Write(1, 5, 0, Span(std::string("one")), true).ok());
    ASSERT_TRUE(store->Write(2, 5, 0, Span(std::string("two")), true).ok());
    ASSERT_EQ(MustRead(*store, 2, 5), "two");  // chunk 2's file is open now
    path1 = store->ChunkPath(0, 1);
    path2 = store->ChunkPath(0, 2);
    // While the server runs, with the file open.
    std::filesystem::copy_file(path1, path2, std::filesystem::copy_options::overwrite_existing);
    EXPECT_EQ(store->Read(2, 5, 0, 10).status().code(), ErrorCode::kChecksumMismatch);
    EXPECT_EQ(store->State(2).status().code(), ErrorCode::kChecksumMismatch);
    EXPECT_EQ(store->Write(2, 5, 0, Span(std::string("x")), false).code(),
              ErrorCode::kChecksumMismatch);
    ASSERT_EQ(store->Inventory().size(), 1u);
    EXPECT_EQ(MustRead(*store, 1, 5), "one");
  }
  // And after a restart.
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Read(2, 5, 0, 10).status().code(), ErrorCode::kChecksumMismatch);
  EXPECT_EQ(store->Truncate(2, 6, 0).code(), ErrorCode::kChecksumMismatch);
  ASSERT_EQ(store->Inventory().size(), 1u);
  EXPECT_EQ(store->Inventory()[0].chunk_id, 1u);
}

TEST(ChunkStoreTest, StateAndSetVersion) {
  TempDir dir;
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->State(3).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->SetVersion(3, 1, 2, -1).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->Write(3, 4, 0, Span(std::string(100000, 'z')), false).ok());
  auto st = store->State(3);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->version, 4u);
  EXPECT_EQ(st->length, 100000u);
  Status s = store->SetVersion(3, 3, 5, -1);
  EXPECT_EQ(s.code(), ErrorCode::kStaleVersion);
  EXPECT_NE(s.message().find("holds version 4"), std::string::npos) << s;
  EXPECT_EQ(store->SetVersion(3, 4, 3, -1).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(store->SetVersion(3, 4, 6, -1).ok());
  EXPECT_EQ(MustRead(*store, 3, 6), std::string(100000, 'z'));
  ASSERT_TRUE(store->SetVersion(3, 6, 6, 10).ok());
  EXPECT_EQ(MustRead(*store, 3, 6), std::string(10, 'z'));
  ASSERT_TRUE(store->SetVersion(3, 6, 7, 20).ok());
  EXPECT_EQ(MustRead(*store, 3, 7), std::string(10, 'z') + std::string(10, '\0'));
  store.reset();
  store = OpenStore({dir.path()});
  ASSERT_EQ(store->Inventory().size(), 1u);
  EXPECT_EQ(store->Inventory()[0].version, 7u);
  EXPECT_EQ(store->State(3)->length, 20u);
}

// Chunks written without a sync and opened again (at start, or by a read
// after they were closed) are not sealed by that open but by SealOpened, in
// one batch; a store opened after that has nothing left to seal.
TEST(ChunkStoreTest, ChunksOpenedWithAnUnsyncedChangeAreSealedInABatch) {
  TempDir dir;
  constexpr uint64_t kChunks = 20;
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    for (uint64_t id = 1; id <= kChunks; ++id) {
      ASSERT_TRUE(store->Write(id, 1, 0, Span(Pattern(5000, id)), false).ok());
    }
    EXPECT_EQ(store->waiting_seals(), 0u);  // written, never reopened
  }
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->waiting_seals(), kChunks);  // found so by the scan
    // A read opens the file again (the scan does not keep it open): noted
    // once more, read all the same.
    EXPECT_EQ(MustRead(*store, 3, 1), Pattern(5000, 3));
    EXPECT_EQ(store->waiting_seals(), kChunks + 1);
  }
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->waiting_seals(), kChunks);  // nothing was sealed
    EXPECT_EQ(store->SealOpened(), kChunks);
    EXPECT_EQ(store->waiting_seals(), 0u);
    EXPECT_EQ(MustRead(*store, 7, 1), Pattern(5000, 7));
    // A change after the seal is an ordinary write.
    ASSERT_TRUE(store->Write(7, 2, 0, Span(std::string("new")), true).ok());
  }
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->waiting_seals(), 0u);
  for (uint64_t id = 1; id <= kChunks; ++id) {
    std::string want = Pattern(5000, id);
    if (id == 7) want.replace(0, 3, "new");
    EXPECT_EQ(MustRead(*store, id, id == 7 ? 2 : 1), want) << "chunk " << id;
  }
}

TEST(ChunkStoreTest, UuidIsStableAcrossReopen) {
  TempDir dir, other;
  std::string uuid;
  {
    auto store = OpenStore({dir.path()});
    ASSERT_NE(store, nullptr);
    uuid = store->uuid();
  }
  EXPECT_EQ(uuid.size(), 32u);
  EXPECT_EQ(uuid.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto again = OpenStore({dir.path()});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->uuid(), uuid);
  auto different = OpenStore({other.path()});
  ASSERT_NE(different, nullptr);
  EXPECT_NE(different->uuid(), uuid);
  std::ofstream(dir.path() + "/server.uuid") << "not-a-uuid\n";
  EXPECT_FALSE(ChunkStore::Open({dir.path()}).ok());
}

TEST(ChunkStoreTest, RejectsTheSameFolderTwice) {
  TempDir dir;
  EXPECT_EQ(ChunkStore::Open({dir.path(), dir.path() + "/."}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ChunkStore::Open({}).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ChunkStoreTest, ConcurrentWritersOnOneAndManyChunks) {
  TempDir dir;
  auto store = OpenStore({dir.path()});
  ASSERT_NE(store, nullptr);
  // Four threads write interleaved, unaligned 1000-byte stripes of chunk 1
  // (sharing blocks, so unserialized read-modify-writes would corrupt CRCs)
  // and each its own chunk.
  constexpr int kThreads = 4;
  constexpr int kStripes = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kStripes; i += kThreads) {
        std::string piece(1000, static_cast<char>('A' + t));
        EXPECT_TRUE(store->Write(1, 1, static_cast<uint64_t>(i) * 1000, Span(piece), false).ok());
        EXPECT_TRUE(
            store->Write(100 + t, 1, static_cast<uint64_t>(i) * 1000, Span(piece), false).ok());
        auto r = store->Read(1, 1, 0, kStripes * 1000);
        EXPECT_TRUE(r.ok()) << r.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string all = MustRead(*store, 1, 1);
  ASSERT_EQ(all.size(), kStripes * 1000u);
  for (int i = 0; i < kStripes; ++i) {
    EXPECT_EQ(all.substr(i * 1000, 1000), std::string(1000, static_cast<char>('A' + i % kThreads)))
        << "stripe " << i;
  }
  EXPECT_EQ(store->chunk_count(), 1u + kThreads);
}

// A data folder on a 2 MiB tmpfs, to run out of space for real.
class ChunkStoreFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mount("tmpfs", small_.path().c_str(), "tmpfs", 0, "size=2m"), 0)
        << "mount tmpfs: " << std::strerror(errno) << " (the test runs as root)";
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(::umount(small_.path().c_str()), 0) << std::strerror(errno);
    }
  }

  TempDir small_;
  TempDir big_;
  bool mounted_ = false;
};

TEST_F(ChunkStoreFullDiskTest, NoSpaceIsCleanAndTheOldDataStays) {
  const std::string old_data = Pattern(1 << 20, 1);
  {
    auto store = OpenStore({small_.path()});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Write(1, 3, 0, Span(old_data), true).ok());
    const std::string more = Pattern(kMaxIoSize, 2);
    Status s = store->Write(1, 4, 1 << 20, Span(more), true);
    EXPECT_EQ(s.code(), ErrorCode::kNoSpace) << s;
    // A hole write that ends far away fails the same way.
    s = store->Write(1, 4, 40 << 20, Span(more), true);
    EXPECT_EQ(s.code(), ErrorCode::kNoSpace) << s;
    auto r = store->Read(1, 3, 0, kMaxIoSize);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->version, 3u);
    EXPECT_TRUE(r->data == old_data);
    // A chunk this very write created is removed again.
    s = store->Write(2, 1, 0, Span(more), true);
    EXPECT_EQ(s.code(), ErrorCode::kNoSpace) << s;
    EXPECT_EQ(store->Read(2, 0, 0, 10).status().code(), ErrorCode::kNotFound);
    EXPECT_FALSE(std::filesystem::exists(store->ChunkPath(0, 2)));
    ASSERT_EQ(store->Inventory().size(), 1u);
    // Overwrites need no new space and still work.
    ASSERT_TRUE(store->Write(1, 3, 0, Span(std::string("new")), true).ok());
  }
  auto store = OpenStore({small_.path()});
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->Inventory().size(), 1u);
  EXPECT_TRUE(MustRead(*store, 1, 3) == "new" + old_data.substr(3));
}

TEST_F(ChunkStoreFullDiskTest, NewChunksGoToTheFolderWithMostFreeSpace) {
  auto store = OpenStore({small_.path(), big_.path()});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->uuid().size(), 32u);
  EXPECT_TRUE(std::filesystem::exists(small_.path() + "/server.uuid"));
  ASSERT_TRUE(store->Write(77, 1, 0, Span(std::string("x")), false).ok());
  EXPECT_TRUE(std::filesystem::exists(store->ChunkPath(1, 77)));
  EXPECT_FALSE(std::filesystem::exists(store->ChunkPath(0, 77)));
  SpaceInfo space = store->Space();
  EXPECT_GT(space.capacity_bytes, 2u << 20);  // both file systems count
  EXPECT_GT(space.used_bytes, 0u);
}

}  // namespace
}  // namespace ddbfs::chunkserver
