// Tags of documents in the ops layer (metaserver/ops/tags.cc;
// docs/tags.md), on a real PostgreSQL.

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

Tag T(const std::string& name) { return Tag{name, std::nullopt}; }
Tag T(const std::string& name, const std::string& value) { return Tag{name, value}; }

class TagTest : public MetaTest {
 protected:
  bool give_root_to_caller() const override { return false; }

  InodeId File(const Caller& c, InodeId parent, const std::string& name, uint32_t mode) {
    auto r = Create(ctx(), c, parent, name, mode, std::nullopt, std::nullopt);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? r->inode : 0;
  }
  std::vector<Tag> Tags(InodeId id) {
    auto r = GetTags(ctx(), kRoot, id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Tag>();
  }
};

TEST_F(TagTest, NamesValuesSeveralValuesAndRemoval) {
  const InodeId f = File(kRoot, kRootInode, "a.jpg", 0644);
  auto r = SetTags(ctx(), kRoot, f, {T("photo"), T("year", "2021"), T("author", "ana")}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<Tag>{T("author", "ana"), T("photo"), T("year", "2021")}));
  // A name may carry several values, and the name alone besides; adding
  // what is there changes nothing.
  r = SetTags(ctx(), kRoot, f, {T("author", "bo"), T("author"), T("photo")}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<Tag>{T("author"), T("author", "ana"), T("author", "bo"), T("photo"),
                                  T("year", "2021")}));
  // An empty value is a value.
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {T("note", "")}, {}).ok());
  EXPECT_EQ(Tags(f).size(), 6u);
  // Removing one value leaves the others; a name alone takes all of them.
  r = SetTags(ctx(), kRoot, f, {}, {T("author", "ana")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<Tag>{T("author"), T("author", "bo"), T("note", ""), T("photo"),
                                  T("year", "2021")}));
  r = SetTags(ctx(), kRoot, f, {}, {T("author"), T("note"), T("absent")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<Tag>{T("photo"), T("year", "2021")}));
  // Remove, then add, in one call.
  r = SetTags(ctx(), kRoot, f, {T("year", "2022")}, {T("year")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<Tag>{T("photo"), T("year", "2022")}));
  // Numbers and times are kept for comparisons.
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {T("taken", "2021-06-01")}, {}).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.doc_tags WHERE value_num = 2022"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.doc_tags WHERE value_ns IS NOT NULL"), 1);
}

TEST_F(TagTest, NamesAndValuesAreCheckedAndStoredInNfc) {
  const InodeId f = File(kRoot, kRootInode, "f", 0644);
  for (const Tag& bad :
       {T(""), T("a/b"), T("a=b"), T("a b"), T("tab\tx"), T(std::string(201, 'n')), T("ok", "a/b"),
        T("ok", std::string(201, 'v')), T("ok", "line\nbreak"), T(std::string("\xff\xfe"))}) {
    EXPECT_EQ(SetTags(ctx(), kRoot, f, {bad}, {}).status().code(), ErrorCode::kInvalidArgument)
        << TagText(bad);
  }
  EXPECT_TRUE(Tags(f).empty()) << "nothing stored by a refused call";
  // "é" as e + combining acute (NFD) is stored as U+00E9 (NFC), and found
  // by either spelling.
  const std::string nfd = "caf\x65\xcc\x81";
  const std::string nfc = "caf\xc3\xa9";
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {T(nfd, nfd)}, {}).ok());
  EXPECT_EQ(Tags(f), (std::vector<Tag>{T(nfc, nfc)}));
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {T(nfc, nfc)}, {}).ok());
  EXPECT_EQ(Tags(f).size(), 1u) << "the same tag";
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {}, {T(nfd)}).ok());
  EXPECT_TRUE(Tags(f).empty());
  // Case matters.
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {T("Photo"), T("photo")}, {}).ok());
  EXPECT_EQ(Tags(f).size(), 2u);
}

TEST_F(TagTest, TaggingNeedsWritePermissionReadingNeedsRead) {
  auto pub = Mkdir(ctx(), kRoot, kRootInode, "pub", 0777);
  ASSERT_TRUE(pub.ok());
  const InodeId mine = File(kAlice, pub->inode, "mine", 0644);
  const InodeId secret = File(kAlice, pub->inode, "secret", 0600);
  EXPECT_TRUE(SetTags(ctx(), kAlice, mine, {T("x")}, {}).ok());
  EXPECT_EQ(SetTags(ctx(), kBob, mine, {T("y")}, {}).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(SetTags(ctx(), kBob, mine, {}, {T("x")}).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(GetTags(ctx(), kBob, mine).ok());
  EXPECT_EQ(GetTags(ctx(), kBob, secret).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Tags(mine), (std::vector<Tag>{T("x")}));
  EXPECT_EQ(SetTags(ctx(), kRoot, 999999, {T("x")}, {}).status().code(), ErrorCode::kNotFound);
}

TEST_F(TagTest, TagsBelongToTheInode) {
  auto d = Mkdir(ctx(), kRoot, kRootInode, "d", 0755);
  ASSERT_TRUE(d.ok());
  const InodeId f = File(kRoot, kRootInode, "f", 0644);
  ASSERT_TRUE(SetTags(ctx(), kRoot, f, {T("keep")}, {}).ok());
  ASSERT_TRUE(SetTags(ctx(), kRoot, d->inode, {T("folder")}, {}).ok()) << "directories too";
  ASSERT_TRUE(Rename(ctx(), kRoot, kRootInode, "f", d->inode, "g", 0).ok());
  ASSERT_TRUE(Link(ctx(), kRoot, f, kRootInode, "h").ok());
  auto h = Lookup(ctx(), kRoot, kRootInode, "h");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Tags(h->inode), (std::vector<Tag>{T("keep")})) << "rename and link keep them";
  ASSERT_TRUE(Unlink(ctx(), kRoot, d->inode, "g").ok());
  EXPECT_EQ(Tags(f), (std::vector<Tag>{T("keep")})) << "one name is left";
  ASSERT_TRUE(Unlink(ctx(), kRoot, kRootInode, "h").ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.doc_tags WHERE inode = " + std::to_string(f)), 0)
      << "the last unlink takes them";
}

TEST_F(TagTest, CallsAndDocumentsAreBounded) {
  const InodeId f = File(kRoot, kRootInode, "f", 0644);
  std::vector<Tag> many;
  for (size_t i = 0; i <= kMaxTagsPerCall; ++i) many.push_back(T("t" + std::to_string(i)));
  EXPECT_EQ(SetTags(ctx(), kRoot, f, many, {}).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(SetTags(ctx(), kRoot, f, {}, many).status().code(), ErrorCode::kInvalidArgument);
  many.pop_back();
  for (int round = 0; round < 3; ++round) {
    std::vector<Tag> batch;
    for (size_t i = 0; i < kMaxTagsPerCall; ++i) {
      batch.push_back(T("n", std::to_string(round) + "-" + std::to_string(i)));
    }
    ASSERT_TRUE(SetTags(ctx(), kRoot, f, batch, {}).ok()) << round;
  }
  EXPECT_EQ(Tags(f).size(), 3 * kMaxTagsPerCall);
  // The fourth batch would pass 1000: refused whole.
  EXPECT_EQ(SetTags(ctx(), kRoot, f, many, {}).status().code(), ErrorCode::kNoSpace);
  EXPECT_EQ(Tags(f).size(), 3 * kMaxTagsPerCall);
}

// Create sets tags in its own transaction: the file never exists without
// them, a refused tag creates nothing, and the creator may tag a file it
// makes read-only (no write permission check, as for open(O_CREAT, 0444)).
TEST_F(TagTest, CreateSetsTagsInTheSameTransaction) {
  auto pub = Mkdir(ctx(), kRoot, kRootInode, "pub", 0777);
  ASSERT_TRUE(pub.ok());
  auto f = Create(ctx(), kAlice, pub->inode, "ro.jpg", 0444, std::nullopt, std::nullopt, nullptr,
                  {T("photo"), T("year", "2021")});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(Tags(f->inode), (std::vector<Tag>{T("photo"), T("year", "2021")}));
  auto w = CreateForWrite(ctx(), kAlice, pub->inode, "w.jpg", 0644, std::nullopt, std::nullopt,
                          nullptr, {T("draft")});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Tags(w->attr.inode), (std::vector<Tag>{T("draft")}));
  // A bad tag: no file.
  auto bad = Create(ctx(), kAlice, pub->inode, "bad", 0644, std::nullopt, std::nullopt, nullptr,
                    {T("ok"), T("a/b")});
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Lookup(ctx(), kRoot, pub->inode, "bad").status().code(), ErrorCode::kNotFound);
  // Too many: no file.
  std::vector<Tag> many;
  for (size_t i = 0; i <= kMaxTagsPerCall; ++i) many.push_back(T("t" + std::to_string(i)));
  bad = Create(ctx(), kAlice, pub->inode, "many", 0644, std::nullopt, std::nullopt, nullptr, many);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Lookup(ctx(), kRoot, pub->inode, "many").status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ddbfs::meta::testing
