#include "ddbfs/constants.h"
#include "meta_test_base.h"

namespace ddbfs::meta::testing {
namespace {

using RenameTest = MetaTest;

TEST_F(RenameTest, MovesAFileBetweenDirectories) {
  Attr a = MustMkdir(kRootInode, "a");
  Attr b = MustMkdir(kRootInode, "b");
  Attr f = MustCreate(a.inode, "f");
  ASSERT_TRUE(Rename(ctx(), caller_, a.inode, "f", b.inode, "g", 0).ok());
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, a.inode, "f")), ErrorCode::kNotFound);
  auto g = Lookup(ctx(), caller_, b.inode, "g");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->inode, f.inode);
  EXPECT_GT(g->ctime_ns, f.ctime_ns);
  EXPECT_GT(GetAttr(ctx(), caller_, a.inode)->mtime_ns, a.mtime_ns);
  EXPECT_GT(GetAttr(ctx(), caller_, b.inode)->mtime_ns, b.mtime_ns);
  // Same directory, new name.
  ASSERT_TRUE(Rename(ctx(), caller_, b.inode, "g", b.inode, "h", 0).ok());
  EXPECT_EQ(Lookup(ctx(), caller_, b.inode, "h")->inode, f.inode);
  // Onto itself: nothing happens.
  EXPECT_TRUE(Rename(ctx(), caller_, b.inode, "h", b.inode, "h", 0).ok());
  EXPECT_EQ(Lookup(ctx(), caller_, b.inode, "h")->inode, f.inode);
}

TEST_F(RenameTest, MovingADirectoryMovesItsParentLink) {
  Attr a = MustMkdir(kRootInode, "a");
  Attr b = MustMkdir(kRootInode, "b");
  MustMkdir(a.inode, "sub");
  EXPECT_EQ(GetAttr(ctx(), caller_, a.inode)->nlink, 3u);
  ASSERT_TRUE(Rename(ctx(), caller_, a.inode, "sub", b.inode, "sub", 0).ok());
  EXPECT_EQ(GetAttr(ctx(), caller_, a.inode)->nlink, 2u);
  EXPECT_EQ(GetAttr(ctx(), caller_, b.inode)->nlink, 3u);
  EXPECT_TRUE(ResolvePath(ctx(), caller_, "/b/sub").ok());
}

TEST_F(RenameTest, ReplacingAFileUnlinksIt) {
  Attr src = MustCreate(kRootInode, "src");
  Attr dst = MustCreate(kRootInode, "dst");
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "src", kRootInode, "dst", 0).ok());
  EXPECT_EQ(Lookup(ctx(), caller_, kRootInode, "dst")->inode, src.inode);
  EXPECT_EQ(CodeOf(GetAttr(ctx(), caller_, dst.inode)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "src")), ErrorCode::kNotFound);

  // A replaced file with another name survives with one link less.
  Attr kept = MustCreate(kRootInode, "kept");
  ASSERT_TRUE(Link(ctx(), caller_, kept.inode, kRootInode, "kept2").ok());
  MustCreate(kRootInode, "other");
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "other", kRootInode, "kept", 0).ok());
  auto k = GetAttr(ctx(), caller_, kept.inode);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->nlink, 1u);
  // Two names of the same file: nothing happens, both stay.
  ASSERT_TRUE(Link(ctx(), caller_, kept.inode, kRootInode, "kept3").ok());
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "kept2", kRootInode, "kept3", 0).ok());
  EXPECT_TRUE(Lookup(ctx(), caller_, kRootInode, "kept2").ok());
  EXPECT_TRUE(Lookup(ctx(), caller_, kRootInode, "kept3").ok());
}

TEST_F(RenameTest, DirectoryReplacesOnlyAnEmptyDirectory) {
  Attr src = MustMkdir(kRootInode, "src");
  Attr full = MustMkdir(kRootInode, "full");
  MustCreate(full.inode, "x");
  Attr empty = MustMkdir(kRootInode, "empty");
  MustCreate(kRootInode, "file");
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "src", kRootInode, "full", 0)),
            ErrorCode::kNotEmpty);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "src", kRootInode, "file", 0)),
            ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "file", kRootInode, "empty", 0)),
            ErrorCode::kIsDir);
  EXPECT_EQ(GetAttr(ctx(), caller_, kRootInode)->nlink, 5u);
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "src", kRootInode, "empty", 0).ok());
  EXPECT_EQ(Lookup(ctx(), caller_, kRootInode, "empty")->inode, src.inode);
  EXPECT_EQ(CodeOf(GetAttr(ctx(), caller_, empty.inode)), ErrorCode::kNotFound);
  EXPECT_EQ(GetAttr(ctx(), caller_, kRootInode)->nlink, 4u);
  // Across directories: the target's parent loses one subdirectory and gains one.
  Attr d = MustMkdir(kRootInode, "d");
  MustMkdir(d.inode, "victim");
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "empty", d.inode, "victim", 0).ok());
  EXPECT_EQ(GetAttr(ctx(), caller_, d.inode)->nlink, 3u);
  EXPECT_EQ(GetAttr(ctx(), caller_, kRootInode)->nlink, 4u);  // full, d + 2
}

TEST_F(RenameTest, DirectoryCannotMoveIntoItsOwnSubtree) {
  Attr a = MustMkdir(kRootInode, "a");
  Attr b = MustMkdir(a.inode, "b");
  Attr c = MustMkdir(b.inode, "c");
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", c.inode, "a", 0)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", a.inode, "self", 0)),
            ErrorCode::kInvalidArgument);
  MustCreate(c.inode, "x");
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, a.inode, "b", c.inode, "x", kRenameExchange)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, c.inode, "x", a.inode, "b", kRenameExchange)),
            ErrorCode::kInvalidArgument);
  // Moving up is fine.
  ASSERT_TRUE(Rename(ctx(), caller_, b.inode, "c", kRootInode, "c", 0).ok());
  EXPECT_EQ(ResolvePath(ctx(), caller_, "/c")->inode, c.inode);
}

TEST_F(RenameTest, NoReplaceFailsWhenTheTargetExists) {
  MustCreate(kRootInode, "a");
  MustCreate(kRootInode, "b");
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", kRootInode, "b", kRenameNoReplace)),
            ErrorCode::kExists);
  EXPECT_TRUE(Lookup(ctx(), caller_, kRootInode, "a").ok());
  ASSERT_TRUE(Rename(ctx(), caller_, kRootInode, "a", kRootInode, "c", kRenameNoReplace).ok());
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "a")), ErrorCode::kNotFound);
}

TEST_F(RenameTest, ExchangeSwapsTwoEntries) {
  Attr d1 = MustMkdir(kRootInode, "d1");
  Attr d2 = MustMkdir(kRootInode, "d2");
  Attr f = MustCreate(d1.inode, "f");
  Attr sub = MustMkdir(d2.inode, "sub");
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, d1.inode, "f", d2.inode, "none", kRenameExchange)),
            ErrorCode::kNotFound);
  ASSERT_TRUE(Rename(ctx(), caller_, d1.inode, "f", d2.inode, "sub", kRenameExchange).ok());
  EXPECT_EQ(Lookup(ctx(), caller_, d1.inode, "f")->inode, sub.inode);
  EXPECT_EQ(Lookup(ctx(), caller_, d2.inode, "sub")->inode, f.inode);
  // The directory changed parent: link counts follow it.
  EXPECT_EQ(GetAttr(ctx(), caller_, d1.inode)->nlink, 3u);
  EXPECT_EQ(GetAttr(ctx(), caller_, d2.inode)->nlink, 2u);
  EXPECT_EQ(ResolvePath(ctx(), caller_, "/d1/f")->type, FileType::kDirectory);
}

TEST_F(RenameTest, ErrorsOnMissingSourceOrBadArguments) {
  MustCreate(kRootInode, "a");
  Attr f = MustCreate(kRootInode, "file");
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "nope", kRootInode, "x", 0)),
            ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", 9999, "x", 0)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", f.inode, "x", 0)), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", kRootInode, "b", 3)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", kRootInode, "x/y", 0)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Rename(ctx(), caller_, kRootInode, "a", kRootInode, std::string(300, 'z'), 0)),
            ErrorCode::kNameTooLong);
  EXPECT_TRUE(Lookup(ctx(), caller_, kRootInode, "a").ok());
}

}  // namespace
}  // namespace ddbfs::meta::testing
