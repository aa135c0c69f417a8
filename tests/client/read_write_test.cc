// Data paths of libddbfs on a real cluster: random unaligned writes against
// an in-memory model, holes, and truncation inside and across chunks.

#include <algorithm>
#include <fstream>
#include <random>
#include <span>

#include <gtest/gtest.h>

#include "test_files.h"

namespace ddbfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class ReadWriteTest : public SharedClusterTest<ReadWriteTest> {
 protected:
  // Writes `data` at `offset` into the model, growing it with zeros.
  static void Apply(std::string& model, uint64_t offset, const std::string& data) {
    if (model.size() < offset + data.size()) model.resize(offset + data.size(), '\0');
    model.replace(offset, data.size(), data);
  }
};

TEST_F(ReadWriteTest, RandomUnalignedWritesOverThreeChunksMatchAModel) {
  auto a = client_->Create(kRootInode, "model.bin", 0644);
  ASSERT_TRUE(a.ok()) << a.status();
  std::string model;
  std::mt19937_64 rng(2024);
  const uint64_t kSpan = 130 * kMiB;  // chunks 0, 1 and 2
  // Two writer lifetimes: the second overwrites committed chunks.
  for (int round = 0; round < 2; ++round) {
    auto w = client_->OpenWriter(a->inode);
    ASSERT_TRUE(w.ok()) << w.status();
    for (int i = 0; i < 24; ++i) {
      uint64_t len = 1 + rng() % (3 * kMiB);
      uint64_t off = rng() % (kSpan - len);
      if (round == 0 && i == 0) off = kSpan - len;  // the far end first: a hole-y file
      std::string data = Bytes(len, rng());
      // Mix application write sizes: tiny, odd and bigger than a piece.
      size_t piece = (i % 3 == 0) ? 4099 : (i % 3 == 1) ? 777777 : 5 * kMiB;
      ASSERT_TRUE(WriteAt(**w, off, data, piece).ok()) << "write " << i;
      Apply(model, off, data);
      if (i == 11) {
        ASSERT_TRUE((*w)->Flush().ok());  // commit half-way
      }
      EXPECT_EQ((*w)->size(), model.size());
    }
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto attr = client_->GetAttr(a->inode);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(attr->size, model.size());

  auto back = ReadAll(*client_, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(*back == model) << FirstDifference(*back, model);

  // Small unaligned reads, including across chunk and piece boundaries.
  const uint64_t probes[] = {0, 1, 4 * kMiB - 3, 64 * kMiB - 5, 128 * kMiB - 1, model.size() - 7};
  for (uint64_t off : probes) {
    auto part = ReadRange(*client_, a->inode, off, 10);
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(*part, model.substr(off, 10)) << "at " << off;
  }
  // One reader, random small reads (the ranged path: only the bytes a read
  // asks for are fetched), some crossing blocks, pieces and chunks,
  // some in holes or at the end: each returns every byte asked for.
  auto reader = client_->OpenReader(a->inode);
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (int i = 0; i < 400; ++i) {
    const uint64_t len = 1 + rng() % (i % 4 == 0 ? 256 * 1024 : 9000);
    uint64_t off = rng() % model.size();
    if (i % 10 == 0) off = (1 + rng() % 32) * 4 * kMiB - len / 2;  // across a piece end
    if (off >= model.size()) continue;
    std::string buf(len, 'x');
    auto n = (*reader)->Read(off, std::span<char>(buf.data(), buf.size()));
    ASSERT_TRUE(n.ok()) << n.status();
    const uint64_t expect = std::min<uint64_t>(len, model.size() - off);
    ASSERT_EQ(*n, expect) << "short read at " << off << " of " << len;
    ASSERT_TRUE(buf.substr(0, *n) == model.substr(off, *n)) << "read " << i << " at " << off;
  }
  auto chunks = client_->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 3u);
  for (const auto& c : *chunks) EXPECT_EQ(CurrentReplicas(c), 2) << "chunk " << c.index;
}

// Bytes a process has read through read(2)/pread(2) (rchar of /proc/PID/io).
uint64_t BytesReadBy(pid_t pid) {
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  ADD_FAILURE() << "no rchar in /proc/" << pid << "/io";
  return 0;
}

// A sequential reader keeps several 4 MiB pieces in flight and asks the
// chunk's replicas in turn: both servers holding the chunk do part of the
// reading (before, the first replica did all of it). Reads that jump back
// and forth past the pieces read ahead still return the right bytes.
TEST_F(ReadWriteTest, ASequentialReaderReadsItsPiecesFromEveryReplicaInTurn) {
  const std::string data = Bytes(40 * kMiB + 12345, 21);  // 11 pieces of one chunk
  auto a = PutFile(*client_, "spread.bin", data);
  ASSERT_TRUE(a.ok()) << a.status();
  auto chunks = client_->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 1u);
  ASSERT_EQ(CurrentReplicas(chunks->at(0)), 2);
  std::vector<pid_t> holders;
  for (int i = 0; i < cluster_->chunk_server_count(); ++i) {
    for (const auto& r : chunks->at(0).replicas) {
      if (r.server_id == cluster_->chunk_server_id(i)) {
        holders.push_back(cluster_->chunk_server_process(i)->pid());
      }
    }
  }
  ASSERT_EQ(holders.size(), 2u);
  const uint64_t before[2] = {BytesReadBy(holders[0]), BytesReadBy(holders[1])};

  auto reader = client_->OpenReader(a->inode);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string back(data.size(), '\0');
  for (uint64_t off = 0; off < data.size(); off += kMiB) {  // as the kernel's read-ahead asks
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kMiB, data.size() - off));
    auto n = (*reader)->Read(off, std::span<char>(back.data() + off, len));
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, len) << "at " << off;
  }
  ASSERT_TRUE(back == data) << FirstDifference(back, data);
  for (int i = 0; i < 2; ++i) {
    const uint64_t read = BytesReadBy(holders[i]) - before[i];
    EXPECT_GE(read, 12 * kMiB) << "replica " << i << " read only " << read << " bytes of "
                               << data.size();
  }

  // Jumps: into pieces read ahead, back before them, forward past them.
  const uint64_t jumps[] = {0,        kMiB,      2 * kMiB,  3 * kMiB,  4 * kMiB,
                            5 * kMiB, 29 * kMiB, 30 * kMiB, 6 * kMiB,  7 * kMiB,
                            8 * kMiB, 9 * kMiB,  13 * kMiB, 40 * kMiB, 0};
  auto again = client_->OpenReader(a->inode);
  ASSERT_TRUE(again.ok()) << again.status();
  for (uint64_t off : jumps) {
    std::string buf(kMiB + 1, 'x');
    auto n = (*again)->Read(off, std::span<char>(buf.data(), buf.size()));
    ASSERT_TRUE(n.ok()) << n.status();
    const uint64_t expect = std::min<uint64_t>(buf.size(), data.size() - off);
    ASSERT_EQ(*n, expect) << "at " << off;
    ASSERT_TRUE(buf.substr(0, *n) == data.substr(off, *n)) << "at " << off;
  }
}

TEST_F(ReadWriteTest, HolesAndBytesPastAChunkReadAsZeros) {
  auto a = client_->Create(kRootInode, "holes.bin", 0644);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string head = "head-bytes";
  const std::string tail = Bytes(5000, 3);
  const uint64_t tail_off = 2 * 64 * kMiB + 12345;  // chunk 1 is never written
  {
    auto w = client_->OpenWriter(a->inode);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(tail_off, tail).ok());
    ASSERT_TRUE((*w)->Write(0, head).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto chunks = client_->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ(chunks->at(0).index, 0);
  EXPECT_EQ(chunks->at(0).length, head.size());
  EXPECT_EQ(chunks->at(1).index, 2);

  auto back = ReadAll(*client_, a->inode);
  ASSERT_TRUE(back.ok()) << back.status();
  std::string want(tail_off + tail.size(), '\0');
  want.replace(0, head.size(), head);
  want.replace(tail_off, tail.size(), tail);
  ASSERT_TRUE(*back == want) << FirstDifference(*back, want);

  // Growing with SetAttr adds zeros; reads stop at the size.
  AttrChanges grow;
  grow.size = want.size() + 3 * kMiB;
  ASSERT_TRUE(client_->SetAttr(a->inode, grow).ok());
  auto end = ReadRange(*client_, a->inode, want.size() - 2, 10 * kMiB);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->size(), 3 * kMiB + 2);
  EXPECT_EQ(end->substr(0, 2), tail.substr(tail.size() - 2));
  EXPECT_EQ(end->find_first_not_of('\0', 2), std::string::npos);
}

TEST_F(ReadWriteTest, TruncateDownAndUpInsideAndAcrossChunks) {
  const std::string data = Bytes(70 * kMiB, 11);  // chunk 0 full, chunk 1 6 MiB
  auto a = PutFile(*client_, "trunc.bin", data);
  ASSERT_TRUE(a.ok()) << a.status();
  auto set_size = [&](uint64_t size) {
    AttrChanges ch;
    ch.size = size;
    auto r = client_->SetAttr(a->inode, ch);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->size, size);
  };
  auto expect_content = [&](const std::string& want) {
    auto back = ReadAll(*client_, a->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == want) << FirstDifference(*back, want);
  };

  // Down inside chunk 1, then up again: the cut bytes must not come back.
  const uint64_t cut1 = 66 * kMiB + 123;
  set_size(cut1);
  expect_content(data.substr(0, cut1));
  set_size(68 * kMiB);
  std::string want = data.substr(0, cut1);
  want.resize(68 * kMiB, '\0');
  expect_content(want);

  // Down across chunks to inside chunk 0: chunk 1 goes away.
  const uint64_t cut0 = 10 * kMiB + 7;
  set_size(cut0);
  expect_content(data.substr(0, cut0));
  auto chunks = client_->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ(chunks->front().length, cut0);
  EXPECT_EQ(CurrentReplicas(chunks->front()), 2);

  // To exactly a chunk boundary, then write into the grown region.
  set_size(64 * kMiB);
  const std::string patch = Bytes(3 * kMiB + 1, 12);
  {
    auto w = client_->OpenWriter(a->inode);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(WriteAt(**w, 20 * kMiB + 3, patch).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  want = data.substr(0, cut0);
  want.resize(64 * kMiB, '\0');
  want.replace(20 * kMiB + 3, patch.size(), patch);
  expect_content(want);

  set_size(0);
  expect_content("");
  chunks = client_->Chunks(a->inode);
  ASSERT_TRUE(chunks.ok());
  EXPECT_TRUE(chunks->empty());
}

TEST_F(ReadWriteTest, SyncedSmallFilesAndAnEmptyFileReadBack) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{65536}, size_t{65537}, size_t{4 << 20}}) {
    const std::string data = Bytes(size, size + 1);
    auto a = PutFile(*client_, "small-" + std::to_string(size), data);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->size, size);
    auto back = ReadAll(*client_, a->inode);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(*back == data) << "size " << size;
  }
}

TEST_F(ReadWriteTest, CommitKeepsTheMtimeTheWriterWasGiven) {
  const int64_t old = 1262304000123456789;  // 2010-01-01
  auto a = client_->Create(kRootInode, "dated", 0600, old);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->mtime_ns, old);
  auto w = client_->OpenWriter(a->inode);
  ASSERT_TRUE(w.ok());
  (*w)->SetMtime(old);
  ASSERT_TRUE((*w)->Write(0, std::string("x")).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto after = client_->GetAttr(a->inode);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->mtime_ns, old);
  EXPECT_EQ(after->size, 1u);
  EXPECT_EQ(after->mode, 0600u);
}

TEST_F(ReadWriteTest, WriterAndReaderRefuseADirectory) {
  auto d = client_->Mkdir(kRootInode, "not-a-file", 0755);
  ASSERT_TRUE(d.ok()) << d.status();
  auto w = client_->OpenWriter(d->inode);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), ErrorCode::kIsDir);
  auto r = client_->OpenReader(d->inode);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIsDir);
}

}  // namespace
}  // namespace ddbfs::testing
