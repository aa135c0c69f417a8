#include <string>

#include "ddbfs/constants.h"
#include "meta_test_base.h"

namespace ddbfs::meta::testing {
namespace {

using NamespaceTest = MetaTest;

TEST_F(NamespaceTest, BadNamesAreRejectedWithTheirCodes) {
  const std::string long_name(256, 'x');
  const std::string max_name(255, 'y');
  struct Case {
    std::string name;
    ErrorCode code;
  };
  const Case cases[] = {
      {"", ErrorCode::kInvalidArgument},
      {"a/b", ErrorCode::kInvalidArgument},
      {std::string("a\0b", 3), ErrorCode::kInvalidArgument},
      {".", ErrorCode::kInvalidArgument},
      {"..", ErrorCode::kInvalidArgument},
      {"bad\xff\xfeutf8", ErrorCode::kInvalidArgument},
      {"\xc0\xaf", ErrorCode::kInvalidArgument},  // overlong '/'
      {long_name, ErrorCode::kNameTooLong},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CodeOf(Create(ctx(), caller_, kRootInode, c.name, 0644, {}, {})), c.code) << c.name;
    EXPECT_EQ(CodeOf(Mkdir(ctx(), caller_, kRootInode, c.name, 0755)), c.code) << c.name;
    EXPECT_EQ(CodeOf(Symlink(ctx(), caller_, kRootInode, c.name, "t")), c.code) << c.name;
    EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, c.name)), c.code) << c.name;
    EXPECT_EQ(CodeOf(Unlink(ctx(), caller_, kRootInode, c.name)), c.code) << c.name;
  }
  EXPECT_TRUE(Create(ctx(), caller_, kRootInode, max_name, 0644, {}, {}).ok());
  EXPECT_TRUE(Create(ctx(), caller_, kRootInode, "ünïcødé ✓", 0644, {}, {}).ok());
  // Nothing but the two good names was created.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.dentries"), 2);
}

TEST_F(NamespaceTest, BadInodeNumbersAreInvalidArguments) {
  EXPECT_EQ(CodeOf(GetAttr(ctx(), caller_, -5)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(GetAttr(ctx(), caller_, 0)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, -1, "a")), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Create(ctx(), caller_, -1, "a", 0644, {}, {})), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), caller_, -1, "", 10)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(GetAttr(ctx(), caller_, 999999)), ErrorCode::kNotFound);
}

TEST_F(NamespaceTest, ParentMustExistAndBeADirectory) {
  Attr file = MustCreate(kRootInode, "f");
  EXPECT_EQ(CodeOf(Create(ctx(), caller_, 4242, "x", 0644, {}, {})), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Mkdir(ctx(), caller_, 4242, "x", 0755)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Create(ctx(), caller_, file.inode, "x", 0644, {}, {})), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Mkdir(ctx(), caller_, file.inode, "x", 0755)), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Symlink(ctx(), caller_, file.inode, "x", "t")), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, file.inode, "x")), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), caller_, file.inode, "", 10)), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "missing")), ErrorCode::kNotFound);
}

TEST_F(NamespaceTest, TakenNamesAreExists) {
  Attr file = MustCreate(kRootInode, "taken");
  EXPECT_EQ(CodeOf(Create(ctx(), caller_, kRootInode, "taken", 0644, {}, {})), ErrorCode::kExists);
  EXPECT_EQ(CodeOf(Mkdir(ctx(), caller_, kRootInode, "taken", 0755)), ErrorCode::kExists);
  EXPECT_EQ(CodeOf(Symlink(ctx(), caller_, kRootInode, "taken", "x")), ErrorCode::kExists);
  EXPECT_EQ(CodeOf(Link(ctx(), caller_, file.inode, kRootInode, "taken")), ErrorCode::kExists);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes"), 2);
}

TEST_F(NamespaceTest, CreateSetsOwnerModeGoalAndTimes) {
  auto root_before = GetAttr(ctx(), caller_, kRootInode);
  ASSERT_TRUE(root_before.ok());
  auto a = Create(ctx(), caller_, kRootInode, "f", 0100644, std::nullopt, int64_t{123456789});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->type, FileType::kRegular);
  EXPECT_EQ(a->mode, 0644u);  // only the permission bits are kept
  EXPECT_EQ(a->uid, 1000u);
  EXPECT_EQ(a->gid, 100u);
  EXPECT_EQ(a->nlink, 1u);
  EXPECT_EQ(a->size, 0u);
  EXPECT_EQ(a->goal, kDefaultGoal);
  EXPECT_EQ(a->mtime_ns, 123456789);
  EXPECT_GT(a->ctime_ns, 123456789);
  auto root_after = GetAttr(ctx(), caller_, kRootInode);
  ASSERT_TRUE(root_after.ok());
  EXPECT_GT(root_after->mtime_ns, root_before->mtime_ns);
  EXPECT_GT(root_after->ctime_ns, root_before->ctime_ns);

  // goal: explicit, else the parent directory's.
  Attr dir = MustMkdir(kRootInode, "d");
  AttrChanges c;
  c.goal = 3;
  ASSERT_TRUE(SetAttr(ctx(), caller_, dir.inode, c).ok());
  auto inherited = Create(ctx(), caller_, dir.inode, "g", 0600, std::nullopt, std::nullopt);
  ASSERT_TRUE(inherited.ok());
  EXPECT_EQ(inherited->goal, 3);
  auto explicit_goal = Create(ctx(), caller_, dir.inode, "h", 0600, 1, std::nullopt);
  ASSERT_TRUE(explicit_goal.ok());
  EXPECT_EQ(explicit_goal->goal, 1);
  EXPECT_EQ(CodeOf(Create(ctx(), caller_, dir.inode, "i", 0600, 10, std::nullopt)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(MustMkdir(dir.inode, "sub").goal, 3);
}

TEST_F(NamespaceTest, DirectoryLinkCounts) {
  EXPECT_EQ(GetAttr(ctx(), caller_, kRootInode)->nlink, 2u);
  Attr a = MustMkdir(kRootInode, "a");
  EXPECT_EQ(a.nlink, 2u);
  EXPECT_EQ(a.mode, 0755u);
  MustMkdir(kRootInode, "b");
  MustCreate(kRootInode, "file");  // files do not count
  EXPECT_EQ(GetAttr(ctx(), caller_, kRootInode)->nlink, 4u);
  MustMkdir(a.inode, "c");
  EXPECT_EQ(GetAttr(ctx(), caller_, a.inode)->nlink, 3u);
  EXPECT_TRUE(Rmdir(ctx(), caller_, kRootInode, "b").ok());
  EXPECT_EQ(GetAttr(ctx(), caller_, kRootInode)->nlink, 3u);
}

TEST_F(NamespaceTest, UnlinkAndRmdirErrors) {
  Attr dir = MustMkdir(kRootInode, "dir");
  MustCreate(dir.inode, "inner");
  MustCreate(kRootInode, "file");
  EXPECT_EQ(CodeOf(Unlink(ctx(), caller_, kRootInode, "dir")), ErrorCode::kIsDir);
  EXPECT_EQ(CodeOf(Rmdir(ctx(), caller_, kRootInode, "file")), ErrorCode::kNotDir);
  EXPECT_EQ(CodeOf(Rmdir(ctx(), caller_, kRootInode, "dir")), ErrorCode::kNotEmpty);
  EXPECT_EQ(CodeOf(Unlink(ctx(), caller_, kRootInode, "nope")), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Rmdir(ctx(), caller_, kRootInode, "nope")), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Unlink(ctx(), caller_, 777, "x")), ErrorCode::kNotFound);
  // Failures changed nothing.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes"), 4);
  ASSERT_TRUE(Unlink(ctx(), caller_, dir.inode, "inner").ok());
  ASSERT_TRUE(Rmdir(ctx(), caller_, kRootInode, "dir").ok());
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "file").ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes"), 1);
  EXPECT_EQ(CodeOf(Lookup(ctx(), caller_, kRootInode, "file")), ErrorCode::kNotFound);
}

TEST_F(NamespaceTest, HardLinksCountNamesAndKeepTheInode) {
  Attr f = MustCreate(kRootInode, "f");
  Attr d = MustMkdir(kRootInode, "d");
  auto l = Link(ctx(), caller_, f.inode, d.inode, "g");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->inode, f.inode);
  EXPECT_EQ(l->nlink, 2u);
  EXPECT_EQ(CodeOf(Link(ctx(), caller_, d.inode, kRootInode, "dlink")), ErrorCode::kIsDir);
  EXPECT_EQ(CodeOf(Link(ctx(), caller_, 5555, kRootInode, "x")), ErrorCode::kNotFound);
  ASSERT_TRUE(Unlink(ctx(), caller_, kRootInode, "f").ok());
  auto g = Lookup(ctx(), caller_, d.inode, "g");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->inode, f.inode);
  EXPECT_EQ(g->nlink, 1u);
  ASSERT_TRUE(Unlink(ctx(), caller_, d.inode, "g").ok());
  EXPECT_EQ(CodeOf(GetAttr(ctx(), caller_, f.inode)), ErrorCode::kNotFound);
}

TEST_F(NamespaceTest, SymlinksStoreTheirTarget) {
  auto s = Symlink(ctx(), caller_, kRootInode, "ln", "../some/where");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type, FileType::kSymlink);
  EXPECT_EQ(s->size, 13u);
  EXPECT_EQ(s->mode, 0777u);
  auto t = Readlink(ctx(), caller_, s->inode);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "../some/where");
  Attr f = MustCreate(kRootInode, "f");
  EXPECT_EQ(CodeOf(Readlink(ctx(), caller_, f.inode)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Readlink(ctx(), caller_, 98765)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(Symlink(ctx(), caller_, kRootInode, "e", "")), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Symlink(ctx(), caller_, kRootInode, "e", std::string(5000, 'a'))),
            ErrorCode::kNameTooLong);
  // A symlink can be hard-linked like a file.
  EXPECT_TRUE(Link(ctx(), caller_, s->inode, kRootInode, "ln2").ok());
}

TEST_F(NamespaceTest, ResolvePathWalksInOneCall) {
  Attr a = MustMkdir(kRootInode, "a");
  Attr b = MustMkdir(a.inode, "b");
  Attr f = MustCreate(b.inode, "file.txt");
  auto root = ResolvePath(ctx(), caller_, "/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->inode, kRootInode);
  auto got = ResolvePath(ctx(), caller_, "/a/b/file.txt");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->inode, f.inode);
  EXPECT_EQ(ResolvePath(ctx(), caller_, "/a/b")->inode, b.inode);
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), caller_, "/a/x/file.txt")), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), caller_, "/a/b/missing")), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), caller_, "/a/b/file.txt/more")), ErrorCode::kNotDir);
  for (const char* bad : {"", "a/b", "/a/", "//a", "/a//b", "/a/./b", "/a/../b"}) {
    EXPECT_EQ(CodeOf(ResolvePath(ctx(), caller_, bad)), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), caller_, "/" + std::string(256, 'n'))),
            ErrorCode::kNameTooLong);
}

TEST_F(NamespaceTest, SetAttrChangesOnlyWhatIsSet) {
  Attr f = MustCreate(kRootInode, "f");
  AttrChanges c;
  c.mode = 0104600;
  c.uid = 7;
  c.atime_ns = 11;
  c.mtime_ns = 22;
  const Caller root;  // a chown needs root (docs/metadata.md, "Permissions")
  auto a = SetAttr(ctx(), root, f.inode, c);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->mode, 04600u);
  EXPECT_EQ(a->uid, 7u);
  EXPECT_EQ(a->gid, 100u);
  EXPECT_EQ(a->atime_ns, 11);
  EXPECT_EQ(a->mtime_ns, 22);
  EXPECT_GT(a->ctime_ns, f.ctime_ns);
  AttrChanges grow;
  grow.size = 5ull << 30;
  auto g = SetAttr(ctx(), root, f.inode, grow);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->size, 5ull << 30);
  EXPECT_GT(g->mtime_ns, 22);  // a size change updates mtime

  Attr d = MustMkdir(kRootInode, "d");
  EXPECT_EQ(CodeOf(SetAttr(ctx(), caller_, d.inode, grow)), ErrorCode::kIsDir);
  AttrChanges bad_goal;
  bad_goal.goal = 0;
  EXPECT_EQ(CodeOf(SetAttr(ctx(), caller_, f.inode, bad_goal)), ErrorCode::kInvalidArgument);
  AttrChanges huge;
  huge.size = 1ull << 62;
  EXPECT_EQ(CodeOf(SetAttr(ctx(), caller_, f.inode, huge)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(SetAttr(ctx(), caller_, 424242, c)), ErrorCode::kNotFound);
}

TEST_F(NamespaceTest, MknodMakesFifosSocketsAndDevicesWithoutData) {
  auto fifo = Mknod(ctx(), caller_, kRootInode, "pipe", FileType::kFifo, 0640, 0);
  ASSERT_TRUE(fifo.ok()) << fifo.status();
  EXPECT_EQ(fifo->type, FileType::kFifo);
  EXPECT_EQ(fifo->mode, 0640u);
  EXPECT_EQ(fifo->uid, caller_.uid);
  EXPECT_EQ(fifo->rdev, 0u);
  auto sock = Mknod(ctx(), caller_, kRootInode, "sock", FileType::kSocket, 0600, 0);
  ASSERT_TRUE(sock.ok()) << sock.status();
  // Devices: root only, with their device number kept.
  EXPECT_EQ(CodeOf(Mknod(ctx(), caller_, kRootInode, "null", FileType::kCharDevice, 0666, 0x103)),
            ErrorCode::kNotPermitted);
  const Caller root{0, 0, {}};
  auto dev = Mknod(ctx(), root, kRootInode, "null", FileType::kCharDevice, 0666, 0x103);
  ASSERT_TRUE(dev.ok()) << dev.status();
  auto blk = Mknod(ctx(), root, kRootInode, "disk", FileType::kBlockDevice, 0660, (8 << 8) | 1);
  ASSERT_TRUE(blk.ok()) << blk.status();
  auto again = Lookup(ctx(), caller_, kRootInode, "null");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->type, FileType::kCharDevice);
  EXPECT_EQ(again->rdev, 0x103u);
  EXPECT_EQ(Lookup(ctx(), caller_, kRootInode, "disk")->type, FileType::kBlockDevice);
  // Not a way to make files or directories; rdev only for devices; names
  // are taken as for any create.
  EXPECT_EQ(CodeOf(Mknod(ctx(), caller_, kRootInode, "f", FileType::kRegular, 0644, 0)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Mknod(ctx(), caller_, kRootInode, "d", FileType::kDirectory, 0755, 0)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Mknod(ctx(), caller_, kRootInode, "p2", FileType::kFifo, 0644, 5)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Mknod(ctx(), caller_, kRootInode, "pipe", FileType::kFifo, 0644, 0)),
            ErrorCode::kExists);
  // They have no data: no size change, no chunks.
  AttrChanges grow;
  grow.size = 10;
  EXPECT_EQ(CodeOf(SetAttr(ctx(), caller_, fifo->inode, grow)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), caller_, fifo->inode, 0)), ErrorCode::kInvalidArgument);
  // Listed with their types; removed like files.
  auto page = ReadDir(ctx(), caller_, kRootInode, "", 0);
  ASSERT_TRUE(page.ok());
  int specials = 0;
  for (const auto& e : page->entries) specials += IsSpecial(e.attr.type) ? 1 : 0;
  EXPECT_EQ(specials, 4);
  EXPECT_TRUE(Unlink(ctx(), caller_, kRootInode, "pipe").ok());
  EXPECT_TRUE(Unlink(ctx(), root, kRootInode, "null").ok());
}

}  // namespace
}  // namespace ddbfs::meta::testing
