#include <algorithm>
#include <atomic>
#include <thread>

#include "ddbfs/constants.h"
#include "meta_test_base.h"

namespace ddbfs::meta::testing {
namespace {

using ReadDirTest = MetaTest;

TEST_F(ReadDirTest, PagesOverManyEntriesInBytewiseOrder) {
  Attr dir = MustMkdir(kRootInode, "big");
  constexpr int kEntries = 2500;
  std::vector<std::string> names;
  for (int i = 0; i < kEntries; ++i) {
    // Mixed case, digits and non-ASCII: bytewise order differs from a locale's.
    std::string prefix = i % 3 == 0 ? "B" : (i % 3 == 1 ? "a" : "\xc3\xa9");
    names.push_back(prefix + std::to_string(i * 7919 % 10007));
  }
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kEntries; i = next++) {
        if (!Create(ctx(), caller_, dir.inode, names[i], 0644, {}, {}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::sort(names.begin(), names.end());

  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    auto page = ReadDir(ctx(), caller_, dir.inode, after, 1000);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const DirEntry& e : page->entries) {
      seen.push_back(e.name);
      EXPECT_EQ(e.attr.type, FileType::kRegular);
      EXPECT_GT(e.attr.inode, kRootInode);
      EXPECT_EQ(e.attr.mode, 0644u);
    }
    if (!page->more) break;
    ASSERT_FALSE(page->entries.empty());
    after = page->entries.back().name;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, names);
}

TEST_F(ReadDirTest, LimitsAndErrors) {
  Attr dir = MustMkdir(kRootInode, "d");
  for (const char* n : {"c", "a", "b"}) MustCreate(dir.inode, n);
  MustMkdir(dir.inode, "sub");
  auto all = ReadDir(ctx(), caller_, dir.inode, "", 0);  // 0: the default limit
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->entries.size(), 4u);
  EXPECT_FALSE(all->more);
  EXPECT_EQ(all->entries[0].name, "a");
  EXPECT_EQ(all->entries[3].name, "sub");
  EXPECT_EQ(all->entries[3].attr.type, FileType::kDirectory);
  EXPECT_EQ(all->entries[3].attr.nlink, 2u);

  auto two = ReadDir(ctx(), caller_, dir.inode, "", 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->entries.size(), 2u);
  EXPECT_TRUE(two->more);
  // `after` need not be an existing name.
  auto rest = ReadDir(ctx(), caller_, dir.inode, "bb", 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->entries.size(), 2u);
  EXPECT_EQ(rest->entries[0].name, "c");
  EXPECT_TRUE(ReadDir(ctx(), caller_, dir.inode, "", 1 << 30).ok());  // capped, not refused

  auto empty = ReadDir(ctx(), caller_, MustMkdir(kRootInode, "empty").inode, "", 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->entries.empty());
  EXPECT_FALSE(empty->more);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), caller_, dir.inode, "", -1)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), caller_, 31337, "", 10)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), caller_, dir.inode, std::string("a\0", 2), 10)),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ddbfs::meta::testing
