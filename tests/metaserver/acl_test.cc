// POSIX ACLs in the ops layer (metaserver/ops/posix_acl.cc, xattr.cc,
// permissions.cc; docs/metadata.md, "POSIX ACLs"), on a real PostgreSQL:
// what a client may store, what the mode becomes, who they let in, and
// what new nodes inherit. Expected values are Linux's (fs/posix_acl.c),
// checked against ext4 by hand.

#include <string>
#include <vector>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/posix_acl.h"

namespace ddbfs::meta::testing {
namespace {

const Caller kRoot{0, 0, {}};
const Caller kAlice{1001, 1001, {}};
const Caller kBob{1002, 1002, {}};
constexpr uint32_t kStaff = 50;

// The xattr form of entries given as {tag, perm, id}.
std::string AclOf(const Acl& entries) { return EncodeAcl(entries); }

Acl Base(uint16_t owner, uint16_t group, uint16_t other) {
  return {{kAclUserObj, owner, kAclUndefinedId},
          {kAclGroupObj, group, kAclUndefinedId},
          {kAclOther, other, kAclUndefinedId}};
}

// owner, named user `uid`, group, mask, other.
Acl WithUser(uint16_t owner, uint32_t uid, uint16_t user, uint16_t group, uint16_t mask,
             uint16_t other) {
  return {{kAclUserObj, owner, kAclUndefinedId},
          {kAclUser, user, uid},
          {kAclGroupObj, group, kAclUndefinedId},
          {kAclMask, mask, kAclUndefinedId},
          {kAclOther, other, kAclUndefinedId}};
}

class AclTest : public MetaTest {
 protected:
  bool give_root_to_caller() const override { return false; }

  Attr File(const Caller& c, InodeId parent, const std::string& name, uint32_t mode) {
    auto r = Create(ctx(), c, parent, name, mode, std::nullopt, std::nullopt);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *r : Attr();
  }
  Attr Dir(const Caller& c, InodeId parent, const std::string& name, uint32_t mode) {
    auto r = Mkdir(ctx(), c, parent, name, mode);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *r : Attr();
  }
  ErrorCode Set(const Caller& c, InodeId inode, std::string_view name, const std::string& v) {
    return SetXattr(ctx(), c, inode, name, v, 0).code();
  }
  Attr Now(InodeId inode) {
    auto r = GetAttr(ctx(), kRoot, inode);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Attr();
  }
  bool Can(const Caller& c, InodeId inode, int want) {
    return CheckAccess(Now(inode), c, want, "test").ok();
  }
  // A root-owned public directory for users' files.
  Attr Pub() { return Dir(kRoot, kRootInode, "pub", 0777); }
};

TEST_F(AclTest, MalformedAclsAreRefusedAndChangeNothing) {
  Attr f = File(kRoot, kRootInode, "f", 0640);
  const int64_t ctime = Now(f.inode).ctime_ns;
  const std::vector<std::string> bad = {
      "",                                  // no header
      std::string("\x01\0\0\0", 4),        // version 1
      AclOf(Base(7, 5, 0)).substr(0, 10),  // cut inside an entry
      AclOf({{kAclUserObj, 7, kAclUndefinedId}, {kAclOther, 0, kAclUndefinedId}}),  // no group
      AclOf({{kAclGroupObj, 5, kAclUndefinedId},
             {kAclUserObj, 7, kAclUndefinedId},
             {kAclOther, 0, kAclUndefinedId}}),  // out of order
      AclOf({{kAclUserObj, 7, kAclUndefinedId},
             {kAclUser, 6, 1001},
             {kAclGroupObj, 5, kAclUndefinedId},
             {kAclOther, 0, kAclUndefinedId}}),  // named user without a mask
      AclOf({{kAclUserObj, 017, kAclUndefinedId},
             {kAclGroupObj, 5, kAclUndefinedId},
             {kAclOther, 0, kAclUndefinedId}}),  // perm beyond rwx
      AclOf({{kAclUserObj, 7, kAclUndefinedId},
             {0x40, 5, kAclUndefinedId},
             {kAclOther, 0, kAclUndefinedId}}),  // unknown tag
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(Set(kRoot, f.inode, kAclAccessXattr, bad[i]), ErrorCode::kInvalidArgument)
        << "case " << i;
  }
  Attr after = Now(f.inode);
  EXPECT_EQ(after.mode, 0640u);
  EXPECT_TRUE(after.acl_access.empty());
  EXPECT_EQ(after.ctime_ns, ctime);
  EXPECT_EQ(GetXattr(ctx(), kRoot, f.inode, kAclAccessXattr).status().code(), ErrorCode::kNoData);
}

TEST_F(AclTest, AnAccessAclSetsTheModeAndAnEquivalentOneIsNotKept) {
  Attr pub = Pub();
  Attr f = File(kAlice, pub.inode, "f", 0600);
  const std::string acl = AclOf(WithUser(6, kBob.uid, 4, 4, 6, 0));
  ASSERT_EQ(Set(kAlice, f.inode, kAclAccessXattr, acl), ErrorCode::kOk);
  Attr a = Now(f.inode);
  EXPECT_EQ(a.mode, 0660u) << "group bits are the mask";
  EXPECT_GT(a.ctime_ns, f.ctime_ns);
  EXPECT_EQ(*GetXattr(ctx(), kBob, f.inode, kAclAccessXattr), acl) << "anyone reads an ACL";
  EXPECT_EQ(*ListXattr(ctx(), kAlice, f.inode),
            std::vector<std::string>{"system.posix_acl_access"});
  // Three entries say only the mode: the bits change, no ACL stays.
  ASSERT_EQ(Set(kAlice, f.inode, kAclAccessXattr, AclOf(Base(7, 5, 1))), ErrorCode::kOk);
  a = Now(f.inode);
  EXPECT_EQ(a.mode, 0751u);
  EXPECT_TRUE(a.acl_access.empty());
  EXPECT_EQ(GetXattr(ctx(), kAlice, f.inode, kAclAccessXattr).status().code(), ErrorCode::kNoData);
  // Removing: the mode stays; removing again is no error (ext4).
  ASSERT_EQ(Set(kAlice, f.inode, kAclAccessXattr, acl), ErrorCode::kOk);
  ASSERT_TRUE(RemoveXattr(ctx(), kAlice, f.inode, kAclAccessXattr).ok());
  a = Now(f.inode);
  EXPECT_EQ(a.mode, 0660u);
  EXPECT_TRUE(a.acl_access.empty());
  EXPECT_TRUE(RemoveXattr(ctx(), kAlice, f.inode, kAclAccessXattr).ok());
}

TEST_F(AclTest, OnlyTheOwnerOrRootSetsAnAclAndNotOnASymlink) {
  Attr pub = Pub();
  Attr f = File(kAlice, pub.inode, "f", 0666);
  const std::string acl = AclOf(WithUser(6, kBob.uid, 6, 4, 6, 0));
  EXPECT_EQ(Set(kBob, f.inode, kAclAccessXattr, acl), ErrorCode::kNotPermitted);
  EXPECT_EQ(RemoveXattr(ctx(), kBob, f.inode, kAclAccessXattr).code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(Now(f.inode).mode, 0666u);
  EXPECT_EQ(Set(kRoot, f.inode, kAclAccessXattr, acl), ErrorCode::kOk);
  auto link = Symlink(ctx(), kAlice, pub.inode, "l", "f");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(Set(kAlice, link->inode, kAclAccessXattr, acl), ErrorCode::kNotSupported);
  // A default ACL belongs to a directory only.
  EXPECT_EQ(Set(kAlice, f.inode, kAclDefaultXattr, AclOf(Base(7, 5, 5))),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Now(f.inode).acl_default.empty());
}

TEST_F(AclTest, SettingAnAclOutsideTheGroupDropsSetgid) {
  Attr pub = Pub();
  Attr f = File(kAlice, pub.inode, "f", 02770);
  ASSERT_EQ(Now(f.inode).mode, 02770u);
  // Root gives the file to a group Alice is not in; Alice sets an ACL.
  AttrChanges ch;
  ch.gid = kStaff;
  ch.mode = 02770;
  ASSERT_TRUE(SetAttr(ctx(), kRoot, f.inode, ch).ok());
  ASSERT_EQ(Set(kAlice, f.inode, kAclAccessXattr, AclOf(WithUser(7, kBob.uid, 7, 7, 7, 0))),
            ErrorCode::kOk);
  EXPECT_EQ(Now(f.inode).mode, 0770u);
  // Alice in the group keeps it.
  const Caller alice_staff{kAlice.uid, kAlice.gid, {kStaff}};
  ASSERT_TRUE(SetAttr(ctx(), kRoot, f.inode, ch).ok());
  ASSERT_EQ(Set(alice_staff, f.inode, kAclAccessXattr, AclOf(WithUser(7, kBob.uid, 7, 7, 7, 0))),
            ErrorCode::kOk);
  EXPECT_EQ(Now(f.inode).mode, 02770u);
}

TEST_F(AclTest, TheAclDecidesAccessThroughItsMask) {
  Attr pub = Pub();
  Attr f = File(kAlice, pub.inode, "f", 0600);
  const Caller carol{1003, 1003, {}};
  const Caller staff_member{1004, 1004, {kStaff}};
  EXPECT_FALSE(Can(kBob, f.inode, kMayRead));
  // Bob rw by name, group staff r, others nothing; mask rw.
  Acl acl = {{kAclUserObj, 6, kAclUndefinedId},  {kAclUser, 6, kBob.uid},
             {kAclGroupObj, 0, kAclUndefinedId}, {kAclGroup, 4, kStaff},
             {kAclMask, 6, kAclUndefinedId},     {kAclOther, 0, kAclUndefinedId}};
  ASSERT_EQ(Set(kAlice, f.inode, kAclAccessXattr, AclOf(acl)), ErrorCode::kOk);
  EXPECT_TRUE(Can(kBob, f.inode, kMayRead | kMayWrite));
  EXPECT_TRUE(Can(staff_member, f.inode, kMayRead));
  EXPECT_FALSE(Can(staff_member, f.inode, kMayWrite)) << "a group that matches but lacks w";
  EXPECT_FALSE(Can(carol, f.inode, kMayRead));
  EXPECT_TRUE(Can(kAlice, f.inode, kMayRead | kMayWrite));
  EXPECT_TRUE(Can(kRoot, f.inode, kMayRead | kMayWrite));
  // The mode's group bits are the mask: chmod g-w takes Bob's write.
  AttrChanges ch;
  ch.mode = 0640;
  ASSERT_TRUE(SetAttr(ctx(), kAlice, f.inode, ch).ok());
  EXPECT_TRUE(Can(kBob, f.inode, kMayRead));
  EXPECT_FALSE(Can(kBob, f.inode, kMayWrite));
  auto stored_r = GetXattr(ctx(), kAlice, f.inode, kAclAccessXattr);
  ASSERT_TRUE(stored_r.ok()) << stored_r.status();
  std::string stored = *stored_r;
  auto after_r = ParseAcl(stored);
  ASSERT_TRUE(after_r.ok()) << after_r.status();
  Acl after = *after_r;
  ASSERT_EQ(after.size(), 6u);
  EXPECT_EQ(after[1].perm, 6) << "named entries stay";
  EXPECT_EQ(after[4].perm, 4) << "the mask took the group bits";
  // chmod o+r lets others (not Bob's named entry) read.
  ch.mode = 0644;
  ASSERT_TRUE(SetAttr(ctx(), kAlice, f.inode, ch).ok());
  EXPECT_TRUE(Can(carol, f.inode, kMayRead));
  // A denying named entry wins over the others' bits.
  ASSERT_EQ(Set(kAlice, f.inode, kAclAccessXattr, AclOf(WithUser(6, carol.uid, 0, 4, 4, 4))),
            ErrorCode::kOk);
  EXPECT_FALSE(Can(carol, f.inode, kMayRead));
  EXPECT_TRUE(Can(kBob, f.inode, kMayRead));
}

TEST_F(AclTest, ADirectoryGrantsCreationThroughItsAcl) {
  Attr d = Dir(kAlice, Pub().inode, "team", 0755);
  EXPECT_FALSE(Create(ctx(), kBob, d.inode, "x", 0644, std::nullopt, std::nullopt).ok());
  ASSERT_EQ(Set(kAlice, d.inode, kAclAccessXattr, AclOf(WithUser(7, kBob.uid, 7, 5, 7, 5))),
            ErrorCode::kOk);
  auto made = Create(ctx(), kBob, d.inode, "x", 0644, std::nullopt, std::nullopt);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->uid, kBob.uid);
}

TEST_F(AclTest, NewNodesInheritTheDefaultAclAndIgnoreTheUmask) {
  Attr d = Dir(kRoot, kRootInode, "shared", 0755);
  const std::string def = AclOf(WithUser(7, kBob.uid, 7, 7, 7, 0));
  ASSERT_EQ(Set(kRoot, d.inode, kAclDefaultXattr, def), ErrorCode::kOk);
  EXPECT_EQ(Now(d.inode).mode, 0755u) << "a default ACL leaves the mode";
  EXPECT_EQ(*GetXattr(ctx(), kRoot, d.inode, kAclDefaultXattr), def);
  Caller masked = kRoot;
  masked.umask = 077;
  // A file asked 0666: owner rw, mask rw (group bits), other none.
  auto f = Create(ctx(), masked, d.inode, "f", 0666, std::nullopt, std::nullopt);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->mode, 0660u);
  auto fa_r = ParseAcl(f->acl_access);
  ASSERT_TRUE(fa_r.ok()) << fa_r.status();
  Acl fa = *fa_r;
  EXPECT_EQ(fa, (Acl{{kAclUserObj, 6, kAclUndefinedId},
                     {kAclUser, 7, kBob.uid},
                     {kAclGroupObj, 7, kAclUndefinedId},
                     {kAclMask, 6, kAclUndefinedId},
                     {kAclOther, 0, kAclUndefinedId}}));
  EXPECT_TRUE(f->acl_default.empty());
  EXPECT_TRUE(Can(kBob, f->inode, kMayRead | kMayWrite));
  // A directory: the same, and the default ACL again.
  auto sub = Mkdir(ctx(), masked, d.inode, "sub", 0777);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->mode, 0770u);
  EXPECT_EQ(sub->acl_default, def);
  // A FIFO inherits; a symlink does not.
  auto fifo = Mknod(ctx(), masked, d.inode, "p", FileType::kFifo, 0644, 0);
  ASSERT_TRUE(fifo.ok()) << fifo.status();
  EXPECT_EQ(fifo->mode, 0640u);
  EXPECT_FALSE(fifo->acl_access.empty());
  auto link = Symlink(ctx(), masked, d.inode, "l", "f");
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_TRUE(link->acl_access.empty());
  // Without a default ACL the umask applies, and no ACL is made.
  auto plain = Create(ctx(), masked, kRootInode, "plain", 0666, std::nullopt, std::nullopt);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->mode, 0600u);
  EXPECT_TRUE(plain->acl_access.empty());
  auto pdir = Mkdir(ctx(), masked, kRootInode, "pdir", 0777);
  ASSERT_TRUE(pdir.ok()) << pdir.status();
  EXPECT_EQ(pdir->mode, 0700u);
  // No umask sent (CLI, library): the mode as asked.
  auto asked = Create(ctx(), kRoot, kRootInode, "asked", 0666, std::nullopt, std::nullopt);
  ASSERT_TRUE(asked.ok());
  EXPECT_EQ(asked->mode, 0666u);
  // A default ACL of only base entries: the mode masked by it, no access ACL.
  ASSERT_EQ(Set(kRoot, d.inode, kAclDefaultXattr, AclOf(Base(7, 5, 0))), ErrorCode::kOk);
  auto g = Create(ctx(), masked, d.inode, "g", 0666, std::nullopt, std::nullopt);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->mode, 0640u);
  EXPECT_TRUE(g->acl_access.empty());
  // Removing the default ACL stops inheritance.
  ASSERT_TRUE(RemoveXattr(ctx(), kRoot, d.inode, kAclDefaultXattr).ok());
  auto h = Create(ctx(), masked, d.inode, "h", 0666, std::nullopt, std::nullopt);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->mode, 0600u);
}

}  // namespace
}  // namespace ddbfs::meta::testing
