// Tags of documents in the ops layer (metaserver/ops/tags.cc;
// docs/tags.md), on a real PostgreSQL.

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/store/bulk_writer.h"
#include "metaserver/store/tag_index.h"

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
  // Several tags at once (one statement): new and known names, a name with
  // two values and alone, numbers with every digit, times, text, quotes and
  // a repeat; each compares as its kind.
  auto m =
      Create(ctx(), kAlice, pub->inode, "m.txt", 0644, std::nullopt, std::nullopt, nullptr,
             {T("photo"), T("ratio", "0.1234567891"), T("when", "2021-03-04"), T("author", "ana"),
              T("author", "bo"), T("author"), T("q\"uote", "a,b{c}"), T("photo")});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(Tags(m->inode),
            (std::vector<Tag>{T("author"), T("author", "ana"), T("author", "bo"), T("photo"),
                              T("q\"uote", "a,b{c}"), T("ratio", "0.1234567891"),
                              T("when", "2021-03-04")}));
  // (the expected list is from before SetTags below)
  // ... and by TagMany, with every digit too.
  ASSERT_TRUE(TagMany(ctx(), kAlice, {m->inode}, {T("exact", "2.000000001")}, {}).ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.doc_tags WHERE value_num IN "
                     "(2.000000001, 0.1234567891)"),
            2);  // as SQL compares them (without the index)
  for (const char* q :
       {"ratio=0.1234567891", "ratio<0.1234568 and ratio>0.12345678",
        "exact>2.0000000005 and exact=2.000000001", "when>=2021-03-04 and when<2021-03-05",
        "author=bo and photo", "\"q\\\"uote\"=\"a,b{c}\""}) {
    auto r = QueryDocuments(ctx(), kAlice, q, 0, 10, kRootInode);
    ASSERT_TRUE(r.ok()) << q << ": " << r.status();
    ASSERT_EQ(r->entries.size(), 1u) << q;
    EXPECT_EQ(r->entries[0].attr.inode, m->inode) << q;
  }
}

}  // namespace

// Counts of a ListTags page as "name:documents:bytes" (or "=value:...").
std::vector<std::string> Counts(const Result<TagList>& r) {
  std::vector<std::string> out;
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return out;
  for (const TagCount& c : r->tags) {
    out.push_back((c.value ? "=" + *c.value : c.name) + ":" + std::to_string(c.documents) + ":" +
                  std::to_string(c.bytes));
  }
  return out;
}

class TagCountTest : public TagTest {
 protected:
  InodeId SizedFile(InodeId parent, const std::string& name, uint64_t size,
                    const std::vector<Tag>& tags, const Caller& owner = kRoot) {
    const InodeId f = File(owner, parent, name, 0644);
    AttrChanges grow;
    grow.size = size;
    EXPECT_TRUE(SetAttr(ctx(), owner, f, grow).ok());
    EXPECT_TRUE(SetTags(ctx(), owner, f, tags, {}).ok());
    return f;
  }
  Result<TagList> List(const Caller& c, std::optional<std::string> within = std::nullopt,
                       std::optional<std::string> name = std::nullopt, int offset = 0,
                       int limit = 0) {
    return ListTags(ctx(), c, kRootInode, within, name, offset, limit);
  }
};

TEST_F(TagCountTest, EveryTagWithItsDocumentsAndBytes) {
  SizedFile(kRootInode, "a", 100,
            {T("photo"), T("year", "2021"), T("author", "ana"), T("author", "bo")});
  SizedFile(kRootInode, "b", 10, {T("photo"), T("year", "2020"), T("draft")});
  SizedFile(kRootInode, "c", 1, {T("year", "9"), T("year", "2021-06-01"), T("year", "old")});
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kCreate, "unused", "").ok());
  // A document with two values of a name counts once for the name; a name
  // nothing carries shows with zero.
  EXPECT_EQ(Counts(List(kRoot)),
            (std::vector<std::string>{"author:1:100", "draft:1:10", "photo:2:110", "unused:0:0",
                                      "year:3:111"}));
  // Within a selection: only the names that co-occur, counted there.
  EXPECT_EQ(Counts(List(kRoot, "photo and not draft")),
            (std::vector<std::string>{"author:1:100", "photo:1:100", "year:1:100"}));
  // Values: numbers in order, then times, then text.
  EXPECT_EQ(Counts(List(kRoot, std::nullopt, "year")),
            (std::vector<std::string>{"=9:1:1", "=2020:1:10", "=2021:1:100", "=2021-06-01:1:1",
                                      "=old:1:1"}));
  EXPECT_EQ(Counts(List(kRoot, "photo", "year")),
            (std::vector<std::string>{"=2020:1:10", "=2021:1:100"}));
  // Pages: offset and limit, `more` while some follow.
  auto page = List(kRoot, std::nullopt, std::nullopt, 1, 2);
  EXPECT_EQ(Counts(page), (std::vector<std::string>{"draft:1:10", "photo:2:110"}));
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->more);
  page = List(kRoot, std::nullopt, std::nullopt, 3, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->more);
  // An implied tag counts as if present.
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "photo", "image").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "image", "media").ok());
  EXPECT_EQ(Counts(List(kRoot, "year=2020")),
            (std::vector<std::string>{"draft:1:10", "image:1:10", "media:1:10", "photo:1:10",
                                      "year:1:10"}));
  // A document whose last name went does not count.
  ASSERT_TRUE(Unlink(ctx(), kRoot, kRootInode, "b").ok());
  EXPECT_EQ(Counts(List(kRoot, "photo")),
            (std::vector<std::string>{"author:1:100", "image:1:100", "media:1:100", "photo:1:100",
                                      "year:1:100"}));
  // Bad input: a syntax error, a bad name, a negative offset.
  EXPECT_EQ(List(kRoot, "photo and (").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(List(kRoot, std::nullopt, "a/b").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(List(kRoot, std::nullopt, std::nullopt, -1).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(TagCountTest, CountsOnlyWhatTheCallerCanReach) {
  auto home = Mkdir(ctx(), kRoot, kRootInode, "home", 0777);
  ASSERT_TRUE(home.ok());
  auto priv = Mkdir(ctx(), kAlice, home->inode, "alice", 0700);
  ASSERT_TRUE(priv.ok()) << priv.status();
  SizedFile(priv->inode, "secret", 5, {T("photo"), T("private")}, kAlice);
  SizedFile(home->inode, "open", 7, {T("photo")}, kAlice);
  // A directory without search permission hides what is below it; the
  // directory itself stays visible.
  ASSERT_TRUE(SetTags(ctx(), kAlice, priv->inode, {T("folder")}, {}).ok());
  EXPECT_EQ(Counts(List(kBob)),
            (std::vector<std::string>{"folder:1:0", "photo:1:7", "private:0:0"}));
  EXPECT_EQ(Counts(List(kAlice)),
            (std::vector<std::string>{"folder:1:0", "photo:2:12", "private:1:5"}));
  EXPECT_EQ(Counts(List(kRoot)),
            (std::vector<std::string>{"folder:1:0", "photo:2:12", "private:1:5"}));
  EXPECT_EQ(Counts(List(kBob, std::nullopt, std::nullopt)).size(), 3u);
  // Confined to a subtree: only what is below it.
  EXPECT_EQ(Counts(ListTags(ctx(), kRoot, priv->inode, std::nullopt, std::nullopt, 0, 0)),
            (std::vector<std::string>{"folder:1:0", "photo:1:5", "private:1:5"}));
}

TEST_F(TagTest, TagManyIsAllOrNothing) {
  auto dir = Mkdir(ctx(), kRoot, kRootInode, "d", 0777);
  ASSERT_TRUE(dir.ok());
  const InodeId a = File(kAlice, dir->inode, "a", 0644);
  const InodeId b = File(kAlice, dir->inode, "b", 0644);
  const InodeId theirs = File(kBob, dir->inode, "bobs", 0644);
  // One document alice may not write: nothing changes on any.
  EXPECT_EQ(TagMany(ctx(), kAlice, {a, b, theirs}, {T("x")}, {}).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Tags(a).empty());
  EXPECT_EQ(TagMany(ctx(), kAlice, {a, 999999}, {T("x")}, {}).status().code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(Tags(a).empty());
  auto r = TagMany(ctx(), kAlice, {a, b, a}, {T("x"), T("year", "2021")}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 2);
  EXPECT_EQ(Tags(b), (std::vector<Tag>{T("x"), T("year", "2021")}));
  // Nothing new: nothing changed. Remove then add, as SetTags.
  EXPECT_EQ(*TagMany(ctx(), kAlice, {a, b}, {T("x")}, {}), 0);
  r = TagMany(ctx(), kAlice, {a}, {T("year", "2022")}, {T("year")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Tags(a), (std::vector<Tag>{T("x"), T("year", "2022")}));
  EXPECT_EQ(*TagMany(ctx(), kAlice, {a, b}, {}, {T("x")}), 2);
  EXPECT_EQ(Tags(b), (std::vector<Tag>{T("year", "2021")}));
  // Bounds: at most kMaxTagManyInodes documents per call; the tag names are checked.
  std::vector<InodeId> many(kMaxTagManyInodes + 1, a);
  EXPECT_EQ(TagMany(ctx(), kAlice, many, {T("y")}, {}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(TagMany(ctx(), kAlice, {a}, {T("bad/name")}, {}).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(TagTest, RenameMergeDeleteAndImplyNeedAnAdminAndDoWhatTheySay) {
  const InodeId a = File(kRoot, kRootInode, "a", 0644);
  const InodeId b = File(kRoot, kRootInode, "b", 0644);
  ASSERT_TRUE(SetTags(ctx(), kRoot, a, {T("pic"), T("year", "2021")}, {}).ok());
  ASSERT_TRUE(SetTags(ctx(), kRoot, b, {T("photo"), T("pic", "raw")}, {}).ok());
  auto query = [&](const std::string& expr) {
    std::vector<InodeId> out;
    auto page = QueryDocuments(ctx(), kRoot, expr, 0, 0, kRootInode);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const QueryEntry& e : page->entries) out.push_back(e.attr.inode);
    }
    return out;
  };
  // Not an admin: refused, nothing changes.
  for (TagAdminOp op :
       {TagAdminOp::kRename, TagAdminOp::kMerge, TagAdminOp::kDelete, TagAdminOp::kImply}) {
    EXPECT_EQ(TagAdmin(ctx(), false, op, "pic", "image").status().code(), ErrorCode::kNotPermitted);
  }
  EXPECT_EQ(Tags(a), (std::vector<Tag>{T("pic"), T("year", "2021")}));
  // Rename keeps the values; onto a name in use it is refused (merge).
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kRename, "pic", "image").ok());
  EXPECT_EQ(Tags(b), (std::vector<Tag>{T("image", "raw"), T("photo")}));
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kRename, "image", "photo").status().code(),
            ErrorCode::kExists);
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kRename, "absent", "x").status().code(),
            ErrorCode::kNotFound);
  // Merge: the documents of one get the other, with their values.
  auto merged = TagAdmin(ctx(), true, TagAdminOp::kMerge, "image", "photo");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*merged, 2);
  EXPECT_EQ(Tags(a), (std::vector<Tag>{T("photo"), T("year", "2021")}));
  EXPECT_EQ(Tags(b), (std::vector<Tag>{T("photo"), T("photo", "raw")}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.tags WHERE name = 'image'"), 0);
  // Implications: transitive, applied at query time, cycles refused.
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "photo", "image").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "image", "media").ok());
  EXPECT_EQ(query("media"), (std::vector<InodeId>{a, b}));
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kImply, "media", "photo").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kImply, "photo", "photo").status().code(),
            ErrorCode::kInvalidArgument);
  auto rules = ListImplications(ctx());
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->size(), 2u);
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kUnimply, "image", "media").ok());
  EXPECT_TRUE(query("media").empty());
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kUnimply, "image", "media").status().code(),
            ErrorCode::kNotFound);
  // Merging into a name that would close a cycle of rules is refused whole.
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "media", "year").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "image", "media").ok());
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kMerge, "year", "photo").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Tags(a), (std::vector<Tag>{T("photo"), T("year", "2021")}));
  // Delete: off every document. An unused name anyone may delete; a used
  // one only an admin.
  ASSERT_TRUE(TagAdmin(ctx(), false, TagAdminOp::kCreate, "empty", "").ok());
  EXPECT_EQ(TagAdmin(ctx(), false, TagAdminOp::kCreate, "empty", "").status().code(),
            ErrorCode::kExists);
  EXPECT_TRUE(TagAdmin(ctx(), false, TagAdminOp::kDelete, "empty", "").ok());
  EXPECT_EQ(TagAdmin(ctx(), false, TagAdminOp::kDelete, "photo", "").status().code(),
            ErrorCode::kNotPermitted);
  auto deleted = TagAdmin(ctx(), true, TagAdminOp::kDelete, "photo", "");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(Tags(b), std::vector<Tag>());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.tag_implies t JOIN ddbfs.tags n"
                     " ON n.id = t.tag_id WHERE n.name = 'photo'"),
            0);
  // Bad names are refused before anything is looked at.
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kRename, "year", "a b").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(TagAdmin(ctx(), true, TagAdminOp::kCreate, "", "").status().code(),
            ErrorCode::kInvalidArgument);
}

// The in-memory index (store/tag_index.h) answers what SQL answers: after
// random changes of every kind, root's counts (from the index) equal those
// of a user who can reach everything (from SQL), and queries give the same
// documents with and without it.
class TagIndexTest : public TagCountTest {
 protected:
  void WaitIndex() {
    ASSERT_NE(ctx().tag_index, nullptr);
    ASSERT_TRUE(ctx().tag_index->WaitReady(std::chrono::seconds(20)));
  }
  std::vector<InodeId> Select(const std::string& expr) {
    std::vector<InodeId> out;
    for (InodeId after = 0;;) {
      auto page = QueryDocuments(ctx(), kRoot, expr, after, 7, kRootInode);
      EXPECT_TRUE(page.ok()) << expr << ": " << page.status();
      if (!page.ok()) break;
      for (const QueryEntry& e : page->entries) out.push_back(e.attr.inode);
      if (!page->more) break;
      after = page->next_after;
    }
    return out;
  }
  void ExpectAgreement(const std::string& when) {
    SCOPED_TRACE(when);
    for (const char* within : {"", "a", "a and not b", "b or c=2", "c>=2 and not a", "t*"}) {
      std::optional<std::string> w;
      if (*within) w = within;
      EXPECT_EQ(Counts(List(kRoot, w)), Counts(List(kAlice, w))) << within;
      EXPECT_EQ(Counts(List(kRoot, w, "c")), Counts(List(kAlice, w, "c"))) << within;
    }
    store::TagIndex* index = ctx().tag_index;
    for (const char* q : {"a", "a and b", "a and not b", "c=2", "c>1 and a", "b or c", "t? or a",
                          "not a", "@type=file and b", "c!=2"}) {
      const std::vector<InodeId> with = Select(q);
      ctx().tag_index = nullptr;
      const std::vector<InodeId> without = Select(q);
      ctx().tag_index = index;
      EXPECT_EQ(with, without) << q;
    }
  }
};

TEST_F(TagIndexTest, AgreesWithSqlAfterRandomChanges) {
  WaitIndex();
  auto dir = Mkdir(ctx(), kRoot, kRootInode, "d", 0777);
  ASSERT_TRUE(dir.ok());
  std::mt19937 rng(42);
  std::vector<InodeId> docs;
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back("f" + std::to_string(i));
    docs.push_back(SizedFile(dir->inode, names.back(), rng() % 1000, {}));
  }
  const std::vector<Tag> pool = {T("a"),      T("b"), T("c", "1"), T("c", "2"), T("c", "3"),
                                 T("c", "x"), T("c"), T("t1"),     T("t2")};
  auto some = [&](size_t n) {
    std::vector<Tag> out;
    for (size_t k = 0; k < n; ++k) out.push_back(pool[rng() % pool.size()]);
    return out;
  };
  for (int round = 0; round < 6; ++round) {
    for (int step = 0; step < 30; ++step) {
      const size_t i = rng() % docs.size();
      switch (rng() % 6) {
        case 0:
        case 1:
          ASSERT_TRUE(SetTags(ctx(), kRoot, docs[i], some(3), some(1)).ok());
          break;
        case 2: {
          std::vector<InodeId> many;
          for (int k = 0; k < 8; ++k) many.push_back(docs[rng() % docs.size()]);
          ASSERT_TRUE(TagMany(ctx(), kRoot, many, some(2), some(1)).ok());
          break;
        }
        case 3: {
          AttrChanges grow;
          grow.size = rng() % 5000;
          ASSERT_TRUE(SetAttr(ctx(), kRoot, docs[i], grow).ok());
          break;
        }
        case 4: {  // the document goes, a new one comes
          ASSERT_TRUE(Unlink(ctx(), kRoot, dir->inode, names[i]).ok());
          names[i] += "n";
          docs[i] = SizedFile(dir->inode, names[i], rng() % 100, some(2));
          break;
        }
        case 5: {
          auto c = Create(ctx(), kRoot, dir->inode, names[i] + "x", 0644, std::nullopt,
                          std::nullopt, nullptr, some(2));
          ASSERT_TRUE(c.ok()) << c.status();
          names[i] += "x";
          ASSERT_TRUE(
              Unlink(ctx(), kRoot, dir->inode, names[i].substr(0, names[i].size() - 1)).ok());
          docs[i] = c->inode;
          break;
        }
      }
    }
    ExpectAgreement("round " + std::to_string(round));
  }
  // Changes it does not follow row by row: it loads again, then agrees.
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "t1", "a").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kMerge, "t2", "b").ok());
  WaitIndex();
  ExpectAgreement("after imply and merge");
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kRename, "b", "bb").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kDelete, "c", "").ok());
  WaitIndex();
  ExpectAgreement("after rename and delete");
}

TEST_F(TagIndexTest, ARenameIsFollowedWithoutLoadingAgain) {
  WaitIndex();
  SizedFile(kRootInode, "a", 5, {T("old"), T("keep")});
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kCreate, "spare", "").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kRename, "old", "new").ok());
  EXPECT_TRUE(ctx().tag_index->ready()) << "a rename is applied in place";
  EXPECT_EQ(Counts(List(kRoot)), (std::vector<std::string>{"keep:1:5", "new:1:5", "spare:0:0"}));
  EXPECT_EQ(Counts(List(kRoot, "new")), (std::vector<std::string>{"keep:1:5", "new:1:5"}));
  ExpectAgreement("after the rename");
  // Names only: every name, no counts, from SQL.
  auto names = ListTagNames(ctx(), 0, 0);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(Counts(names), (std::vector<std::string>{"keep:0:0", "new:0:0", "spare:0:0"}));
  auto page = ListTagNames(ctx(), 1, 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Counts(page), (std::vector<std::string>{"new:0:0"}));
  EXPECT_TRUE(page->more);
}

// Bulk changes (store/bulk_writer.h) with a threshold of 4 documents, so
// that a handful of documents takes the bulk path.
class BulkTagTest : public TagTest {
 protected:
  size_t bulk_threshold() const override { return 4; }

  std::vector<InodeId> Files(const Caller& c, InodeId parent, int n) {
    std::vector<InodeId> out;
    for (int i = 0; i < n; ++i) out.push_back(File(c, parent, "f" + std::to_string(i), 0644));
    return out;
  }
  int64_t Tagged(const std::string& name) {
    return QueryInt(
        "SELECT count(*) FROM ddbfs.doc_tags d JOIN ddbfs.tags t ON t.id = d.tag_id"
        " WHERE t.name = '" +
        name + "'");
  }
};

TEST_F(BulkTagTest, ABulkTagIsOneTransactionAllOrNothing) {
  auto dir = Mkdir(ctx(), kRoot, kRootInode, "d", 0777);
  ASSERT_TRUE(dir.ok());
  std::vector<InodeId> docs = Files(kAlice, dir->inode, 40);
  const InodeId theirs = File(kBob, dir->inode, "bobs", 0644);
  const uint64_t before = ctx().bulk->committed();

  // One document alice may not write, or one that does not exist: nothing
  // changes on any of the 40.
  std::vector<InodeId> with_theirs = docs;
  with_theirs.insert(with_theirs.begin() + 20, theirs);
  EXPECT_EQ(TagMany(ctx(), kAlice, with_theirs, {T("x")}, {}).status().code(),
            ErrorCode::kPermissionDenied);
  std::vector<InodeId> with_missing = docs;
  with_missing.push_back(999999);
  EXPECT_EQ(TagMany(ctx(), kAlice, with_missing, {T("x")}, {}).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(Tagged("x"), 0);
  EXPECT_EQ(ctx().bulk->committed(), before);

  auto r = TagMany(ctx(), kAlice, docs, {T("x"), T("year", "2021")}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 40);
  EXPECT_EQ(ctx().bulk->committed(), before + 1);  // the bulk path, once
  EXPECT_EQ(Tagged("x"), 40);
  EXPECT_EQ(Tags(docs[7]), (std::vector<Tag>{T("x"), T("year", "2021")}));
  // The index of tags follows it.
  auto q = QueryDocuments(ctx(), kAlice, "x and year=2021", 0, 1000, kRootInode);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->entries.size(), 40u);

  r = TagMany(ctx(), kAlice, docs, {}, {T("x")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 40);
  EXPECT_EQ(Tagged("x"), 0);
  // Bounds: at most kMaxTagManyInodes per call.
  std::vector<InodeId> too_many(kMaxTagManyInodes + 1, docs[0]);
  EXPECT_EQ(TagMany(ctx(), kAlice, too_many, {T("y")}, {}).status().code(),
            ErrorCode::kInvalidArgument);
}

// While a bulk tag waits for a lock (held here by another PostgreSQL
// session on one of its documents), the writer goes on: other creates and
// tag changes commit at once, nothing of the bulk change is visible, and a
// change to one of its documents waits for it (deferred, outside the
// writer) and then applies on top of it.
TEST_F(BulkTagTest, ARunningBulkTagHoldsUpOnlyChangesToItsOwnDocuments) {
  auto dir = Mkdir(ctx(), kRoot, kRootInode, "d", 0777);
  ASSERT_TRUE(dir.ok());
  std::vector<InodeId> docs = Files(kAlice, dir->inode, 30);
  const InodeId other = File(kAlice, dir->inode, "other", 0644);

  pqxx::connection blocker(db_url());
  pqxx::work lock_tx(blocker);
  lock_tx.exec_params("SELECT id FROM ddbfs.inodes WHERE id = $1 FOR UPDATE", docs[29]);

  std::thread bulk([&] {
    auto r = TagMany(ctx(), kAlice, docs, {T("bulk")}, {});
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      EXPECT_EQ(*r, 30);
    }
  });
  while (!ctx().bulk->guard().held()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // it waits for the lock

  // Other work is not held up.
  const auto start = std::chrono::steady_clock::now();
  auto mk = Mkdir(ctx(), kAlice, dir->inode, "sub", 0755);
  EXPECT_TRUE(mk.ok()) << mk.status();
  EXPECT_TRUE(TagMany(ctx(), kAlice, {other}, {T("unrelated")}, {}).ok());
  EXPECT_TRUE(SetTags(ctx(), kAlice, other, {T("also")}, {}).ok());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  // Nothing of the bulk change shows yet.
  EXPECT_EQ(Tagged("bulk"), 0);
  EXPECT_TRUE(Tags(docs[3]).empty());

  // Changes to its documents wait for it, outside the writer: a tag change,
  // and an unlink (whose row lock would otherwise stop the writer itself).
  std::atomic<int> done{0};
  std::thread conflicting([&] {
    auto r = SetTags(ctx(), kAlice, docs[3], {T("later")}, {});
    EXPECT_TRUE(r.ok()) << r.status();
    ++done;
  });
  std::thread unlinking([&] {
    Status s = Unlink(ctx(), kAlice, dir->inode, "f4");
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(done.load(), 0);
  const auto again = std::chrono::steady_clock::now();
  EXPECT_TRUE(Mkdir(ctx(), kAlice, dir->inode, "sub2", 0755).ok());  // still going
  EXPECT_TRUE(SetTags(ctx(), kAlice, other, {T("third")}, {}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(1000));

  lock_tx.commit();  // the bulk change gets its lock and commits
  bulk.join();
  conflicting.join();
  unlinking.join();
  EXPECT_EQ(done.load(), 2);
  EXPECT_EQ(Tagged("bulk"), 29);  // f4 went after it, with its tags
  EXPECT_EQ(Tags(docs[3]), (std::vector<Tag>{T("bulk"), T("later")}));
  EXPECT_EQ(Tags(other), (std::vector<Tag>{T("also"), T("third"), T("unrelated")}));
}

}  // namespace ddbfs::meta::testing
