// Upgrade in place: format-1 chunk files, crafted here byte by byte from the
// format-1 specification (docs/chunk_format.md, "Format 1"), are converted
// to format 2 when a chunk store opens.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "chunk_file_v1.h"
#include "chunk_store.h"
#include "ddbfs/crc32c.h"
#include "process.h"

namespace ddbfs::chunkserver {
namespace {

using ddbfs::testing::TempDir;

void Put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void Put64(std::string& s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// A format-1 chunk file: 4096-byte header block, 1024-entry CRC table, data.
std::string Format1File(uint64_t chunk_id, uint64_t version, const std::string& data) {
  std::string f(8192, '\0');
  f.replace(0, 8, "DDBFSCK1");
  Put32(f, 8, 1);
  Put32(f, 12, 8192);
  Put64(f, 16, chunk_id);
  Put64(f, 24, version);
  Put64(f, 32, data.size());
  Put32(f, 40, 65536);
  Put32(f, 44, 1024);
  Put32(f, 4092, Crc32c(std::span<const char>(f.data(), 4092)));
  for (size_t b = 0; b * 65536 < data.size(); ++b) {
    const std::string block = data.substr(b * 65536, 65536);
    Put32(f, 4096 + 4 * b, Crc32c(std::span<const char>(block.data(), block.size())));
  }
  return f + data;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 31 + i / 65536);
  return s;
}

TEST(ChunkFileUpgradeTest, Format1FilesAreConvertedAndCorruptOnesStayCorrupt) {
  TempDir dir;
  const std::string good = Pattern(3 * 65536 + 1234);
  const std::string good_path = dir.path() + "/0a/000000000000010a.chunk";
  const std::string bad_path = dir.path() + "/0b/000000000000010b.chunk";
  std::filesystem::create_directories(dir.path() + "/0a");
  std::filesystem::create_directories(dir.path() + "/0b");
  std::ofstream(good_path, std::ios::binary) << Format1File(0x10a, 7, good);
  std::string bad = Format1File(0x10b, 2, Pattern(70000));
  bad[8192 + 66000] ^= 0x40;  // a data byte of block 1
  std::ofstream(bad_path, std::ios::binary) << bad;
  ASSERT_TRUE(IsFormat1File(good_path));

  for (int pass = 0; pass < 2; ++pass) {
    auto store_or = ChunkStore::Open({dir.path()});
    ASSERT_TRUE(store_or.ok()) << store_or.status();
    auto& store = *store_or;
    auto inventory = store->Inventory();
    ASSERT_EQ(inventory.size(), 1u) << "pass " << pass;
    EXPECT_EQ(inventory[0].chunk_id, 0x10au);
    EXPECT_EQ(inventory[0].version, 7u);
    auto r = store->Read(0x10a, 7, 0, kMaxIoSize);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->data == good);
    EXPECT_EQ(store->Read(0x10b, 2, 0, 10).status().code(), ErrorCode::kChecksumMismatch);
    EXPECT_FALSE(IsFormat1File(good_path));
    EXPECT_TRUE(IsFormat1File(bad_path));  // left as it was
    EXPECT_FALSE(std::filesystem::exists(good_path + ".tmp"));
    EXPECT_FALSE(std::filesystem::exists(bad_path + ".tmp"));
  }
  std::ifstream in(good_path, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, "DDBFSCK2");
}

}  // namespace
}  // namespace ddbfs::chunkserver
