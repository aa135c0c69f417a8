// Crash safety of chunk format 2 under a disk that loses, tears or keeps
// every write not yet synced (fault_disk.h): after any crash the file opens,
// every block passes its CRC, and the chunk is exactly as it was after some
// complete operation since the last sync (so each block holds its old or
// its new bytes); nothing synced is ever lost.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "chunk_file.h"
#include "fault_disk.h"

namespace ddbfs::chunkserver {
namespace {

using testing::FaultDiskFile;
using testing::FaultDiskState;

struct Model {
  std::string data;
  uint64_t version = 1;
  bool operator==(const Model&) const = default;
};

std::string Bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  const char fill = static_cast<char>('a' + rng() % 26);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(fill + (i * 7 + i / 1000) % 13);
  return s;
}

std::unique_ptr<ChunkFile> OpenOn(const std::shared_ptr<FaultDiskState>& state) {
  auto f = ChunkFile::Open(std::make_unique<FaultDiskFile>(state));
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::move(f).value() : nullptr;
}

// The chunk as a model; a read error (CRC) fails the test.
Model Contents(ChunkFile& f) {
  Model m;
  m.version = f.version();
  Status s = f.Read(0, kChunkSize, &m.data);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(m.data.size(), f.length());
  return m;
}

// One random operation on `f`, mirrored in *m. Returns false if the file
// refused it (which a healthy file never does).
bool RandomOp(std::mt19937_64& rng, ChunkFile& f, Model* m) {
  const unsigned kind = rng() % 100;
  if (kind < 60 && rng() % 4 == 0) ++m->version;
  Status s;
  if (kind < 45) {
    uint64_t offset = rng() % (6 * kBlockSize);
    size_t len = 1 + rng() % (2 * kBlockSize + 100);
    if (rng() % 3 == 0) {
      offset = (rng() % 6) * kBlockSize;
      len = kBlockSize * (1 + rng() % 3);
    }
    const std::string data = Bytes(rng, len);
    s = f.Write(offset, std::span<const char>(data.data(), data.size()), m->version);
    if (m->data.size() < offset + len) m->data.resize(offset + len, '\0');
    m->data.replace(offset, len, data);
    if (s.ok() && kind < 15) s = f.Sync();
  } else if (kind < 60) {
    const uint64_t length = rng() % (7 * kBlockSize);
    s = f.Truncate(length, m->version);
    m->data.resize(length, '\0');
  } else if (kind < 70) {
    ++m->version;
    s = f.SetVersion(m->version);
  } else {
    s = f.Sync();
  }
  EXPECT_TRUE(s.ok()) << s;
  return s.ok();
}

// Index of `got` in states[from...], or -1.
int Find(const std::vector<Model>& states, size_t from, const Model& got) {
  for (size_t i = from; i < states.size(); ++i) {
    if (states[i] == got) return static_cast<int>(i);
  }
  return -1;
}

// Power loss now; the file opened again must hold one of states[durable...].
// Returns what it holds.
Model CrashAndExpectAStateSince(const std::shared_ptr<FaultDiskState>& state, std::mt19937_64& rng,
                                const std::vector<Model>& states, size_t durable) {
  state->Crash(rng);
  std::unique_ptr<ChunkFile> f = OpenOn(state);
  if (f == nullptr) return {};
  const Model got = Contents(*f);
  EXPECT_GE(Find(states, durable, got), 0)
      << "recovered " << got.data.size() << " bytes at version " << got.version;
  return got;
}

TEST(ChunkFileCrashTest, EveryCrashLeavesAStateSinceTheLastSyncWithGoodCrcs) {
  constexpr int kSeeds = 400;
  int fallbacks_seen = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto state = std::make_shared<FaultDiskState>();
    auto created = ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 42, 1);
    ASSERT_TRUE(created.ok()) << created.status();
    std::unique_ptr<ChunkFile> f = std::move(created).value();
    Model model;
    for (int round = 0; round < 4; ++round) {
      std::vector<Model> states{model};
      size_t durable = 0;
      // Sometimes the process dies in the middle of an operation.
      if (rng() % 2 == 0) state->FreezeAfter(static_cast<int>(rng() % 30));
      const int ops = 1 + static_cast<int>(rng() % 10);
      for (int i = 0; i < ops && !state->frozen(); ++i) {
        const int syncs = state->syncs();
        // A file that opened unsealed syncs first at its first change,
        // which makes the state before that change durable; any other sync
        // ends its operation.
        const bool unsealed = f->unsealed();
        ASSERT_TRUE(RandomOp(rng, *f, &model));
        states.push_back(model);
        if (state->syncs() != syncs) durable = states.size() - (unsealed ? 2 : 1);
      }
      state->Crash(rng);
      f.reset();
      if (rng() % 4 == 0) {
        // A crash during recovery as well.
        state->FreezeAfter(static_cast<int>(rng() % 3));
        auto half = ChunkFile::Open(std::make_unique<FaultDiskFile>(state));
        ASSERT_TRUE(half.ok()) << half.status();
        state->Crash(rng);
      }
      f = OpenOn(state);
      ASSERT_NE(f, nullptr);
      ASSERT_EQ(f->chunk_id(), 42u);
      const Model got = Contents(*f);
      const int at = Find(states, durable, got);
      ASSERT_GE(at, 0) << "round " << round << ": recovered " << got.data.size()
                       << " bytes at version " << got.version << ", durable state " << durable
                       << " of " << states.size() << " has " << states[durable].data.size()
                       << " bytes at version " << states[durable].version;
      if (static_cast<size_t>(at) + 1 < states.size()) ++fallbacks_seen;
      model = got;
    }
  }
  // The injector really does lose work, so the test exercises recovery.
  EXPECT_GT(fallbacks_seen, kSeeds / 4);
}

// The chunk store creates replicas without a sync (ChunkFile::Create with
// sync=false): a crash before the first Sync may leave no valid header
// (kChecksumMismatch, the replica is dropped like any unsynced write), or a
// state after some complete operation; never wrong bytes. From the first
// Sync on, nothing synced is lost.
TEST(ChunkFileCrashTest, AnUnsyncedNewChunkIsCorruptOrAWrittenStateAfterACrash) {
  int corrupt = 0;
  int recovered = 0;
  for (int seed = 0; seed < 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed + 5000);
    auto state = std::make_shared<FaultDiskState>();
    auto created = ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 77, 1, false);
    ASSERT_TRUE(created.ok()) << created.status();
    std::unique_ptr<ChunkFile> f = std::move(created).value();
    ASSERT_EQ(state->syncs(), 0);
    Model model;
    std::vector<Model> states{model};
    size_t durable = 0;
    bool synced = false;
    const int ops = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < ops; ++i) {
      const int syncs = state->syncs();
      ASSERT_TRUE(RandomOp(rng, *f, &model));
      states.push_back(model);
      if (state->syncs() != syncs) {
        durable = states.size() - 1;
        synced = true;
      }
    }
    state->Crash(rng);
    f.reset();
    auto opened = ChunkFile::Open(std::make_unique<FaultDiskFile>(state));
    if (!opened.ok()) {
      EXPECT_FALSE(synced) << "a synced chunk did not open: " << opened.status();
      EXPECT_EQ(opened.status().code(), ErrorCode::kChecksumMismatch) << opened.status();
      ++corrupt;
      continue;
    }
    f = std::move(opened).value();
    ASSERT_EQ(f->chunk_id(), 77u);
    const Model got = Contents(*f);
    EXPECT_GE(Find(states, durable, got), 0)
        << "recovered " << got.data.size() << " bytes at version " << got.version;
    ++recovered;
  }
  // Both outcomes really happen, so both are checked.
  EXPECT_GT(corrupt, 10);
  EXPECT_GT(recovered, 10);
}

TEST(ChunkFileCrashTest, NothingSyncedIsEverLost) {
  for (int seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed + 1000);
    auto state = std::make_shared<FaultDiskState>();
    auto f = std::move(ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 9, 1)).value();
    Model synced;
    synced.version = 3;
    synced.data = Bytes(rng, 1 + rng() % (5 * kBlockSize));
    ASSERT_TRUE(f->Write(0, std::span<const char>(synced.data), 3).ok());
    ASSERT_TRUE(f->Sync().ok());
    std::vector<Model> states{synced};
    Model m = synced;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(RandomOp(rng, *f, &m));
      states.push_back(m);
    }
    // A state synced by one of those operations would narrow this further;
    // never below the first sync is what this test is about.
    const size_t durable = 0;
    f.reset();
    EXPECT_GE(CrashAndExpectAStateSince(state, rng, states, durable).version, 3u);
  }
}

TEST(ChunkFileCrashTest, BlockThatRotsAfterASyncIsACrcErrorNotARollback) {
  auto state = std::make_shared<FaultDiskState>();
  auto f = std::move(ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 5, 1)).value();
  const std::string v1(3 * kBlockSize, 'o');
  ASSERT_TRUE(f->Write(0, std::span<const char>(v1), 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  const std::string v2(kBlockSize, 'n');
  ASSERT_TRUE(f->Write(kBlockSize, std::span<const char>(v2), 2).ok());
  // Synced, and the header without a list of changed blocks too (Sync
  // writes it; the kernel would write it back soon after).
  ASSERT_TRUE(f->SyncAndSeal().ok());
  f.reset();
  std::mt19937_64 rng(7);
  state->Crash(rng);
  // Block 1 now lives in place B (it was overwritten after a sync).
  state->CorruptByte(PlaceOffset(1, BlockPlace::kB) + 10);
  f = OpenOn(state);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  std::string out;
  EXPECT_EQ(f->Read(kBlockSize, 100, &out).code(), ErrorCode::kChecksumMismatch);
  ASSERT_TRUE(f->Read(0, kBlockSize, &out).ok());
  EXPECT_EQ(out, v1.substr(0, kBlockSize));
}

TEST(ChunkFileCrashTest, ATornHeaderSlotFallsBackToTheOtherAndTwoBadSlotsAreCorrupt) {
  auto state = std::make_shared<FaultDiskState>();
  auto f = std::move(ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 5, 1)).value();
  ASSERT_TRUE(f->Write(0, std::span<const char>(std::string("first")), 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Write(0, std::span<const char>(std::string("second")), 2).ok());
  f.reset();
  // Slot 1 holds "first" (synced); the write of "second" went to slot 0.
  state->CorruptByte(100);
  f = OpenOn(state);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Contents(*f), (Model{"first", 1}));
  f.reset();
  state->CorruptByte(kHeaderSlotSize + 100);
  state->CorruptByte(200);  // (100 again would flip slot 0's byte back)
  EXPECT_EQ(ChunkFile::Open(std::make_unique<FaultDiskFile>(state)).status().code(),
            ErrorCode::kChecksumMismatch);
}

// A chunk written without a sync and then opened again (a read after the
// chunk server closed it) costs no disk write at open when its newest header
// verifies and changed few blocks; its first change seals it (one sync)
// first. A larger change is sealed at open, as before.
TEST(ChunkFileCrashTest, OpeningASmallUnsyncedChangeWritesNothingAndItsFirstChangeSealsIt) {
  auto state = std::make_shared<FaultDiskState>();
  auto f = std::move(ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 8, 1)).value();
  const std::string small(3 * kBlockSize + 10, 's');
  ASSERT_TRUE(f->Write(0, std::span<const char>(small), 2).ok());
  f.reset();
  const int syncs = state->syncs();
  const size_t pending = state->pending();
  f = OpenOn(state);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->unsealed());
  EXPECT_EQ(state->syncs(), syncs);
  EXPECT_EQ(state->pending(), pending) << "the open wrote or punched something";
  EXPECT_EQ(Contents(*f), (Model{small, 2}));
  // The first change seals first: one sync, then its own header.
  ASSERT_TRUE(f->Write(0, std::span<const char>(std::string("x")), 2).ok());
  EXPECT_FALSE(f->unsealed());
  EXPECT_EQ(state->syncs(), syncs + 1);
  f.reset();

  // More changed blocks than kLazySealMaxBlocks: sealed at open.
  const std::string large((kLazySealMaxBlocks + 1) * kBlockSize, 'L');
  f = OpenOn(state);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, std::span<const char>(large), 3).ok());
  f.reset();
  const int before = state->syncs();
  f = OpenOn(state);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->unsealed());
  EXPECT_EQ(state->syncs(), before + 2);
  EXPECT_EQ(Contents(*f), (Model{large, 3}));
}

// SealDurable (after the chunk store's syncfs): no sync of its own, and from
// then on every crash leaves the opened state or a later one, never an
// unreadable block.
TEST(ChunkFileCrashTest, ASealAfterASyncOfTheFileSystemKeepsEveryCrashRecoverable) {
  for (int seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed + 9000);
    auto state = std::make_shared<FaultDiskState>();
    auto f = std::move(ChunkFile::Create(std::make_unique<FaultDiskFile>(state), 6, 1)).value();
    Model m;
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(RandomOp(rng, *f, &m));
    ASSERT_TRUE(f->Write(0, std::span<const char>(std::string("unsynced")), m.version).ok());
    if (m.data.size() < 8) m.data.resize(8, '\0');
    m.data.replace(0, 8, "unsynced");
    f.reset();
    f = OpenOn(state);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->unsealed());
    ASSERT_EQ(Contents(*f), m);
    state->Sync();  // what syncfs does for this file
    const int syncs = state->syncs();
    ASSERT_TRUE(f->SealDurable().ok());
    EXPECT_FALSE(f->unsealed());
    EXPECT_EQ(state->syncs(), syncs);
    std::vector<Model> states{m};
    size_t durable = 0;
    const int ops = static_cast<int>(rng() % 4);
    if (rng() % 2 == 0) state->FreezeAfter(static_cast<int>(rng() % 20));
    for (int i = 0; i < ops && !state->frozen(); ++i) {
      const int before = state->syncs();
      ASSERT_TRUE(RandomOp(rng, *f, &m));
      states.push_back(m);
      if (state->syncs() != before) durable = states.size() - 1;
    }
    f.reset();
    CrashAndExpectAStateSince(state, rng, states, durable);
  }
}

}  // namespace
}  // namespace ddbfs::chunkserver
