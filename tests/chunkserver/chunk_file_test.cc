#include "chunk_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "process.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::TempDir;

std::string Pattern(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::span<const char> Span(const std::string& s) { return {s.data(), s.size()}; }

// XORs one byte of the file at `file_offset` with 0x5a.
void FlipByte(const std::string& path, uint64_t file_offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(file_offset)), 1);
  c = static_cast<char>(c ^ 0x5a);
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(file_offset)), 1);
  ::close(fd);
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return static_cast<uint64_t>(st.st_size);
}

class ChunkFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChunkFile> MakeFile(uint64_t id = 7, uint64_t version = 1) {
    auto f = ChunkFile::Create(path_, id, version);
    EXPECT_TRUE(f.ok()) << f.status();
    return std::move(f).value();
  }
  std::unique_ptr<ChunkFile> Reopen() {
    auto f = ChunkFile::Open(path_);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? std::move(f).value() : nullptr;
  }
  std::string ReadAll(ChunkFile& f) {
    std::string out;
    for (uint64_t off = 0; off < f.length(); off += kMaxIoSize) {
      std::string piece;
      Status s = f.Read(off, kMaxIoSize, &piece);
      EXPECT_TRUE(s.ok()) << s;
      out += piece;
    }
    return out;
  }

  TempDir dir_;
  std::string path_ = dir_.path() + "/chunk";
};

TEST_F(ChunkFileTest, NewChunkHasTheDocumentedHeader) {
  auto f = MakeFile(0x1234, 9);
  EXPECT_EQ(FileSize(path_), 2 * kHeaderSlotSize);
  std::string head(64, '\0');
  int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_EQ(::pread(fd, head.data(), head.size(), 0), 64);
  ::close(fd);
  EXPECT_EQ(head.substr(0, 8), "DDBFSCK2");
  EXPECT_EQ(head[8], 2);                                  // format version
  EXPECT_EQ(static_cast<unsigned char>(head[13]), 0x20);  // 8192 = 0x2000
  EXPECT_EQ(static_cast<unsigned char>(head[16]), 0x34);  // chunk id, little-endian
  EXPECT_EQ(static_cast<unsigned char>(head[17]), 0x12);
  EXPECT_EQ(head[24], 9);  // version
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->chunk_id(), 0x1234u);
  EXPECT_EQ(again->version(), 9u);
  EXPECT_EQ(again->length(), 0u);
  EXPECT_EQ(ChunkFile::Create(path_, 1, 1).status().code(), ErrorCode::kExists);
}

TEST_F(ChunkFileTest, UnalignedWritesAcrossBlockBoundariesMatchAModel) {
  auto f = MakeFile();
  std::string model;
  std::mt19937 rng(42);
  for (int i = 0; i < 60; ++i) {
    uint64_t offset = rng() % (5 * kBlockSize);
    size_t len = 1 + rng() % (2 * kBlockSize + 100);
    std::string data = Pattern(len, static_cast<uint32_t>(i));
    ASSERT_TRUE(f->Write(offset, Span(data), 1).ok());
    if (model.size() < offset + len) model.resize(offset + len, '\0');
    model.replace(offset, len, data);
    ASSERT_EQ(f->length(), model.size());
    uint64_t roff = rng() % model.size();
    std::string piece;
    ASSERT_TRUE(f->Read(roff, 3 * kBlockSize, &piece).ok());
    ASSERT_EQ(piece, model.substr(roff, 3 * kBlockSize)) << "after write " << i;
  }
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(ReadAll(*again), model);
}

TEST_F(ChunkFileTest, FullChunkWrittenIn4MiBPiecesReadsBack) {
  auto f = MakeFile();
  for (uint64_t off = 0; off < kChunkSize; off += kMaxIoSize) {
    std::string piece = Pattern(kMaxIoSize, static_cast<uint32_t>(off / kMaxIoSize));
    ASSERT_TRUE(f->Write(off, Span(piece), 2).ok());
  }
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_EQ(FileSize(path_), kDataOffset + kChunkSize);  // all in place A
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->length(), kChunkSize);
  EXPECT_EQ(again->version(), 2u);
  for (uint64_t off = 0; off < kChunkSize; off += kMaxIoSize) {
    std::string piece;
    ASSERT_TRUE(again->Read(off, kMaxIoSize, &piece).ok());
    ASSERT_TRUE(piece == Pattern(kMaxIoSize, static_cast<uint32_t>(off / kMaxIoSize)))
        << "piece at " << off;
  }
  std::string one = "x";
  EXPECT_EQ(again->Write(kChunkSize, Span(one), 2).code(), ErrorCode::kInvalidArgument);
}

TEST_F(ChunkFileTest, HolesReadAsZerosAndReadsAreShortAtTheEnd) {
  auto f = MakeFile();
  ASSERT_TRUE(f->Write(0, Span(std::string("abc")), 1).ok());
  ASSERT_TRUE(f->Write(300000, Span(std::string("xyz")), 1).ok());
  EXPECT_EQ(f->length(), 300003u);
  std::string out;
  ASSERT_TRUE(f->Read(0, 400000, &out).ok());
  ASSERT_EQ(out.size(), 300003u);
  EXPECT_EQ(out.substr(0, 3), "abc");
  EXPECT_EQ(out.substr(3, 300000 - 3), std::string(300000 - 3, '\0'));
  EXPECT_EQ(out.substr(300000), "xyz");
  ASSERT_TRUE(f->Read(300001, 100, &out).ok());
  EXPECT_EQ(out, "yz");
  ASSERT_TRUE(f->Read(300003, 100, &out).ok());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(f->Read(kChunkSize - 1, 1, &out).ok());
  EXPECT_EQ(out, "");
}

TEST_F(ChunkFileTest, TruncateDownThenExtendReadsZerosNotStaleBytes) {
  auto f = MakeFile();
  std::string data(200000, '\xab');
  ASSERT_TRUE(f->Write(0, Span(data), 1).ok());
  ASSERT_TRUE(f->Truncate(70000, 2).ok());
  ASSERT_TRUE(f->Truncate(200000, 3).ok());
  std::string out;
  ASSERT_TRUE(f->Read(0, 300000, &out).ok());
  EXPECT_EQ(out, std::string(70000, '\xab') + std::string(130000, '\0'));
  // Down again, then a write past the end: the hole must be zeros as well.
  ASSERT_TRUE(f->Truncate(10, 4).ok());
  ASSERT_TRUE(f->Write(150000, Span(std::string("end")), 4).ok());
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->version(), 4u);
  EXPECT_EQ(ReadAll(*again), std::string(10, '\xab') + std::string(150000 - 10, '\0') + "end");
  ASSERT_TRUE(again->Truncate(0, 5).ok());
  EXPECT_EQ(again->length(), 0u);
}

TEST_F(ChunkFileTest, BytesPastTheLengthOnDiskNeverReappear) {
  auto f = MakeFile();
  ASSERT_TRUE(f->Write(0, Span(std::string(1000, 'a')), 1).ok());
  // What a write that died before its header update leaves behind.
  int fd = ::open(path_.c_str(), O_WRONLY);
  std::string junk(100000, 'J');
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), PlaceOffset(0, BlockPlace::kA) + 1000),
            static_cast<ssize_t>(junk.size()));
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), PlaceOffset(0, BlockPlace::kB)),
            static_cast<ssize_t>(junk.size()));
  ::close(fd);
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->length(), 1000u);
  ASSERT_TRUE(again->Write(90000, Span(std::string("tail")), 2).ok());
  EXPECT_EQ(ReadAll(*again), std::string(1000, 'a') + std::string(89000, '\0') + "tail");
  ASSERT_TRUE(again->Truncate(95000, 3).ok());
  std::string out;
  ASSERT_TRUE(again->Read(90000, 10000, &out).ok());
  EXPECT_EQ(out, "tail" + std::string(4996, '\0'));
}

TEST_F(ChunkFileTest, FlippedDataByteIsChecksumMismatchNeverData) {
  auto f = MakeFile();
  std::string data = Pattern(3 * kBlockSize, 1);
  ASSERT_TRUE(f->Write(0, Span(data), 1).ok());
  // Synced: a block that rots later is a CRC error, never a silent return
  // to the header before (an unsynced write may be undone at open).
  ASSERT_TRUE(f->Sync().ok());
  FlipByte(path_, PlaceOffset(1, BlockPlace::kA) + 123);
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  std::string out = "untouched";
  Status s = again->Read(kBlockSize + 100, 50, &out);
  EXPECT_EQ(s.code(), ErrorCode::kChecksumMismatch) << s;
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(again->Read(0, 3 * kBlockSize, &out).code(), ErrorCode::kChecksumMismatch);
  // Blocks that are intact still read.
  ASSERT_TRUE(again->Read(2 * kBlockSize, kBlockSize, &out).ok());
  EXPECT_EQ(out, data.substr(2 * kBlockSize));
  // A partial write into the bad block must not re-bless it.
  EXPECT_EQ(again->Write(kBlockSize + 10, Span(std::string("zz")), 2).code(),
            ErrorCode::kChecksumMismatch);
  EXPECT_EQ(again->version(), 1u);
  EXPECT_EQ(again->Truncate(kBlockSize + 5, 2).code(), ErrorCode::kChecksumMismatch);
  EXPECT_EQ(again->Read(kBlockSize, 10, &out).code(), ErrorCode::kChecksumMismatch);
  // Zero-extending keeps the corruption detectable too.
  {
    auto grow = Reopen();
    ASSERT_TRUE(grow->Write(10 * kBlockSize, Span(std::string("x")), 2).ok());
    ASSERT_TRUE(grow->Sync().ok());
  }
  EXPECT_EQ(Reopen()->Read(kBlockSize, 10, &out).code(), ErrorCode::kChecksumMismatch);
  // Overwriting the whole block replaces it.
  auto fixed = Reopen();
  ASSERT_TRUE(fixed->Write(kBlockSize, Span(data.substr(kBlockSize, kBlockSize)), 3).ok());
  ASSERT_TRUE(fixed->Read(0, 3 * kBlockSize, &out).ok());
  EXPECT_EQ(out, data);
}

TEST_F(ChunkFileTest, FlippedByteInTheLastPartialBlockIsDetected) {
  auto f = MakeFile();
  ASSERT_TRUE(f->Write(0, Span(std::string(kBlockSize + 10, 'q')), 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  FlipByte(path_, PlaceOffset(1, BlockPlace::kA) + 9);
  std::string out;
  EXPECT_EQ(Reopen()->Read(kBlockSize, 100, &out).code(), ErrorCode::kChecksumMismatch);
  // An append extends the stored CRC without reading the old bytes, so the
  // block stays detectably corrupt.
  auto again = Reopen();
  ASSERT_TRUE(again->Write(kBlockSize + 10, Span(std::string("more")), 2).ok());
  EXPECT_EQ(again->Read(kBlockSize, 100, &out).code(), ErrorCode::kChecksumMismatch);
  EXPECT_EQ(Reopen()->Read(kBlockSize, 100, &out).code(), ErrorCode::kChecksumMismatch);
}

TEST_F(ChunkFileTest, CorruptHeaderIsDetected) {
  {
    auto f = MakeFile(5, 3);
    ASSERT_TRUE(f->Write(0, Span(std::string("data")), 3).ok());
    ASSERT_TRUE(f->Sync().ok());
  }
  // Both slots hold this state now (the synced header and its sealed copy):
  // one bad slot leaves the other, two bad slots are a corrupt file.
  for (uint64_t field : {uint64_t{24}, uint64_t{0}, uint64_t{kHeaderCrcOffset}}) {
    FlipByte(path_, field);
    FlipByte(path_, kHeaderSlotSize + field);
    EXPECT_EQ(ChunkFile::Open(path_).status().code(), ErrorCode::kChecksumMismatch) << field;
    FlipByte(path_, kHeaderSlotSize + field);
    // Slot 1 is good again: it wins, and opening rewrites the bad slot 0.
    auto one = Reopen();
    ASSERT_NE(one, nullptr);
    EXPECT_EQ(one->version(), 3u);
    std::string out;
    ASSERT_TRUE(one->Read(0, 10, &out).ok());
    EXPECT_EQ(out, "data");
  }
  ASSERT_EQ(::truncate(path_.c_str(), 5000), 0);  // torn header region
  EXPECT_EQ(ChunkFile::Open(path_).status().code(), ErrorCode::kChecksumMismatch);
  EXPECT_EQ(ChunkFile::Open(dir_.path() + "/absent").status().code(), ErrorCode::kNotFound);
}

TEST_F(ChunkFileTest, OverwrittenBlocksGoToTheOtherPlaceAndTheOldOneIsFreed) {
  auto f = MakeFile();
  const std::string v1 = Pattern(16 * kBlockSize, 1);
  ASSERT_TRUE(f->Write(0, Span(v1), 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  const std::string v2 = Pattern(16 * kBlockSize, 2);
  ASSERT_TRUE(f->Write(0, Span(v2), 2).ok());
  ASSERT_TRUE(f->Sync().ok());
  std::string out;
  ASSERT_TRUE(f->Read(0, v2.size(), &out).ok());
  EXPECT_TRUE(out == v2);
  // Place A was freed once the header using place B was durable: about one
  // copy of the data is allocated, not two.
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, v2.size() + v2.size() / 2);
  int fd = ::open(path_.c_str(), O_RDONLY);
  std::string a(100, 'x');
  ASSERT_EQ(::pread(fd, a.data(), a.size(), PlaceOffset(0, BlockPlace::kA)), 100);
  ::close(fd);
  EXPECT_EQ(a, std::string(100, '\0'));
  // Truncated blocks are freed as well.
  ASSERT_TRUE(f->Truncate(kBlockSize, 3).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 4 * kBlockSize);
}

TEST_F(ChunkFileTest, FileCutShorterThanItsLengthIsCorrupt) {
  auto f = MakeFile();
  ASSERT_TRUE(f->Write(0, Span(std::string(3 * kBlockSize, 'r')), 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_EQ(::truncate(path_.c_str(), PlaceOffset(1, BlockPlace::kA) + 7), 0);
  std::string out;
  EXPECT_EQ(Reopen()->Read(0, 3 * kBlockSize, &out).code(), ErrorCode::kChecksumMismatch);
  ASSERT_TRUE(Reopen()->Read(0, kBlockSize, &out).ok());
}

TEST_F(ChunkFileTest, IdentityCheckCatchesAnOlderCopyOrADamagedHeaderPutUnderAnOpenFile) {
  auto f = MakeFile(7, 1);
  ASSERT_TRUE(f->Write(0, Span(std::string(100, 'a')), 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_TRUE(f->CheckIdentity(7).ok());
  EXPECT_EQ(f->CheckIdentity(8).code(), ErrorCode::kChecksumMismatch);
  const std::string older = dir_.path() + "/older";
  std::filesystem::copy_file(path_, older);
  ASSERT_TRUE(f->Write(100, Span(std::string(100, 'b')), 2).ok());
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_TRUE(f->CheckIdentity(7).ok());
  // The older copy of the same chunk, written over the open file in place.
  std::filesystem::copy_file(older, path_, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(f->CheckIdentity(7).code(), ErrorCode::kChecksumMismatch);
  // A fresh object reads it as it now is; then one byte of its current
  // header slot goes bad.
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->CheckIdentity(7).ok());
  for (uint64_t slot : {0u, 1u}) FlipByte(path_, slot * kHeaderSlotSize + 40);
  EXPECT_EQ(again->CheckIdentity(7).code(), ErrorCode::kChecksumMismatch);
}

TEST_F(ChunkFileTest, EmptyWriteOnlySetsTheVersion) {
  auto f = MakeFile(7, 1);
  ASSERT_TRUE(f->Write(500, {}, 6).ok());
  EXPECT_EQ(f->length(), 0u);
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->version(), 6u);
  EXPECT_EQ(again->length(), 0u);
}

// A real file that records the ranges whose writeback was started.
class WritebackRecorder : public DiskFile {
 public:
  explicit WritebackRecorder(std::unique_ptr<DiskFile> inner) : inner_(std::move(inner)) {}
  const std::string& path() const override { return inner_->path(); }
  Status Pread(uint64_t offset, std::span<char> buf, size_t* got) override {
    return inner_->Pread(offset, buf, got);
  }
  Status Pwrite(uint64_t offset, std::span<const char> data) override {
    return inner_->Pwrite(offset, data);
  }
  Status Sync() override { return inner_->Sync(); }
  Status Allocate(uint64_t offset, uint64_t len) override { return inner_->Allocate(offset, len); }
  Status Punch(uint64_t offset, uint64_t len) override { return inner_->Punch(offset, len); }
  void StartWriteback(uint64_t offset, uint64_t len) override {
    ranges->emplace_back(offset, len);
    inner_->StartWriteback(offset, len);
  }

  std::shared_ptr<std::vector<std::pair<uint64_t, uint64_t>>> ranges =
      std::make_shared<std::vector<std::pair<uint64_t, uint64_t>>>();

 private:
  std::unique_ptr<DiskFile> inner_;
};

TEST_F(ChunkFileTest, ALargeWriteStartsItsWritebackAndASmallOneDoesNot) {
  auto disk = PosixDiskFile::Open(path_, /*create=*/true);
  ASSERT_TRUE(disk.ok()) << disk.status();
  auto recorder = std::make_unique<WritebackRecorder>(std::move(disk).value());
  auto ranges = recorder->ranges;
  auto created = ChunkFile::Create(std::move(recorder), 7, 1);
  ASSERT_TRUE(created.ok()) << created.status();
  auto& f = *created;
  // 4 MiB from offset 1 MiB: one contiguous run of place A.
  ASSERT_TRUE(f->Write(1u << 20, Span(Pattern(kMaxIoSize, 1)), 1).ok());
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ(ranges->front().first, PlaceOffset(16, BlockPlace::kA));
  EXPECT_EQ(ranges->front().second, kMaxIoSize);
  // A small write leaves its writeback to the kernel and the next Sync.
  ASSERT_TRUE(f->Write(0, Span(Pattern(4096, 2)), 1).ok());
  EXPECT_EQ(ranges->size(), 1u);
  ASSERT_TRUE(f->Sync().ok());
  auto again = Reopen();
  ASSERT_NE(again, nullptr);
  std::string out;
  ASSERT_TRUE(again->Read(1u << 20, kMaxIoSize, &out).ok());
  EXPECT_TRUE(out == Pattern(kMaxIoSize, 1));
}

}  // namespace
}  // namespace ddbfs::chunkserver
