// Extended attributes in the ops layer (metaserver/ops/xattr.cc;
// docs/metadata.md, "Extended attributes"), on a real PostgreSQL.

#include <string>
#include <vector>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"

namespace ddbfs::meta::testing {
namespace {

const Caller kRoot{0, 0, {}};
const Caller kAlice{1001, 1001, {}};
const Caller kBob{1002, 1002, {}};

class XattrTest : public MetaTest {
 protected:
  bool give_root_to_caller() const override { return false; }

  Attr Make(const Caller& c, InodeId parent, const std::string& name, uint32_t mode) {
    auto r = Create(ctx(), c, parent, name, mode, std::nullopt, std::nullopt);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *r : Attr();
  }
  ErrorCode Set(const Caller& c, InodeId inode, const std::string& name, const std::string& value,
                int flags = 0) {
    return SetXattr(ctx(), c, inode, name, value, flags).code();
  }
  Result<std::string> Get(const Caller& c, InodeId inode, const std::string& name) {
    return GetXattr(ctx(), c, inode, name);
  }
  std::vector<std::string> List(const Caller& c, InodeId inode) {
    auto r = ListXattr(ctx(), c, inode);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<std::string>();
  }
};

TEST_F(XattrTest, SetGetListReplaceRemoveAndBinaryValues) {
  auto pub = Mkdir(ctx(), kRoot, kRootInode, "pub", 0777);
  ASSERT_TRUE(pub.ok());
  Attr f = Make(kAlice, pub->inode, "f", 0644);
  const std::string binary("a\0b\xff\x01", 5);
  const int64_t ctime_before = GetAttr(ctx(), kRoot, f.inode)->ctime_ns;
  EXPECT_EQ(Set(kAlice, f.inode, "user.mime", "text/plain"), ErrorCode::kOk);
  EXPECT_EQ(Set(kAlice, f.inode, "user.bin", binary), ErrorCode::kOk);
  EXPECT_EQ(Set(kAlice, f.inode, "user.empty", ""), ErrorCode::kOk);
  EXPECT_GT(GetAttr(ctx(), kRoot, f.inode)->ctime_ns, ctime_before) << "setxattr changes ctime";
  EXPECT_EQ(*Get(kAlice, f.inode, "user.mime"), "text/plain");
  EXPECT_EQ(*Get(kAlice, f.inode, "user.bin"), binary);
  EXPECT_EQ(*Get(kAlice, f.inode, "user.empty"), "");
  EXPECT_EQ(List(kAlice, f.inode),
            (std::vector<std::string>{"user.bin", "user.empty", "user.mime"}));
  // XATTR_CREATE / XATTR_REPLACE.
  EXPECT_EQ(Set(kAlice, f.inode, "user.mime", "x", kXattrCreate), ErrorCode::kExists);
  EXPECT_EQ(Set(kAlice, f.inode, "user.none", "x", kXattrReplace), ErrorCode::kNoData);
  EXPECT_EQ(Set(kAlice, f.inode, "user.mime", "image/png", kXattrReplace), ErrorCode::kOk);
  EXPECT_EQ(*Get(kAlice, f.inode, "user.mime"), "image/png");
  EXPECT_EQ(Get(kAlice, f.inode, "user.none").status().code(), ErrorCode::kNoData);
  EXPECT_TRUE(RemoveXattr(ctx(), kAlice, f.inode, "user.mime").ok());
  EXPECT_EQ(RemoveXattr(ctx(), kAlice, f.inode, "user.mime").code(), ErrorCode::kNoData);
  EXPECT_EQ(Get(kAlice, f.inode, "user.mime").status().code(), ErrorCode::kNoData);
  // They belong to the inode: a hard link shows them; the last unlink
  // takes them away (the table references the inode).
  ASSERT_TRUE(Link(ctx(), kAlice, f.inode, pub->inode, "g").ok());
  ASSERT_TRUE(Unlink(ctx(), kAlice, pub->inode, "f").ok());
  EXPECT_EQ(*Get(kAlice, f.inode, "user.bin"), binary);
  ASSERT_TRUE(Unlink(ctx(), kAlice, pub->inode, "g").ok());
  EXPECT_EQ(Get(kRoot, f.inode, "user.bin").status().code(), ErrorCode::kNotFound);
}

TEST_F(XattrTest, NamespacesAndPermissionsFollowLinux) {
  auto pub = Mkdir(ctx(), kRoot, kRootInode, "pub", 0777);
  ASSERT_TRUE(pub.ok());
  Attr mine = Make(kAlice, pub->inode, "mine", 0644);
  Attr secret = Make(kAlice, pub->inode, "secret", 0600);
  // user.*: write permission to set, read permission to get.
  EXPECT_EQ(Set(kBob, mine.inode, "user.x", "1"), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Set(kAlice, secret.inode, "user.x", "1"), ErrorCode::kOk);
  EXPECT_EQ(Get(kBob, secret.inode, "user.x").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(RemoveXattr(ctx(), kBob, secret.inode, "user.x").code(), ErrorCode::kPermissionDenied);
  // Only files and directories have user attributes.
  auto link = Symlink(ctx(), kAlice, pub->inode, "l", "mine");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(Set(kAlice, link->inode, "user.x", "1"), ErrorCode::kNotPermitted);
  // In a sticky directory only its owner (or root) may write them.
  auto tmp = Mkdir(ctx(), kAlice, pub->inode, "tmp", 01777);
  ASSERT_TRUE(tmp.ok());
  EXPECT_EQ(Set(kBob, tmp->inode, "user.x", "1"), ErrorCode::kNotPermitted);
  EXPECT_EQ(Set(kAlice, tmp->inode, "user.x", "1"), ErrorCode::kOk);
  // trusted.*: root's; others neither set nor see them.
  EXPECT_EQ(Set(kAlice, mine.inode, "trusted.t", "1"), ErrorCode::kNotPermitted);
  EXPECT_EQ(Set(kRoot, mine.inode, "trusted.t", "1"), ErrorCode::kOk);
  EXPECT_EQ(Get(kAlice, mine.inode, "trusted.t").status().code(), ErrorCode::kNoData);
  EXPECT_EQ(*Get(kRoot, mine.inode, "trusted.t"), "1");
  EXPECT_EQ(List(kAlice, mine.inode), std::vector<std::string>{});
  EXPECT_EQ(List(kRoot, mine.inode), std::vector<std::string>{"trusted.t"});
  // security.*: readable by all, set by root only.
  EXPECT_EQ(Set(kAlice, mine.inode, "security.s", "1"), ErrorCode::kNotPermitted);
  EXPECT_EQ(Set(kRoot, mine.inode, "security.s", "v"), ErrorCode::kOk);
  EXPECT_EQ(*Get(kBob, mine.inode, "security.s"), "v");
  // POSIX ACLs are checked (acl_test.cc); no other system.* name, no other
  // namespace; names and values within limits.
  EXPECT_EQ(Set(kRoot, mine.inode, "system.posix_acl_access", "x"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Set(kRoot, mine.inode, "system.posix_acl_other", "x"), ErrorCode::kNotSupported);
  EXPECT_EQ(Set(kRoot, mine.inode, "other.x", "x"), ErrorCode::kNotSupported);
  EXPECT_EQ(Set(kAlice, mine.inode, "user.", "x"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Set(kAlice, mine.inode, "user." + std::string(251, 'n'), "x"), ErrorCode::kNameTooLong);
  EXPECT_EQ(Set(kAlice, mine.inode, "user.big", std::string(65537, 'v')),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Set(kAlice, mine.inode, "user.max", std::string(65536, 'v')), ErrorCode::kOk);
  EXPECT_EQ(Get(kAlice, 999999, "user.x").status().code(), ErrorCode::kNotFound);
}

TEST_F(XattrTest, ANodeHoldsABoundedAmount) {
  auto f = Create(ctx(), kRoot, kRootInode, "f", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok());
  // 256 KiB in all: four values of 64 KiB do not fit with their names.
  const std::string v(65536, 'v');
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Set(kRoot, f->inode, "user.v" + std::to_string(i), v), ErrorCode::kOk);
  }
  EXPECT_EQ(Set(kRoot, f->inode, "user.v3", v), ErrorCode::kNoSpace);
  // Replacing one counts its new size, not both.
  EXPECT_EQ(Set(kRoot, f->inode, "user.v2", v), ErrorCode::kOk);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(RemoveXattr(ctx(), kRoot, f->inode, "user.v" + std::to_string(i)).ok());
  // 128 attributes at most.
  for (int i = 0; i < 128; ++i) {
    ASSERT_EQ(Set(kRoot, f->inode, "user.n" + std::to_string(i), "x"), ErrorCode::kOk) << i;
  }
  EXPECT_EQ(Set(kRoot, f->inode, "user.one-more", "x"), ErrorCode::kNoSpace);
  EXPECT_EQ(List(kRoot, f->inode).size(), 128u);
}

// Every Attr says whether the node has attributes (the mount answers
// getxattr of a node without any itself): set by the first, kept while one
// is left, cleared with the last, also when a directory or a link is read.
TEST_F(XattrTest, AttrSaysWhetherTheNodeHasAttributes) {
  Attr f = Make(kRoot, kRootInode, "f", 0644);
  EXPECT_FALSE(f.has_xattrs) << "a new file has none";
  auto has = [&](InodeId id) { return GetAttr(ctx(), kRoot, id)->has_xattrs; };
  EXPECT_FALSE(has(f.inode));
  EXPECT_EQ(Set(kRoot, f.inode, "user.a", "1"), ErrorCode::kOk);
  EXPECT_TRUE(has(f.inode));
  EXPECT_EQ(Set(kRoot, f.inode, "user.a", "2"), ErrorCode::kOk);  // replace
  EXPECT_EQ(Set(kRoot, f.inode, "user.b", "1"), ErrorCode::kOk);
  EXPECT_EQ(Set(kRoot, f.inode, "user.c", "1", kXattrCreate), ErrorCode::kOk);
  EXPECT_EQ(Set(kRoot, f.inode, "user.c", "1", kXattrCreate), ErrorCode::kExists);
  ASSERT_TRUE(RemoveXattr(ctx(), kRoot, f.inode, "user.a").ok());
  EXPECT_TRUE(has(f.inode)) << "two are left";
  EXPECT_EQ(RemoveXattr(ctx(), kRoot, f.inode, "user.a").code(), ErrorCode::kNoData);
  EXPECT_TRUE(has(f.inode)) << "removing a missing one changes nothing";
  ASSERT_TRUE(RemoveXattr(ctx(), kRoot, f.inode, "user.b").ok());
  EXPECT_TRUE(has(f.inode)) << "one is left";
  ASSERT_TRUE(RemoveXattr(ctx(), kRoot, f.inode, "user.c").ok());
  EXPECT_FALSE(has(f.inode)) << "the last one is gone";
  // Lookups and listings carry it too.
  auto d = Mkdir(ctx(), kRoot, kRootInode, "d", 0755);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_xattrs);
  EXPECT_EQ(Set(kRoot, d->inode, "user.dir", "1"), ErrorCode::kOk);
  EXPECT_EQ(Set(kRoot, f.inode, "user.f", "1"), ErrorCode::kOk);
  Attr g = Make(kRoot, kRootInode, "g", 0644);
  auto looked = Lookup(ctx(), kRoot, kRootInode, "d");
  ASSERT_TRUE(looked.ok());
  EXPECT_TRUE(looked->has_xattrs);
  auto page = ReadDir(ctx(), kRoot, kRootInode, "", 0);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 3u);
  for (const DirEntry& e : page->entries) {
    EXPECT_EQ(e.attr.has_xattrs, e.name != "g") << e.name;
  }
  EXPECT_FALSE(g.has_xattrs);
}

}  // namespace
}  // namespace ddbfs::meta::testing
