// POSIX permission checks of the ops layer (metaserver/ops/permissions.h;
// docs/metadata.md, "Permissions").

#include <string>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/permissions.h"

namespace ddbfs::meta::testing {
namespace {

const Caller kRoot{0, 0, {}};
const Caller kNobody{65534, 65534, {}};
const Caller kAlice{1001, 1001, {}};
const Caller kBob{1002, 1002, {}};
constexpr uint32_t kStaff = 50;

// The file system as created: the root directory is root's, 0755.
class PermissionTest : public MetaTest {
 protected:
  bool give_root_to_caller() const override { return false; }

  Attr MkdirAs(const Caller& c, InodeId parent, const std::string& name, uint32_t mode) {
    auto r = Mkdir(ctx(), c, parent, name, mode);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *r : Attr();
  }
  Attr CreateAs(const Caller& c, InodeId parent, const std::string& name, uint32_t mode) {
    auto r = Create(ctx(), c, parent, name, mode, std::nullopt, std::nullopt);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *r : Attr();
  }
  Result<Attr> Chmod(const Caller& c, InodeId inode, uint32_t mode) {
    AttrChanges ch;
    ch.mode = mode;
    return SetAttr(ctx(), c, inode, ch);
  }
  Result<Attr> Chown(const Caller& c, InodeId inode, std::optional<uint32_t> uid,
                     std::optional<uint32_t> gid) {
    AttrChanges ch;
    ch.uid = uid;
    ch.gid = gid;
    return SetAttr(ctx(), c, inode, ch);
  }
  uint32_t ModeOf(InodeId inode) { return GetAttr(ctx(), kRoot, inode)->mode; }
  // A world-writable (non-sticky) directory for users' files.
  Attr Pub() { return MkdirAs(kRoot, kRootInode, "pub", 0777); }
};

TEST(PermissionCheck, OwnerGroupOtherAndRoot) {
  Attr f;
  f.inode = 9;
  f.type = FileType::kRegular;
  f.uid = 1001;
  f.gid = kStaff;
  f.mode = 0640;
  const Caller staff{1002, 1002, {7, kStaff}};
  EXPECT_TRUE(CheckAccess(f, kAlice, kMayRead | kMayWrite, "t").ok());
  EXPECT_TRUE(CheckAccess(f, staff, kMayRead, "t").ok());  // a supplementary group
  EXPECT_EQ(CheckAccess(f, staff, kMayWrite, "t").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CheckAccess(f, kBob, kMayRead, "t").code(), ErrorCode::kPermissionDenied);
  // The first class that matches decides: the owner gets no group rights.
  f.mode = 0070;
  const Caller alice_staff{1001, 1001, {kStaff}};
  EXPECT_EQ(CheckAccess(f, alice_staff, kMayRead, "t").code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(CheckAccess(f, staff, kMayRead, "t").ok());
  // Root: r and w always; x on a file only if someone may execute it.
  f.mode = 0;
  EXPECT_TRUE(CheckAccess(f, kRoot, kMayRead | kMayWrite, "t").ok());
  EXPECT_EQ(CheckAccess(f, kRoot, kMayExec, "t").code(), ErrorCode::kPermissionDenied);
  f.mode = 0001;
  EXPECT_TRUE(CheckAccess(f, kRoot, kMayExec, "t").ok());
  Attr d = f;
  d.type = FileType::kDirectory;
  d.mode = 0;
  EXPECT_TRUE(CheckAccess(d, kRoot, kMayRead | kMayWrite | kMayExec, "t").ok());
  Status denied = CheckAccess(d, kBob, kMayWrite | kMayExec, "unlink 'x'");
  EXPECT_NE(denied.message().find("unlink 'x'"), std::string::npos) << denied;
  EXPECT_NE(denied.message().find("uid 1002"), std::string::npos) << denied;
  EXPECT_NE(denied.message().find("write"), std::string::npos) << denied;
}

TEST_F(PermissionTest, NobodyCannotRemoveOrReplaceRootsFile) {
  Attr d = MkdirAs(kRoot, kRootInode, "d", 0755);
  Attr f = CreateAs(kRoot, d.inode, "f", 0644);
  EXPECT_EQ(CodeOf(Unlink(ctx(), kNobody, d.inode, "f")), ErrorCode::kPermissionDenied);
  // Permission comes before the type check (as in Linux's may_delete).
  EXPECT_EQ(CodeOf(Unlink(ctx(), kNobody, kRootInode, "d")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Rmdir(ctx(), kNobody, kRootInode, "d")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Rename(ctx(), kNobody, d.inode, "f", d.inode, "g", 0)),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Create(ctx(), kNobody, d.inode, "new", 0644, {}, {})),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Mkdir(ctx(), kNobody, d.inode, "new", 0755)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Symlink(ctx(), kNobody, d.inode, "new", "f")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Link(ctx(), kNobody, f.inode, d.inode, "new")), ErrorCode::kPermissionDenied);
  // Still there, unchanged.
  auto still = Lookup(ctx(), kNobody, d.inode, "f");
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->inode, f.inode);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes"), 3);
  // Root may.
  EXPECT_TRUE(Unlink(ctx(), kRoot, d.inode, "f").ok());
}

TEST_F(PermissionTest, ANodeWithoutReadBitsIsNotReadableButRootReadsIt) {
  Attr pub = Pub();
  Attr f = CreateAs(kAlice, pub.inode, "secret", 0000);
  auto as_nobody = GetChunks(ctx(), kNobody, f.inode, 0, 10, false);
  ASSERT_TRUE(as_nobody.ok()) << as_nobody.status();  // no failure: just not readable
  EXPECT_FALSE(as_nobody->readable);
  EXPECT_FALSE(GetChunks(ctx(), kAlice, f.inode, 0, 10, false)->readable);  // owner, 0000
  EXPECT_TRUE(GetChunks(ctx(), kRoot, f.inode, 0, 10, false)->readable);
  ASSERT_TRUE(Chmod(kAlice, f.inode, 0400).ok());
  EXPECT_TRUE(GetChunks(ctx(), kAlice, f.inode, 0, 10, false)->readable);
  EXPECT_FALSE(GetChunks(ctx(), kNobody, f.inode, 0, 10, false)->readable);
  ASSERT_TRUE(Chmod(kAlice, f.inode, 0404).ok());
  EXPECT_TRUE(GetChunks(ctx(), kNobody, f.inode, 0, 10, false)->readable);

  // A directory: readdir needs r.
  Attr d = MkdirAs(kAlice, pub.inode, "d", 0711);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), kNobody, d.inode, "", 10)), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(ReadDir(ctx(), kAlice, d.inode, "", 10).ok());
  EXPECT_TRUE(ReadDir(ctx(), kRoot, d.inode, "", 10).ok());
}

TEST_F(PermissionTest, NobodyCannotChownTheRootDirectory) {
  EXPECT_EQ(CodeOf(Chown(kNobody, kRootInode, 65534, std::nullopt)), ErrorCode::kNotPermitted);
  EXPECT_EQ(CodeOf(Chown(kNobody, kRootInode, std::nullopt, 65534)), ErrorCode::kNotPermitted);
  EXPECT_EQ(CodeOf(Chmod(kNobody, kRootInode, 0777)), ErrorCode::kNotPermitted);
  auto root = GetAttr(ctx(), kNobody, kRootInode);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  EXPECT_EQ(root->mode, 0755u);
  // Root may; so may the owner "change" to his own uid, but not give it away.
  ASSERT_TRUE(Chown(kRoot, kRootInode, kAlice.uid, kAlice.gid).ok());
  EXPECT_TRUE(Chown(kAlice, kRootInode, kAlice.uid, std::nullopt).ok());
  EXPECT_EQ(CodeOf(Chown(kAlice, kRootInode, kBob.uid, std::nullopt)), ErrorCode::kNotPermitted);
  EXPECT_EQ(GetAttr(ctx(), kRoot, kRootInode)->uid, kAlice.uid);
}

TEST_F(PermissionTest, OnlyTheOwnerOrRootChmodsSetsTimesOrGoal) {
  Attr pub = Pub();
  Attr f = CreateAs(kAlice, pub.inode, "f", 0644);
  EXPECT_EQ(CodeOf(Chmod(kBob, f.inode, 0666)), ErrorCode::kNotPermitted);
  EXPECT_EQ(ModeOf(f.inode), 0644u);
  AttrChanges times;
  times.mtime_ns = 5;
  EXPECT_EQ(CodeOf(SetAttr(ctx(), kBob, f.inode, times)), ErrorCode::kNotPermitted);
  AttrChanges goal;
  goal.goal = 3;
  EXPECT_EQ(CodeOf(SetAttr(ctx(), kBob, f.inode, goal)), ErrorCode::kNotPermitted);

  auto mine = Chmod(kAlice, f.inode, 0600);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->mode, 0600u);
  EXPECT_TRUE(SetAttr(ctx(), kAlice, f.inode, times).ok());
  EXPECT_TRUE(SetAttr(ctx(), kAlice, f.inode, goal).ok());
  EXPECT_EQ(Chmod(kRoot, f.inode, 0640)->mode, 0640u);
  // Truncate needs write permission, not ownership.
  AttrChanges size;
  size.size = 10;
  EXPECT_EQ(CodeOf(SetAttr(ctx(), kBob, f.inode, size)), ErrorCode::kPermissionDenied);
  ASSERT_TRUE(Chmod(kAlice, f.inode, 0646).ok());
  EXPECT_EQ(SetAttr(ctx(), kBob, f.inode, size)->size, 10u);
}

TEST_F(PermissionTest, StickyDirectoryProtectsOthersEntries) {
  Attr tmp = MkdirAs(kRoot, kRootInode, "tmp", 01777);
  CreateAs(kAlice, tmp.inode, "a", 0644);
  CreateAs(kBob, tmp.inode, "b", 0644);
  MkdirAs(kBob, tmp.inode, "bdir", 0777);
  EXPECT_EQ(CodeOf(Unlink(ctx(), kAlice, tmp.inode, "b")), ErrorCode::kNotPermitted);
  EXPECT_EQ(CodeOf(Rmdir(ctx(), kAlice, tmp.inode, "bdir")), ErrorCode::kNotPermitted);
  EXPECT_EQ(CodeOf(Rename(ctx(), kAlice, tmp.inode, "b", tmp.inode, "mine", 0)),
            ErrorCode::kNotPermitted);
  // Nor replace it, nor exchange with it.
  EXPECT_EQ(CodeOf(Rename(ctx(), kAlice, tmp.inode, "a", tmp.inode, "b", 0)),
            ErrorCode::kNotPermitted);
  EXPECT_EQ(CodeOf(Rename(ctx(), kAlice, tmp.inode, "a", tmp.inode, "b", kRenameExchange)),
            ErrorCode::kNotPermitted);
  EXPECT_TRUE(Lookup(ctx(), kAlice, tmp.inode, "b").ok());
  EXPECT_TRUE(Lookup(ctx(), kAlice, tmp.inode, "bdir").ok());
  // Her own entry she may rename and remove.
  ASSERT_TRUE(Rename(ctx(), kAlice, tmp.inode, "a", tmp.inode, "a2", 0).ok());
  EXPECT_TRUE(Unlink(ctx(), kAlice, tmp.inode, "a2").ok());
  // Bob his; the directory's owner (root) anything.
  EXPECT_TRUE(Rmdir(ctx(), kBob, tmp.inode, "bdir").ok());
  EXPECT_TRUE(Unlink(ctx(), kRoot, tmp.inode, "b").ok());
  // Without the sticky bit the same directory lets anyone remove anything.
  CreateAs(kBob, tmp.inode, "b", 0644);
  ASSERT_TRUE(Chmod(kRoot, tmp.inode, 0777).ok());
  EXPECT_TRUE(Unlink(ctx(), kAlice, tmp.inode, "b").ok());
}

TEST_F(PermissionTest, MissingSearchPermissionOnTheWayIsDenied) {
  Attr a = MkdirAs(kRoot, kRootInode, "a", 0755);
  Attr mid = MkdirAs(kRoot, a.inode, "mid", 0700);
  Attr f = CreateAs(kRoot, mid.inode, "f", 0644);
  for (const char* path : {"/a/mid/f", "/a/mid/missing", "/a/mid/missing/deeper"}) {
    EXPECT_EQ(CodeOf(ResolvePath(ctx(), kNobody, path)), ErrorCode::kPermissionDenied) << path;
    EXPECT_EQ(ResolvePath(ctx(), kRoot, path).ok(), std::string(path) == "/a/mid/f") << path;
  }
  EXPECT_EQ(CodeOf(Lookup(ctx(), kNobody, mid.inode, "f")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Lookup(ctx(), kNobody, mid.inode, "missing")), ErrorCode::kPermissionDenied);
  // Reaching mid itself needs only search on / and /a.
  EXPECT_EQ(ResolvePath(ctx(), kNobody, "/a/mid")->inode, mid.inode);
  // Read without search is not enough; search alone is.
  ASSERT_TRUE(Chmod(kRoot, mid.inode, 0744).ok());
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), kNobody, "/a/mid/f")), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(ReadDir(ctx(), kNobody, mid.inode, "", 10).ok());
  ASSERT_TRUE(Chmod(kRoot, mid.inode, 0711).ok());
  EXPECT_EQ(ResolvePath(ctx(), kNobody, "/a/mid/f")->inode, f.inode);
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), kNobody, "/a/mid/missing")), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(ReadDir(ctx(), kNobody, mid.inode, "", 10)), ErrorCode::kPermissionDenied);
  // The root directory counts too.
  ASSERT_TRUE(Chmod(kRoot, kRootInode, 0700).ok());
  EXPECT_EQ(CodeOf(ResolvePath(ctx(), kNobody, "/a")), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Lookup(ctx(), kNobody, kRootInode, "a")), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(ResolvePath(ctx(), kNobody, "/").ok());  // no directory walked
}

TEST_F(PermissionTest, SetgidDirectoryPassesItsGroupOn) {
  Attr shared = MkdirAs(kRoot, kRootInode, "shared", 02777);
  ASSERT_TRUE(Chown(kRoot, shared.inode, std::nullopt, kStaff).ok());
  const Caller alice_staff{kAlice.uid, kAlice.gid, {kStaff}};
  Attr f = CreateAs(alice_staff, shared.inode, "f", 02755);
  EXPECT_EQ(f.uid, kAlice.uid);
  EXPECT_EQ(f.gid, kStaff);
  EXPECT_EQ(f.mode, 02755u);  // she is in the group: S_ISGID kept
  Attr d = MkdirAs(kBob, shared.inode, "d", 0755);
  EXPECT_EQ(d.uid, kBob.uid);
  EXPECT_EQ(d.gid, kStaff);
  EXPECT_EQ(d.mode, 02755u);  // a new directory inherits S_ISGID
  EXPECT_EQ(MkdirAs(kBob, d.inode, "deeper", 0700).gid, kStaff);
  // Bob is not in staff: his file gets the group but not S_ISGID.
  Attr g = CreateAs(kBob, shared.inode, "g", 02755);
  EXPECT_EQ(g.gid, kStaff);
  EXPECT_EQ(g.mode, 0755u);
  auto s = Symlink(ctx(), kBob, shared.inode, "s", "f");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->gid, kStaff);
  // Outside: the caller's group, no inherited bit.
  Attr pub = Pub();
  Attr h = MkdirAs(kBob, pub.inode, "h", 0755);
  EXPECT_EQ(h.gid, kBob.gid);
  EXPECT_EQ(h.mode, 0755u);
  // chmod g+s by a non-member of the file's group is silently dropped.
  EXPECT_EQ(Chmod(kBob, d.inode, 02750)->mode, 0750u);
  EXPECT_EQ(Chmod(alice_staff, f.inode, 02750)->mode, 02750u);
}

TEST_F(PermissionTest, ChownClearsSetuidAndExecutableSetgid) {
  Attr f = CreateAs(kRoot, kRootInode, "prog", 06755);
  auto owned = Chown(kRoot, f.inode, kAlice.uid, std::nullopt);
  ASSERT_TRUE(owned.ok()) << owned.status();
  EXPECT_EQ(owned->uid, kAlice.uid);
  EXPECT_EQ(owned->mode, 0755u);  // even root's chown clears them
  // S_ISGID without group-exec (mandatory-locking style) stays.
  ASSERT_TRUE(Chmod(kRoot, f.inode, 06745).ok());
  EXPECT_EQ(Chown(kRoot, f.inode, kBob.uid, std::nullopt)->mode, 02745u);
  // chgrp by the owner to a group he is in: allowed, and clears S_ISUID.
  ASSERT_TRUE(Chmod(kRoot, f.inode, 04755).ok());
  const Caller bob_staff{kBob.uid, kBob.gid, {kStaff}};
  auto grp = Chown(bob_staff, f.inode, std::nullopt, kStaff);
  ASSERT_TRUE(grp.ok()) << grp.status();
  EXPECT_EQ(grp->gid, kStaff);
  EXPECT_EQ(grp->mode, 0755u);
  // ... but not to a group he is not in, nor can a stranger chgrp.
  EXPECT_EQ(CodeOf(Chown(bob_staff, f.inode, std::nullopt, 77)), ErrorCode::kNotPermitted);
  EXPECT_EQ(CodeOf(Chown(kAlice, f.inode, std::nullopt, kAlice.gid)), ErrorCode::kNotPermitted);
  // A directory keeps its bits.
  Attr d = MkdirAs(kRoot, kRootInode, "d", 06755);
  EXPECT_EQ(Chown(kRoot, d.inode, kAlice.uid, std::nullopt)->mode, 06755u);
}

TEST_F(PermissionTest, WritingNeedsWritePermission) {
  AddServer("uuid-a", "a");
  Attr pub = Pub();
  Attr ro = CreateAs(kAlice, pub.inode, "ro", 0444);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), kAlice, ro.inode, 0)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), kBob, ro.inode, 0)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.chunks"), 0);
  EXPECT_TRUE(PrepareWrite(ctx(), kRoot, ro.inode, 0).ok());

  // Someone else's writable-by-owner file: the owner's lease is his alone.
  Attr f = CreateAs(kAlice, pub.inode, "f", 0644);
  auto plan = PrepareWrite(ctx(), kAlice, f.inode, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), kBob, f.inode, 1)), ErrorCode::kPermissionDenied);
  const std::vector<LeaseRef> leases{{plan->chunk_id, plan->lease_id}};
  EXPECT_EQ(CodeOf(RenewLeases(ctx(), kBob, f.inode, leases)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(ReleaseLeases(ctx(), kBob, f.inode, leases)), ErrorCode::kPermissionDenied);
  RecoverArgs rec{f.inode, 0, plan->chunk_id, plan->lease_id, plan->version, {}, {}};
  rec.good.push_back(plan->replicas[0].server_id);
  EXPECT_EQ(CodeOf(RecoverWrite(ctx(), kBob, rec)), ErrorCode::kPermissionDenied);
  ChunkCommitArgs c{
      0, plan->chunk_id, plan->version, 5, {plan->replicas[0].server_id}, plan->lease_id};
  EXPECT_EQ(CodeOf(CommitWrite(ctx(), kBob, f.inode, {c}, 5, std::nullopt)),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(GetAttr(ctx(), kBob, f.inode)->size, 0u);
  EXPECT_TRUE(RenewLeases(ctx(), kAlice, f.inode, leases).ok());
  auto done = CommitWrite(ctx(), kAlice, f.inode, {c}, 5, std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->size, 5u);
}

TEST_F(PermissionTest, ANonRootWriteClearsSetuid) {
  AddServer("uuid-a", "a");
  Attr pub = Pub();
  Attr f = CreateAs(kAlice, pub.inode, "prog", 06775);
  auto write = [&](const Caller& c) {
    auto plan = PrepareWrite(ctx(), c, f.inode, 0);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) return Attr();
    ChunkCommitArgs cc{
        0, plan->chunk_id, plan->version, 5, {plan->replicas[0].server_id}, plan->lease_id};
    auto a = CommitWrite(ctx(), c, f.inode, {cc}, 5, std::nullopt);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : Attr();
  };
  EXPECT_EQ(write(kRoot).mode, 06775u);  // root keeps them
  EXPECT_EQ(write(kAlice).mode, 0775u);
  EXPECT_EQ(ModeOf(f.inode), 0775u);
}

TEST_F(PermissionTest, GroupMembershipGrantsAccess) {
  AddServer("uuid-a", "a");
  Attr pub = Pub();
  Attr d = MkdirAs(kRoot, pub.inode, "team", 0770);
  ASSERT_TRUE(Chown(kRoot, d.inode, std::nullopt, kStaff).ok());
  const Caller bob_staff{kBob.uid, kBob.gid, {3, kStaff}};
  EXPECT_EQ(CodeOf(Create(ctx(), kBob, d.inode, "x", 0644, {}, {})), ErrorCode::kPermissionDenied);
  Attr f = CreateAs(bob_staff, d.inode, "x", 0660);
  EXPECT_EQ(f.gid, kBob.gid);
  ASSERT_TRUE(Chown(bob_staff, f.inode, std::nullopt, kStaff).ok());
  ASSERT_TRUE(Chmod(kBob, f.inode, 0060).ok());  // group only

  const Caller alice_staff{kAlice.uid, kAlice.gid, {kStaff}};
  EXPECT_TRUE(GetChunks(ctx(), alice_staff, f.inode, 0, 1, false)->readable);
  EXPECT_TRUE(PrepareWrite(ctx(), alice_staff, f.inode, 0).ok());
  EXPECT_TRUE(Lookup(ctx(), alice_staff, d.inode, "x").ok());
  EXPECT_FALSE(GetChunks(ctx(), kAlice, f.inode, 0, 1, false)->readable);
  EXPECT_EQ(CodeOf(PrepareWrite(ctx(), kAlice, f.inode, 1)), ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(Lookup(ctx(), kAlice, d.inode, "x")), ErrorCode::kPermissionDenied);
  // The owner class decides for the owner, even if he is in the group.
  EXPECT_FALSE(GetChunks(ctx(), bob_staff, f.inode, 0, 1, false)->readable);
}

TEST_F(PermissionTest, MovingADirectoryElsewhereNeedsWriteOnIt) {
  Attr pub = Pub();
  Attr from = MkdirAs(kAlice, pub.inode, "from", 0755);
  Attr to = MkdirAs(kAlice, pub.inode, "to", 0755);
  MkdirAs(kRoot, from.inode, "rootdir", 0755);
  CreateAs(kRoot, from.inode, "rootfile", 0644);
  // Its ".." would change: needs w on the directory itself.
  EXPECT_EQ(CodeOf(Rename(ctx(), kAlice, from.inode, "rootdir", to.inode, "rootdir", 0)),
            ErrorCode::kPermissionDenied);
  // A file, or a directory renamed in place, needs only the parents.
  EXPECT_TRUE(Rename(ctx(), kAlice, from.inode, "rootfile", to.inode, "rootfile", 0).ok());
  EXPECT_TRUE(Rename(ctx(), kAlice, from.inode, "rootdir", from.inode, "renamed", 0).ok());
  // Both parents need w: Bob may not move things out of Alice's directory.
  Attr bobs = MkdirAs(kBob, pub.inode, "bobs", 0777);
  EXPECT_EQ(CodeOf(Rename(ctx(), kBob, to.inode, "rootfile", bobs.inode, "stolen", 0)),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Rename(ctx(), kAlice, to.inode, "rootfile", pub.inode, "up", 0).ok());
}

}  // namespace
}  // namespace ddbfs::meta::testing
