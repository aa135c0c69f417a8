// The query language parser (docs/query_language.md): precedence, quoting,
// value kinds, attributes, errors with their column, the limits a hostile
// query runs into, and a randomized test over generated and mutated
// expressions (never a crash or a hang; whatever parses prints back to the
// same tree).

#include "ddbfs/query.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ddbfs::query {
namespace {

std::unique_ptr<Node> MustParse(const std::string& text) {
  auto r = Parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::string Canon(const std::string& text) {
  auto n = MustParse(text);
  return n ? ToString(*n) : "<error>";
}

std::string ErrorOf(const std::string& text) {
  auto r = Parse(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? ToString(**r) : "");
  return r.ok() ? "" : r.status().message();
}

bool Same(const Node& a, const Node& b) {
  if (a.kind != b.kind || a.children.size() != b.children.size()) return false;
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!Same(*a.children[i], *b.children[i])) return false;
  }
  if (a.kind == Node::Kind::kTag) {
    if (a.name != b.name || a.name_glob != b.name_glob || a.has_value != b.has_value) return false;
    if (!a.has_value) return true;
  }
  if (a.kind == Node::Kind::kTag || a.kind == Node::Kind::kAttr) {
    return a.op == b.op && a.attr == b.attr && a.value.text == b.value.text &&
           a.value.glob == b.value.glob && a.value.kind == b.value.kind &&
           a.value.number == b.value.number && a.value.time_ns == b.value.time_ns;
  }
  return true;
}

TEST(QueryTest, PrecedenceNotThenAndThenOr) {
  EXPECT_EQ(Canon("a or b and c"), "a or b and c");
  auto n = MustParse("a or b and c");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->kind, Node::Kind::kOr);
  ASSERT_EQ(n->children.size(), 2u);
  EXPECT_EQ(n->children[1]->kind, Node::Kind::kAnd);
  auto m = MustParse("not a and b");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->kind, Node::Kind::kAnd);
  EXPECT_EQ(m->children[0]->kind, Node::Kind::kNot);
  EXPECT_EQ(Canon("(a or b) and c"), "(a or b) and c");
  EXPECT_EQ(Canon("not (a or b)"), "not (a or b)");
  EXPECT_EQ(Canon("NOT a AND b Or c"), "not a and b or c");
  EXPECT_EQ(Canon("not not a"), "not not a");
}

TEST(QueryTest, TermsSideBySideAreJoinedByAnd) {
  EXPECT_EQ(Canon("photo year=2021 not draft"), "photo and year=2021 and not draft");
  EXPECT_EQ(Canon("photo (a or b)"), "photo and (a or b)");
  auto n = MustParse("a b c");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->kind, Node::Kind::kAnd);
  EXPECT_EQ(n->children.size(), 3u);
}

TEST(QueryTest, TheIssueExampleParses) {
  auto n = MustParse("photo and (year>=2020 or favourite) and not draft");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->kind, Node::Kind::kAnd);
  ASSERT_EQ(n->children.size(), 3u);
  const Node& year = *n->children[1]->children[0];
  EXPECT_EQ(year.name, "year");
  EXPECT_TRUE(year.has_value);
  EXPECT_EQ(year.op, Op::kGe);
  EXPECT_EQ(year.value.kind, ValueKind::kNumber);
  EXPECT_EQ(year.value.number, 2020);
  EXPECT_EQ(n->children[1]->children[1]->name, "favourite");
  EXPECT_FALSE(n->children[1]->children[1]->has_value);
  EXPECT_EQ(n->children[2]->kind, Node::Kind::kNot);
}

TEST(QueryTest, QuotesMakeKeywordsAndOperatorCharactersNames) {
  auto n = MustParse("\"and\" or \"c++\" or \"(x)\" or \"x<y\"");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->children.size(), 4u);
  EXPECT_EQ(n->children[0]->name, "and");
  EXPECT_EQ(n->children[1]->name, "c++");
  EXPECT_EQ(n->children[3]->name, "x<y");
  // Printed back quoted where needed.
  EXPECT_EQ(n->children[2]->name, "(x)");
  EXPECT_EQ(ToString(*n), "\"and\" or c++ or \"(x)\" or \"x<y\"");
  // A quoted * is a character, not a glob.
  auto g = MustParse("\"a*\" or a*");
  ASSERT_NE(g, nullptr);
  EXPECT_FALSE(g->children[0]->name_glob);
  EXPECT_TRUE(g->children[1]->name_glob);
  EXPECT_EQ(ToString(*g), "\"a*\" or a*");
  auto e = MustParse(R"(title="say \"hi\" \\ bye")");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value.text, R"(say "hi" \ bye)");
  EXPECT_EQ(Canon(ToString(*e)), ToString(*e));
}

TEST(QueryTest, ValuesAreNumbersThenDatesThenText) {
  EXPECT_EQ(MustParse("n=42")->value.kind, ValueKind::kNumber);
  EXPECT_EQ(MustParse("n=-3.5")->value.number, -3.5);
  EXPECT_EQ(MustParse("n=1e6")->value.number, 1e6);
  auto d = MustParse("taken<2021-01-01");
  EXPECT_EQ(d->value.kind, ValueKind::kTime);
  EXPECT_EQ(d->value.time_ns, 1609459200LL * 1000000000LL);
  auto z = MustParse("at=2021-06-01T12:00:00+02:00");
  EXPECT_EQ(z->value.kind, ValueKind::kTime);
  EXPECT_EQ(z->value.time_ns, MustParse("at=2021-06-01T10:00:00Z")->value.time_ns);
  EXPECT_EQ(MustParse("at=2020-02-29")->value.kind, ValueKind::kTime);
  EXPECT_EQ(MustParse("at=2021-02-29")->value.kind, ValueKind::kText);  // no such day
  EXPECT_EQ(MustParse("author=ana")->value.kind, ValueKind::kText);
  EXPECT_EQ(MustParse("v=1.2.3")->value.kind, ValueKind::kText);
  auto glob = MustParse("author=a*");
  EXPECT_TRUE(glob->value.glob);
  EXPECT_EQ(glob->op, Op::kEq);
  EXPECT_EQ(MustParse("author!=a?a")->op, Op::kNe);
}

TEST(QueryTest, Attributes) {
  auto s = MustParse("@size>10M");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind, Node::Kind::kAttr);
  EXPECT_EQ(s->attr, Attr::kSize);
  EXPECT_EQ(s->op, Op::kGt);
  EXPECT_EQ(s->value.number, 10.0 * 1024 * 1024);
  EXPECT_EQ(MustParse("@size<=1.5k")->value.number, 1536);
  EXPECT_EQ(MustParse("@size=4096")->value.number, 4096);
  auto t = MustParse("@mtime>=2024-01-01");
  EXPECT_EQ(t->value.kind, ValueKind::kTime);
  auto p = MustParse("@path=/photos/*");
  EXPECT_TRUE(p->value.glob);
  EXPECT_EQ(p->value.text, "/photos/*");
  EXPECT_EQ(MustParse("@path=/photos//")->value.text, "/photos");
  EXPECT_FALSE(MustParse("@path=/photos")->value.glob);
  EXPECT_TRUE(MustParse("@name=*.pdf")->value.glob);
  EXPECT_EQ(MustParse("@type=dir")->value.text, "dir");
  EXPECT_EQ(Canon("@size>10M and @name=*.pdf and not @type=dir"),
            "@size>10M and @name=*.pdf and not @type=dir");
  // An attribute is never a tag: a tag named "@size" is written in quotes.
  auto q = MustParse("\"@size\"");
  EXPECT_EQ(q->kind, Node::Kind::kTag);
  EXPECT_EQ(ToString(*q), "\"@size\"");
}

TEST(QueryTest, ErrorsNameTheColumnAndWhatWasExpected) {
  EXPECT_EQ(ErrorOf("photo and"),
            "column 10: expected a tag name, \"(\" or \"not\" after \"and\", found the end");
  EXPECT_EQ(ErrorOf("(a or b"), "column 1: unbalanced \"(\"");
  EXPECT_EQ(ErrorOf("a)"), "column 2: unbalanced \")\"");
  EXPECT_EQ(ErrorOf("year>="), "column 5: expected a value after \">=\"");
  EXPECT_EQ(ErrorOf("a ! b"), "column 3: \"!\" must be followed by \"=\" (use not to negate)");
  EXPECT_EQ(ErrorOf("@sise>1"),
            "column 1: unknown attribute @sise (known: @size @mtime @ctime @name @path @type)");
  EXPECT_EQ(ErrorOf("@size"), "column 1: @size needs a comparison (for example @size>1M)");
  EXPECT_EQ(ErrorOf("x and @size>ten"),
            "column 13: @size: expected a size such as 4096, 10K, 1.5M or 2G");
  EXPECT_EQ(ErrorOf("@type<dir"), "column 7: @type: compares with = or != only");
  EXPECT_EQ(ErrorOf("@mtime>yesterday"),
            "column 8: @mtime: expected an ISO 8601 date such as 2024-01-31 or "
            "2024-01-31T12:00:00Z");
  EXPECT_EQ(ErrorOf("a=\"b"), "column 3: unterminated quote");
  EXPECT_EQ(ErrorOf("author<a*"), "column 8: a glob value compares with = or != only");
  EXPECT_EQ(ErrorOf("()"), "column 2: expected a query inside \"()\"");
  EXPECT_EQ(ErrorOf("a or or b"), "column 6: expected a tag name, \"(\" or \"not\" after \"or\"");
  EXPECT_EQ(ErrorOf(""), "empty query");
  EXPECT_EQ(ErrorOf("   "), "empty query");
  // Columns count characters, not bytes.
  EXPECT_EQ(ErrorOf("été and"),
            "column 8: expected a tag name, \"(\" or \"not\" after \"and\", found the end");
  EXPECT_EQ(ErrorOf("a/b").substr(0, 10), "column 1: ");
  EXPECT_EQ(ErrorOf(std::string("a\x01")), "column 2: a control character");
  EXPECT_EQ(ErrorOf(std::string("a\xff")), "the query is not valid UTF-8");
}

TEST(QueryTest, LimitsBoundWhatAQueryCanMake) {
  std::string many = "t0";
  for (int i = 1; i <= kMaxTerms; ++i) many += " or t" + std::to_string(i);
  EXPECT_NE(ErrorOf(many).find("more than 256 terms"), std::string::npos);
  std::string deep(kMaxDepth + 1, '(');
  deep += "a" + std::string(kMaxDepth + 1, ')');
  EXPECT_NE(ErrorOf(deep).find("nested deeper than 64"), std::string::npos);
  std::string nots;
  for (int i = 0; i <= kMaxDepth; ++i) nots += "not ";
  EXPECT_NE(ErrorOf(nots + "a").find("nested deeper than 64"), std::string::npos);
  EXPECT_EQ(ErrorOf(std::string(kMaxQueryBytes + 1, 'a')), "the query is longer than 4096 bytes");
  EXPECT_NE(ErrorOf(std::string(kMaxTagNameBytes + 1, 'n')).find("longer than 200"),
            std::string::npos);
  EXPECT_NE(ErrorOf("n=" + std::string(kMaxTagValueBytes + 1, 'v')).find("longer than 200"),
            std::string::npos);
  // Just within the limits.
  std::string ok = "t0";
  for (int i = 1; i < kMaxTerms; ++i) ok += " or t" + std::to_string(i);
  EXPECT_TRUE(Parse(ok).ok());
}

TEST(QueryTest, TagNamesAndValues) {
  EXPECT_TRUE(ValidateTagName("photo").ok());
  EXPECT_TRUE(ValidateTagName("c++").ok());
  EXPECT_TRUE(ValidateTagName("日本").ok());
  EXPECT_FALSE(ValidateTagName("").ok());
  EXPECT_FALSE(ValidateTagName("a/b").ok());
  EXPECT_FALSE(ValidateTagName("a=b").ok());
  EXPECT_FALSE(ValidateTagName("a b").ok());
  EXPECT_FALSE(ValidateTagName("a\tb").ok());
  EXPECT_FALSE(ValidateTagName(std::string("a\x7f")).ok());
  // Unicode white space and C1 controls too: no-break space, em space,
  // ideographic space, line separator, NEL.
  for (const char* bad : {"a\u00a0b", "a\u2003b", "a\u3000b", "a\u2028b", "a\u0085b"}) {
    EXPECT_FALSE(ValidateTagName(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateTagName("caf\u00e9").ok());
  EXPECT_TRUE(ValidateTagValue("two\u00a0words").ok()) << "a value may hold spaces";
  EXPECT_FALSE(ValidateTagValue("a\u0085b").ok());
  EXPECT_FALSE(ValidateTagName(std::string("\xc0\x80")).ok());      // overlong NUL
  EXPECT_FALSE(ValidateTagName(std::string("\xed\xa0\x80")).ok());  // a surrogate
  EXPECT_TRUE(ValidateTagName(std::string(200, 'x')).ok());
  EXPECT_FALSE(ValidateTagName(std::string(201, 'x')).ok());
  EXPECT_TRUE(ValidateTagValue("").ok());
  EXPECT_TRUE(ValidateTagValue("two words = fine").ok());
  EXPECT_FALSE(ValidateTagValue("a/b").ok());
  EXPECT_FALSE(ValidateTagValue("a\nb").ok());
}

// ---- randomized

std::string RandomWord(std::mt19937_64& rng, bool allow_glob) {
  static const std::vector<std::string> kPieces = {
      "a",          "photo", "year", "é",    "日",    "c++", "and",  "or",
      "not",        "x y",   "q\"t", "b\\s", "@size", "1",   "2021", "-3.5",
      "2021-06-01", "(",     ")",    "=",    "<",     "!",   "*",    "?"};
  std::string w;
  const int n = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) {
    const std::string& p = kPieces[rng() % kPieces.size()];
    if (!allow_glob && (p == "*" || p == "?")) continue;
    w += p;
  }
  if (w.empty()) w = "w";
  return w;
}

std::unique_ptr<Node> RandomTree(std::mt19937_64& rng, int depth, int* terms) {
  auto n = std::make_unique<Node>();
  const unsigned k = depth >= 4 ? 3 + rng() % 2 : rng() % 5;
  if (k <= 1 && *terms < 40) {
    n->kind = k == 0 ? Node::Kind::kAnd : Node::Kind::kOr;
    const int count = 2 + static_cast<int>(rng() % 3);
    for (int i = 0; i < count; ++i) n->children.push_back(RandomTree(rng, depth + 1, terms));
    return n;
  }
  if (k == 2) {
    n->kind = Node::Kind::kNot;
    n->children.push_back(RandomTree(rng, depth + 1, terms));
    return n;
  }
  ++*terms;
  if (k == 4 && rng() % 3 == 0) {
    static const char* kAttrs[] = {
        "@size>10M", "@mtime>=2024-01-01",       "@name=*.pdf",    "@path=/photos/*",
        "@type=dir", "@ctime<2020-02-29T10:00Z", "@name!=\"x y\"", "@size<=4096"};
    auto parsed = Parse(kAttrs[rng() % 8]);
    return std::move(parsed).value();
  }
  n->kind = Node::Kind::kTag;
  do {
    n->name = RandomWord(rng, true);
  } while (!ValidateTagName(n->name).ok());
  n->name_glob = rng() % 4 == 0 && n->name.find_first_of("*?") != std::string::npos;
  if (n->name.find_first_of("*?") != std::string::npos && !n->name_glob) {
    // A literal * in a name is printed in quotes: fine.
  }
  if (rng() % 2 == 0) {
    n->has_value = true;
    std::string v;
    do {
      v = RandomWord(rng, true);
    } while (!ValidateTagValue(v).ok());
    const bool glob = rng() % 4 == 0 && v.find_first_of("*?") != std::string::npos;
    n->op = glob ? (rng() % 2 ? Op::kEq : Op::kNe) : static_cast<Op>(rng() % 6);
    if (glob) {
      n->value.text = v;
      n->value.glob = true;
    } else {
      n->value = Classify(v);
    }
  }
  return n;
}

// Some generated names hold characters only a bare glob word may not: such
// a tree cannot be written; skip it (a parsed tree never holds one).
bool Printable(const Node& n) {
  for (const auto& c : n.children) {
    if (!Printable(*c)) return false;
  }
  auto bare_ok = [](const std::string& w) {
    return w.find_first_of(" \t()\"=!<>") == std::string::npos && !w.empty();
  };
  if (n.kind == Node::Kind::kTag && n.name_glob &&
      (!bare_ok(n.name) || n.name == "and" || n.name == "or" || n.name == "not" ||
       n.name[0] == '@')) {
    return false;
  }
  if (n.kind == Node::Kind::kTag && n.has_value && n.value.glob && !bare_ok(n.value.text)) {
    return false;
  }
  return true;
}

TEST(QueryFuzzTest, GeneratedTreesPrintAndParseBackToTheSameTree) {
  std::mt19937_64 rng(20261126);
  int checked = 0;
  for (int i = 0; i < 5000; ++i) {
    int terms = 0;
    auto tree = RandomTree(rng, 0, &terms);
    if (!Printable(*tree)) continue;
    const std::string text = ToString(*tree);
    auto back = Parse(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    ASSERT_TRUE(Same(*tree, **back)) << text << " came back as " << ToString(**back);
    ASSERT_EQ(ToString(**back), text);
    ++checked;
  }
  EXPECT_GT(checked, 3000);
}

TEST(QueryFuzzTest, MutatedQueriesNeverCrashAndWhatParsesIsStable) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> seeds = {
      "photo and (year>=2020 or favourite) and not draft",
      "@size>10M and @name=*.pdf or @path=/photos/* and not @type=dir",
      "\"and\" or \"c++\" author=a* taken<2021-01-01T10:00:00+02:00",
      "not not (a or (b and (c or d)))"};
  static const char kAlphabet[] = "()\"\\=!<>*? @aAnNoOtT0123456789-:./\t\xc3\xa9";
  int parsed = 0;
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
      const char c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
      switch (rng() % 3) {
        case 0:
          s.insert(at, 1, c);
          break;
        case 1:
          if (at < s.size()) s.erase(at, 1);
          break;
        default:
          if (at < s.size()) s[at] = c;
          break;
      }
    }
    auto r = Parse(s);
    if (!r.ok()) {
      ++refused;
      EXPECT_FALSE(r.status().message().empty());
      continue;
    }
    ++parsed;
    const std::string text = ToString(**r);
    auto again = Parse(text);
    ASSERT_TRUE(again.ok()) << s << " printed as " << text << ": " << again.status();
    ASSERT_TRUE(Same(**r, **again)) << s << " printed as " << text;
  }
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(refused, 1000);
}

}  // namespace
}  // namespace ddbfs::query
