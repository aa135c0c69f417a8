// Queries over documents in the ops layer (metaserver/ops/query.cc,
// query_compile.cc; docs/query_language.md), on a real PostgreSQL.

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/query_compile.h"
#include "metaserver/store/tag_index.h"

namespace ddbfs::meta::testing {
namespace {

const Caller kRoot{0, 0, {}};
const Caller kAlice{1001, 1001, {}};
const Caller kBob{1002, 1002, {}};

Tag T(const std::string& name) { return Tag{name, std::nullopt}; }
Tag T(const std::string& name, const std::string& value) { return Tag{name, value}; }

class QueryTest : public MetaTest {
 protected:
  bool give_root_to_caller() const override { return false; }

  void SetUp() override {
    MetaTest::SetUp();
    auto docs = Mkdir(ctx(), kRoot, kRootInode, "docs", 0755);
    ASSERT_TRUE(docs.ok()) << docs.status();
    docs_ = docs->inode;
  }

  InodeId Doc(const std::string& name, const std::vector<Tag>& tags, InodeId parent = 0,
              const Caller& c = kRoot, uint32_t mode = 0644) {
    auto r = Create(ctx(), c, parent ? parent : docs_, name, mode, std::nullopt, std::nullopt,
                    nullptr, tags);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? r->inode : 0;
  }

  // Every path the query selects for `c`, sorted.
  std::vector<std::string> Q(const std::string& expr, const Caller& c = kRoot,
                             InodeId confine = kRootInode) {
    std::vector<std::string> out;
    InodeId after = 0;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = QueryDocuments(ctx(), c, expr, after, 0, confine);
      EXPECT_TRUE(page.ok()) << expr << ": " << page.status();
      if (!page.ok()) return out;
      for (const auto& e : page->entries) out.push_back(e.path);
      if (!page->more) break;
      after = page->next_after;
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  InodeId docs_ = 0;
};

using Paths = std::vector<std::string>;

TEST_F(QueryTest, TagTermsGlobsAndLogic) {
  Doc("a.jpg", {T("photo"), T("year", "2021"), T("author", "ana")});
  Doc("b.jpg", {T("photo"), T("year", "2019"), T("author", "bo"), T("draft")});
  Doc("c.txt", {T("note"), T("author", "ana"), T("author", "carl")});
  Doc("d.txt", {});
  EXPECT_EQ(Q("photo"), (Paths{"/docs/a.jpg", "/docs/b.jpg"}));
  EXPECT_EQ(Q("photo and not draft"), (Paths{"/docs/a.jpg"}));
  EXPECT_EQ(Q("photo draft"), (Paths{"/docs/b.jpg"})) << "side by side is and";
  EXPECT_EQ(Q("note or draft"), (Paths{"/docs/b.jpg", "/docs/c.txt"}));
  EXPECT_EQ(Q("not (photo or note)"), (Paths{"/", "/docs", "/docs/d.txt"})) << "directories too";
  EXPECT_EQ(Q("author"), (Paths{"/docs/a.jpg", "/docs/b.jpg", "/docs/c.txt"})) << "any value";
  EXPECT_EQ(Q("author=ana"), (Paths{"/docs/a.jpg", "/docs/c.txt"}));
  EXPECT_EQ(Q("author!=ana"), (Paths{"/docs/b.jpg", "/docs/c.txt"})) << "some other value";
  EXPECT_EQ(Q("not author=ana and author"), (Paths{"/docs/b.jpg"}));
  EXPECT_EQ(Q("author=*a*"), (Paths{"/docs/a.jpg", "/docs/c.txt"}));
  EXPECT_EQ(Q("author=?o"), (Paths{"/docs/b.jpg"}));
  EXPECT_EQ(Q("pho*"), (Paths{"/docs/a.jpg", "/docs/b.jpg"})) << "a glob name";
  EXPECT_TRUE(Q("unknown").empty()) << "an unknown tag matches nothing";
  EXPECT_TRUE(Q("\"a%\" or \"_\" or author=\"a%\"").empty()) << "LIKE characters are literal";
}

TEST_F(QueryTest, ValuesCompareByTheKindOfTheLiteral) {
  Doc("n1", {T("year", "2021"), T("taken", "2021-06-01"), T("author", "ana")});
  Doc("n2", {T("year", "2019.5"), T("taken", "2020-12-31T23:00:00Z"), T("author", "zoe")});
  Doc("n3", {T("year", "unknown"), T("taken", "soon"), T("author", "Mia")});
  EXPECT_EQ(Q("year>=2020"), (Paths{"/docs/n1"}));
  EXPECT_EQ(Q("year<2020"), (Paths{"/docs/n2"})) << "only numbers compare with a number";
  EXPECT_EQ(Q("year=2021.0"), (Paths{"/docs/n1"})) << "1.0 equals 1";
  EXPECT_EQ(Q("taken<2021-01-01"), (Paths{"/docs/n2"}));
  EXPECT_EQ(Q("taken>=2021-01-01T00:00:00Z"), (Paths{"/docs/n1"}));
  EXPECT_EQ(Q("author<m"), (Paths{"/docs/n1", "/docs/n3"})) << "text: byte order (M < a)";
  EXPECT_EQ(Q("year=unknown"), (Paths{"/docs/n3"}));
}

TEST_F(QueryTest, BuiltInAttributes) {
  const InodeId big = Doc("big.pdf", {T("x")});
  AttrChanges grow;
  grow.size = 20 << 20;
  grow.mtime_ns = 1704067200LL * 1000000000;  // 2024-01-01
  ASSERT_TRUE(SetAttr(ctx(), kRoot, big, grow).ok());
  Doc("small.pdf", {T("x")});
  auto sub = Mkdir(ctx(), kRoot, docs_, "sub", 0755);
  ASSERT_TRUE(sub.ok());
  Doc("deep.txt", {T("x")}, sub->inode);
  EXPECT_EQ(Q("@size>10M"), (Paths{"/docs/big.pdf"}));
  EXPECT_EQ(Q("x and @size<=10M"), (Paths{"/docs/small.pdf", "/docs/sub/deep.txt"}));
  EXPECT_EQ(Q("@mtime<2024-01-02 and @mtime>=2024-01-01"), (Paths{"/docs/big.pdf"}));
  EXPECT_EQ(Q("@name=*.pdf"), (Paths{"/docs/big.pdf", "/docs/small.pdf"}));
  EXPECT_EQ(Q("x and @name!=*.pdf"), (Paths{"/docs/sub/deep.txt"}));
  EXPECT_EQ(Q("@type=dir"), (Paths{"/", "/docs", "/docs/sub"}));
  EXPECT_EQ(Q("@path=/docs/sub/*"), (Paths{"/docs/sub/deep.txt"}));
  EXPECT_EQ(Q("@path=/docs/*"),
            (Paths{"/docs/big.pdf", "/docs/small.pdf", "/docs/sub", "/docs/sub/deep.txt"}));
  EXPECT_EQ(Q("@path=/docs/small.pdf"), (Paths{"/docs/small.pdf"}));
  EXPECT_EQ(Q("x and @path!=/docs/sub/*"), (Paths{"/docs/big.pdf", "/docs/small.pdf"}));
  EXPECT_TRUE(Q("@path=/nowhere/*").empty());
  EXPECT_EQ(QueryDocuments(ctx(), kRoot, "@path=/docs/../docs/*", 0, 0, kRootInode).status().code(),
            ErrorCode::kInvalidArgument)
      << "a path that is not normalized is an error, not an empty answer";
}

TEST_F(QueryTest, ImpliedTagsMatchAsIfPresent) {
  Doc("song.mp3", {T("mp3")});
  Doc("tune.ogg", {T("ogg")});
  // mp3 -> music -> audio, ogg -> audio.
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "mp3", "music").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "music", "audio").ok());
  ASSERT_TRUE(TagAdmin(ctx(), true, TagAdminOp::kImply, "ogg", "audio").ok());
  // Answered by SQL while the index loads the rules again, then by it.
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "right after the change" : "from the index");
    if (pass == 1) {
      ASSERT_TRUE(ctx().tag_index->WaitReady(std::chrono::seconds(20)));
    }
    EXPECT_EQ(Q("music"), (Paths{"/docs/song.mp3"}));
    EXPECT_EQ(Q("audio"), (Paths{"/docs/song.mp3", "/docs/tune.ogg"})) << "transitive";
    EXPECT_TRUE(Q("music=x").empty()) << "an implied tag has no value";
  }
}

TEST_F(QueryTest, OnlyDocumentsTheCallerCouldReachByPath) {
  auto home = Mkdir(ctx(), kRoot, kRootInode, "home", 0777);
  ASSERT_TRUE(home.ok());
  auto priv = Mkdir(ctx(), kAlice, home->inode, "alice", 0700);
  ASSERT_TRUE(priv.ok());
  Doc("diary", {T("secret")}, priv->inode, kAlice, 0644);
  Doc("open", {T("secret")}, home->inode, kAlice, 0600);
  EXPECT_EQ(Q("secret", kAlice), (Paths{"/home/alice/diary", "/home/open"}));
  EXPECT_EQ(Q("secret", kBob), (Paths{"/home/open"}))
      << "a file bob cannot read is still found (as ls shows it); one behind a closed "
         "directory is not";
  EXPECT_EQ(Q("secret", kRoot), (Paths{"/home/alice/diary", "/home/open"}));
  // A key confined to /home/alice sees what lies below it.
  EXPECT_EQ(Q("secret", kAlice, priv->inode), (Paths{"/home/alice/diary"}));
}

TEST_F(QueryTest, PagesContinueAfterTheLastInode) {
  for (int i = 0; i < 25; ++i) Doc("f" + std::to_string(i), {T("many")});
  std::set<std::string> seen;
  InodeId after = 0;
  int pages = 0;
  for (;; ++pages) {
    auto page = QueryDocuments(ctx(), kRoot, "many", after, 10, kRootInode);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->entries.size(), 10u);
    for (const auto& e : page->entries) EXPECT_TRUE(seen.insert(e.path).second) << e.path;
    if (!page->more) break;
    ASSERT_GT(page->next_after, after);
    after = page->next_after;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_GE(pages, 2);
  EXPECT_EQ(QueryDocuments(ctx(), kRoot, "photo and (", 0, 0, kRootInode).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(QueryDocuments(ctx(), kRoot, "@type=blob", 0, 0, kRootInode).status().code(),
            ErrorCode::kInvalidArgument);
}

// No user text reaches the SQL: names, values and patterns are parameters.
TEST_F(QueryTest, UserTextIsBoundNeverPastedIntoSql) {
  const std::string evil = "x'); DROP TABLE ddbfs.tags; --";
  Doc("e", {T("\"quoted\"", evil)});
  auto tree = query::Parse("\"\\\"quoted\\\"\"=\"" + evil + "\" or \"" + evil.substr(0, 3) +
                           "\" or @name=\"" + evil + "\"");
  ASSERT_TRUE(tree.ok()) << tree.status();
  auto q = CompileQuery(**tree, [](const std::string&) -> Result<std::optional<InodeId>> {
    return std::optional<InodeId>();
  });
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->where.find("DROP"), std::string::npos) << q->where;
  EXPECT_EQ(q->where.find("quoted"), std::string::npos) << q->where;
  EXPECT_EQ(Q("\"\\\"quoted\\\"\"=\"" + evil + "\""), (Paths{"/docs/e"}));
  EXPECT_GE(QueryInt("SELECT count(*) FROM ddbfs.tags"), 1);
}

// Randomized: token soups that parse compile to SQL that PostgreSQL runs
// (the answer is a page or, for an attribute the compiler refuses,
// INVALID_ARGUMENT; never a database error).
TEST_F(QueryTest, GeneratedQueriesAlwaysRun) {
  Doc("a", {T("photo"), T("year", "2021"), T("é", "日")});
  static const std::vector<std::string> kTokens = {
      "photo", "year",  "é",     "and",     "or",    "not",        "(",     ")",
      "=",     "!=",    "<",     ">=",      "2021",  "-3.5",       "1e6",   "2021-06-01",
      "*",     "?",     "a*b",   "\"x y\"", "\"'\"", "\"%_\\\\\"", "@size", "@mtime",
      "@name", "@path", "@type", "/docs/*", "/a",    "file",       "dir",   "10M",
      "'",     ";",     "$1",    "日"};
  std::mt19937_64 rng(20261126);
  int ran = 0;
  for (int i = 0; i < 3000 && ran < 300; ++i) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < n; ++k) text += kTokens[rng() % kTokens.size()] + " ";
    if (!query::Parse(text).ok()) continue;
    ++ran;
    auto page = QueryDocuments(ctx(), kRoot, text, 0, 0, kRootInode);
    ASSERT_TRUE(page.ok() || page.status().code() == ErrorCode::kInvalidArgument)
        << text << ": " << page.status();
  }
  EXPECT_GE(ran, 100) << "too few generated queries parsed";
}

// Saved queries: checked names and expressions, seen by everyone, replaced
// or removed by their owner or root only.
TEST_F(QueryTest, SavedQueriesBelongToWhoSavedThem) {
  EXPECT_TRUE(SaveQuery(ctx(), kAlice, "photos 2021", "photo and year=2021").ok());
  EXPECT_TRUE(SaveQuery(ctx(), kBob, "drafts", "draft").ok());
  for (const std::string& bad :
       std::vector<std::string>{"", "a/b", ".", "..", "tab\there", std::string(256, 'n')}) {
    EXPECT_EQ(SaveQuery(ctx(), kAlice, bad, "x").code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(SaveQuery(ctx(), kAlice, "broken", "photo and (").code(), ErrorCode::kInvalidArgument);
  auto list = ListQueries(ctx(), kBob);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "drafts");
  EXPECT_EQ((*list)[1].name, "photos 2021");
  EXPECT_EQ((*list)[1].expr, "photo and year=2021");
  EXPECT_EQ((*list)[1].owner_uid, kAlice.uid);
  // Another user may neither replace nor remove it; its owner and root may.
  EXPECT_EQ(SaveQuery(ctx(), kBob, "photos 2021", "x").code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(DeleteQuery(ctx(), kBob, "photos 2021").code(), ErrorCode::kNotPermitted);
  EXPECT_TRUE(SaveQuery(ctx(), kAlice, "photos 2021", "photo").ok());
  EXPECT_EQ(ListQueries(ctx(), kRoot)->at(1).expr, "photo");
  EXPECT_TRUE(DeleteQuery(ctx(), kRoot, "drafts").ok());
  EXPECT_EQ(DeleteQuery(ctx(), kRoot, "drafts").code(), ErrorCode::kNotFound);
  EXPECT_TRUE(DeleteQuery(ctx(), kAlice, "photos 2021").ok());
  EXPECT_TRUE(ListQueries(ctx(), kRoot)->empty());
}

}  // namespace
}  // namespace ddbfs::meta::testing
