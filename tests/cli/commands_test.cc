// `ddbfs ls`, `mkdir`, `rm`, `mv`, `info`, `status`, help and the
// configuration lookup, with the real binary on a real cluster.

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace ddbfs::testing {
namespace {

namespace fs = std::filesystem;

class CommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Tag changes over 2 documents run as bulk changes (docs/tags.md), so
    // that `tag -t -r` of a few files takes that path end to end.
    ClusterOptions o;
    o.metaserver_args = {"--bulk-tag-threshold", "2"};
    cluster_ = TestCluster::Start(o).release();
    if (!cluster_) return;
    TempDir work;
    WriteLocal(work.path() + "/file.txt", "hello\n", 0640);
    SetMtime(work.path() + "/file.txt", 1262304000, 0);
    fs::create_symlink("file.txt", work.path() + "/link");
    auto mk = Ddbfs(Meta(), {"mkdir", "/docs"});
    auto add =
        Ddbfs(Meta(), {"add", "-q", work.path() + "/file.txt", work.path() + "/link", "/docs"});
    EXPECT_EQ(add.exit_code, 0) << Show(add);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr); }
  static std::string Meta() { return cluster_->meta_address(); }
  static TestCluster* cluster_;
};

TestCluster* CommandsTest::cluster_ = nullptr;

TEST_F(CommandsTest, LsPlainLongJsonAndDirectoryItself) {
  auto ls = Ddbfs(Meta(), {"ls", "/docs"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_EQ(ls.out, "file.txt\nlink\n");

  ls = Ddbfs(Meta(), {"ls", "-l", "/docs"}, {"TZ=UTC"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_NE(ls.out.find("-rw-r----- 1 "), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(" 6 2010-01-01 00:00 file.txt\n"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("lrwxrwxrwx"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("link -> file.txt\n"), std::string::npos) << ls.out;

  ls = Ddbfs(Meta(), {"ls", "--json", "/docs"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_EQ(ls.out.front(), '[');
  EXPECT_EQ(ls.out.substr(ls.out.size() - 2), "]\n");
  EXPECT_NE(ls.out.find(R"("name": "file.txt", "path": "/docs/file.txt", "type": "file", )"
                        R"("mode": "0640", "size": 6, "mtime_ns": 1262304000000000000)"),
            std::string::npos)
      << ls.out;
  EXPECT_NE(ls.out.find(R"("type": "symlink")"), std::string::npos);
  EXPECT_NE(ls.out.find(R"("target": "file.txt")"), std::string::npos);
  EXPECT_NE(ls.out.find(R"("goal": 2)"), std::string::npos);

  ls = Ddbfs(Meta(), {"ls", "-d", "/docs"});
  EXPECT_EQ(ls.out, "/docs\n");
  ls = Ddbfs(Meta(), {"list", "/docs/file.txt"});  // alias; a file lists itself
  EXPECT_EQ(ls.out, "/docs/file.txt\n");
  ls = Ddbfs(Meta(), {"ls"});  // default /
  EXPECT_NE(ls.out.find("docs\n"), std::string::npos) << Show(ls);
}

TEST_F(CommandsTest, MkdirParentsRmRecursiveAndMv) {
  auto r = Ddbfs(Meta(), {"mkdir", "-p", "/m/n/o", "/m/p"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"mkdir", "-p", "/m/n/o"});  // exists: fine with -p
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"ls", "/m", "/m/n"});
  EXPECT_EQ(r.out, "/m:\nn\np\n\n/m/n:\no\n");

  // mv into an existing directory, and mv to a new name.
  r = Ddbfs(Meta(), {"mv", "/m/p", "/m/n"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"rename", "/m/n/o", "/m/n/o2"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"ls", "/m/n"});
  EXPECT_EQ(r.out, "o2\np\n");

  r = Ddbfs(Meta(), {"rm", "-r", "/m"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"ls", "/m"});
  EXPECT_EQ(r.exit_code, 2);

  // rm of a file, and of an empty directory with -r.
  r = Ddbfs(Meta(), {"mkdir", "/gone"});
  ASSERT_EQ(r.exit_code, 0);
  r = Ddbfs(Meta(), {"delete", "-r", "/gone"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
}

TEST_F(CommandsTest, RmRecursiveRemovesATreeWithData) {
  TempDir work;
  fs::create_directories(work.path() + "/t/a/b");
  for (int i = 0; i < 30; ++i) WriteLocal(work.path() + "/t/a/f" + std::to_string(i), "x", 0644);
  WriteLocal(work.path() + "/t/a/b/big", RandomData(3 << 20, 5), 0644);
  auto r = Ddbfs(Meta(), {"add", "-q", work.path() + "/t", "/t"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"rm", "-r", "/t"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"ls", "-d", "/t"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
}

TEST_F(CommandsTest, InfoShowsAttributesChunksAndReplicas) {
  auto r = Ddbfs(Meta(), {"info", "/docs/file.txt"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  for (const char* want :
       {"path:    /docs/file.txt", "type:    file", "size:    6 ", "mode:    -rw-r----- (0640)",
        "goal:    2", "chunks:  1", "chunk 0: id ", "version 1", "current", "alive"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  r = Ddbfs(Meta(), {"info", "--json", "/docs/file.txt"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find(R"("chunks": [{"index": 0, "chunk_id": )"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '{'), 4) << r.out;  // file, chunk, 2 replicas
  r = Ddbfs(Meta(), {"info", "/docs/link"});
  EXPECT_NE(r.out.find("target:  file.txt"), std::string::npos) << r.out;
}

// ddbfs dupes prints groups of identical documents as fdupes does, and says
// how many it skipped (hash stale); info shows a file's content hash, the
// value the shell line of docs/content_hash.md computes from a local copy.
// Its own cluster without the background rehash: a stale hash stays stale.
TEST_F(CommandsTest, DupesGroupsIdenticalDocumentsAndInfoShowsTheContentHash) {
  ClusterOptions o;
  o.metaserver_args = {"--rehash-interval-ms", "0"};
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster);
  const std::string meta = cluster->meta_address();
  TempDir work;
  const std::string x = RandomData(300000, 21);
  fs::create_directories(work.path() + "/d/sub");
  WriteLocal(work.path() + "/d/a", x, 0644);
  WriteLocal(work.path() + "/d/b", x, 0644);
  WriteLocal(work.path() + "/d/c", RandomData(300000, 22), 0644);
  WriteLocal(work.path() + "/d/sub/d", x, 0644);
  WriteLocal(work.path() + "/d/e", "", 0644);
  WriteLocal(work.path() + "/d/f", "", 0644);
  auto add = Ddbfs(meta, {"add", "-q", work.path() + "/d", "/"});
  ASSERT_EQ(add.exit_code, 0) << Show(add);

  auto r = Ddbfs(meta, {"dupes", "/d"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/d/a\n/d/b\n/d/sub/d\n\n");
  EXPECT_EQ(r.err, "");
  r = Ddbfs(meta, {"dupes", "-S", "--empty", "/d"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "0 bytes each:\n/d/e\n/d/f\n\n300000 bytes each:\n/d/a\n/d/b\n/d/sub/d\n\n");
  r = Ddbfs(meta, {"dupes", "/d/sub"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "") << "one copy below /d/sub";
  r = Ddbfs(meta, {"dupes", "/d/a"});
  EXPECT_NE(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(OneErrorLine(r.err)) << r.err;

  // The hash as docs/content_hash.md computes it from a local copy.
  auto line = RunCommand({"bash", "-c",
                          "split -b 64M --filter='sha256sum | head -c 64' \"$1\" | xxd -r -p | "
                          "sha256sum | head -c 64",
                          "sh", work.path() + "/d/a"},
                         "", std::chrono::seconds(30));
  ASSERT_EQ(line.exit_code, 0) << line.err;
  const std::string hash = line.out;
  ASSERT_EQ(hash.size(), 64u);
  r = Ddbfs(meta, {"info", "/d/a"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("sha256:  " + hash + "\n"), std::string::npos) << r.out;
  r = Ddbfs(meta, {"info", "--json", "/d/a"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find(R"("sha256": ")" + hash + R"(", "sha256_state": "current")"),
            std::string::npos)
      << r.out;
  r = Ddbfs(meta, {"dupes", "--json", "/d"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const std::string head = "{\n  \"groups\": [\n    {\"size\": 300000, \"sha256\": \"" + hash +
                           "\", \"documents\": [" + R"({"path": "/d/a", "inode": )";
  EXPECT_EQ(r.out.substr(0, head.size()), head) << r.out;
  EXPECT_NE(r.out.find("]}\n  ],\n  \"skipped_stale\": 0\n}\n"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '{'), 5) << r.out;  // object, group, 3 docs

  // A partial overwrite of b: its hash is stale (no background rehash
  // here), b is skipped and counted, a and sub/d stay a group.
  auto client = cluster->NewClient();
  ASSERT_TRUE(client);
  auto b = client->ResolvePath("/d/b");
  ASSERT_TRUE(b.ok());
  auto w = client->OpenWriter(b->inode);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(1000, std::span<const char>("xyz", 3)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  r = Ddbfs(meta, {"dupes", "/d"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/d/a\n/d/sub/d\n\n");
  EXPECT_EQ(r.err,
            "ddbfs: dupes: warning: 1 document skipped: content hash stale (being recomputed in "
            "the background; run again later)\n");
  r = Ddbfs(meta, {"-q", "dupes", "/d"});
  EXPECT_EQ(r.err, "") << "-q: no summary";
  r = Ddbfs(meta, {"dupes", "--json", "/d"});
  EXPECT_NE(r.out.find(R"("skipped_stale": 1)"), std::string::npos) << r.out;
  r = Ddbfs(meta, {"info", "/d/b"});
  EXPECT_NE(r.out.find("sha256:  stale (1 of its chunks is being hashed again in the background; "
                       "run again later)\n"),
            std::string::npos)
      << r.out;
  r = Ddbfs(meta, {"info", "--json", "/d/b"});
  EXPECT_NE(r.out.find(R"("sha256": null, "sha256_state": "stale")"), std::string::npos) << r.out;
}

// ddbfs add -t: every uploaded file carries the tags from its create on; a
// bad tag uploads nothing.
TEST_F(CommandsTest, AddWithTagsTagsEveryFile) {
  TempDir work;
  WriteLocal(work.path() + "/a.jpg", "jpeg", 0644);
  fs::create_directory(work.path() + "/more");
  WriteLocal(work.path() + "/more/b.jpg", "", 0444);  // empty: a plain Create
  auto mk = Ddbfs(Meta(), {"mkdir", "/tagged"});
  ASSERT_EQ(mk.exit_code, 0) << Show(mk);
  auto r = Ddbfs(Meta(), {"add", "-q", "-t", "photo", "--tag", "year=2021", work.path() + "/a.jpg",
                          work.path() + "/more", "/tagged"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tags", "/tagged/a.jpg", "/tagged/more/b.jpg", "/tagged/more"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out,
            "/tagged/a.jpg:\nphoto\nyear=2021\n\n/tagged/more/b.jpg:\nphoto\nyear=2021\n\n"
            "/tagged/more:\n")
      << "files are tagged, folders are not";
  r = Ddbfs(Meta(), {"add", "-t", "bad/tag", work.path() + "/a.jpg", "/tagged/c.jpg"});
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("bad/tag"), std::string::npos) << r.err;
  r = Ddbfs(Meta(), {"ls", "/tagged"});
  EXPECT_EQ(r.out, "a.jpg\nmore\n") << "nothing uploaded";
}

// ddbfs query: one path per line; a syntax error is one line naming the
// column.
TEST_F(CommandsTest, QueryPrintsMatchingPaths) {
  ASSERT_EQ(Ddbfs(Meta(), {"mkdir", "/q"}).exit_code, 0);
  TempDir work;
  WriteLocal(work.path() + "/a", "a", 0644);
  WriteLocal(work.path() + "/b", "b", 0644);
  auto r = Ddbfs(
      Meta(), {"add", "-q", "-t", "qkind=report", "-t", "qyear=2021", work.path() + "/a", "/q/a"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(),
            {"add", "-q", "-t", "qkind=memo", "-t", "qyear=2019", work.path() + "/b", "/q/b"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"query", "qyear>=2020"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/q/a\n");
  r = Ddbfs(Meta(), {"query", "qkind", "and", "not", "qkind=report"});  // words are joined
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/q/b\n");
  r = Ddbfs(Meta(), {"query", "nosuchtag"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "");
  r = Ddbfs(Meta(), {"query", "qkind and ("});
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("column 12: expected"), std::string::npos) << r.err;
}

// ddbfs query save / list / run / rm.
TEST_F(CommandsTest, SavedQueries) {
  auto r = Ddbfs(Meta(), {"query", "save", "sq-reports", "sqkind=report", "and", "not", "draft"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"query", "list"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("sq-reports\tsqkind=report and not draft\n"), std::string::npos) << r.out;
  TempDir work;
  WriteLocal(work.path() + "/r", "r", 0644);
  ASSERT_EQ(
      Ddbfs(Meta(), {"add", "-q", "-t", "sqkind=report", work.path() + "/r", "/sq-r"}).exit_code,
      0);
  r = Ddbfs(Meta(), {"query", "run", "sq-reports"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/sq-r\n");
  r = Ddbfs(Meta(), {"query", "save", "sq-bad", "sqkind", "and", "("});
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = Ddbfs(Meta(), {"query", "rm", "sq-reports"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"query", "run", "sq-reports"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  r = Ddbfs(Meta(), {"query", "list"});
  EXPECT_EQ(r.out.find("sq-"), std::string::npos) << r.out;
}

// ddbfs tag / untag / tags (docs/cli.md): tags on a document, shown one
// per line; a bad tag or path is one line on stderr and changes nothing.
TEST_F(CommandsTest, TagUntagAndTags) {
  auto r = Ddbfs(Meta(), {"tag", "/docs/file.txt", "photo", "year=2021", "author=ana"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tag", "/docs/file.txt", "author=bo"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tags", "/docs/file.txt"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "author=ana\nauthor=bo\nphoto\nyear=2021\n");
  r = Ddbfs(Meta(), {"untag", "/docs/file.txt", "author", "year=2021"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tags", "/docs/file.txt", "/docs/link"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/docs/file.txt:\nphoto\n\n/docs/link:\n");
  // A bad tag: one line naming it, nothing changed.
  r = Ddbfs(Meta(), {"tag", "/docs/file.txt", "ok", "a/b"});
  EXPECT_EQ(r.exit_code, 6) << Show(r);  // invalid argument
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("'a/b'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TAG=VALUE"), std::string::npos) << r.err;
  r = Ddbfs(Meta(), {"tags", "/docs/file.txt"});
  EXPECT_EQ(r.out, "photo\n");
  // A missing document.
  r = Ddbfs(Meta(), {"tag", "/docs/missing", "x"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);  // not found
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("/docs/missing"), std::string::npos) << r.err;
}

TEST_F(CommandsTest, BulkTagCountsAndTagNames) {
  TempDir w;
  WriteLocal(w.path() + "/f", "hello\n", 0640);
  auto r = Ddbfs(Meta(), {"mkdir", "/bulk", "/bulk/sub"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  for (const char* p : {"/bulk/a", "/bulk/sub/b", "/bulk/sub/c"}) {
    r = Ddbfs(Meta(), {"add", "-q", "-t", "seed", w.path() + "/f", p});
    ASSERT_EQ(r.exit_code, 0) << Show(r);
  }
  // -t TAG... PATH...; -r takes the files below a directory.
  r = Ddbfs(Meta(), {"tag", "-t", "bulk", "-t", "year=2021", "-r", "/bulk"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"query", "bulk", "and", "year=2021"});
  EXPECT_EQ(r.out, "/bulk/a\n/bulk/sub/b\n/bulk/sub/c\n") << Show(r);
  // A path that does not exist: one line, nothing tagged.
  r = Ddbfs(Meta(), {"tag", "-t", "never", "/bulk/a", "/bulk/missing"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_TRUE(OneErrorLine(r.err)) << r.err;
  r = Ddbfs(Meta(), {"query", "never", "--count"});
  EXPECT_EQ(r.out, "0\n") << Show(r);
  r = Ddbfs(Meta(), {"untag", "-t", "year", "/bulk/sub/b", "/bulk/sub/c"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  // Counts: every tag, within a query, the values of one.
  r = Ddbfs(Meta(), {"tags", "--within", "@path=/bulk/*", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out,
            "[\n  {\"name\": \"bulk\", \"documents\": 3, \"bytes\": 18},\n"
            "  {\"name\": \"seed\", \"documents\": 3, \"bytes\": 18},\n"
            "  {\"name\": \"year\", \"documents\": 1, \"bytes\": 6}\n]\n");
  r = Ddbfs(Meta(), {"tags", "--values", "year", "--within", "bulk"});
  EXPECT_EQ(r.out, "        1        6 B  =2021\n") << Show(r);
  r = Ddbfs(Meta(), {"tags", "--names"});
  EXPECT_NE(r.out.find("bulk\n"), std::string::npos) << Show(r);
  // Tag names: imply, rename, merge, delete.
  r = Ddbfs(Meta(), {"tag", "imply", "bulk", "loaded"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tag", "implies"});
  EXPECT_NE(r.out.find("bulk -> loaded\n"), std::string::npos) << Show(r);
  r = Ddbfs(Meta(), {"query", "loaded", "--count"});
  EXPECT_EQ(r.out, "3\n") << Show(r);
  r = Ddbfs(Meta(), {"tag", "imply", "loaded", "bulk"});
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_TRUE(OneErrorLine(r.err)) << r.err;
  r = Ddbfs(Meta(), {"tag", "rename", "seed", "bulk"});
  EXPECT_EQ(r.exit_code, 3) << Show(r);
  EXPECT_NE(r.err.find("ddbfs tag merge seed bulk"), std::string::npos) << r.err;
  r = Ddbfs(Meta(), {"tag", "merge", "seed", "bulk"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tags", "/bulk/a"});
  EXPECT_EQ(r.out, "bulk\nyear=2021\n") << Show(r);
  r = Ddbfs(Meta(), {"tag", "delete", "bulk"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"tags", "/bulk/sub/b", "--json"});
  EXPECT_EQ(r.out, "[\n  {\"path\": \"/bulk/sub/b\", \"tags\": []}\n]\n") << Show(r);
  // svn-style names.
  r = Ddbfs(Meta(), {"propset", "year", "1999", "/bulk/a"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"propget", "year", "/bulk/a"});
  EXPECT_EQ(r.out, "1999\n") << Show(r);
  r = Ddbfs(Meta(), {"propdel", "year", "/bulk/a"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"proplist", "/bulk/a"});
  EXPECT_EQ(r.out, "") << Show(r);
}

TEST_F(CommandsTest, QueryListingOptions) {
  TempDir w;
  WriteLocal(w.path() + "/f", "hello\n", 0640);
  auto r = Ddbfs(Meta(), {"mkdir", "/ql"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  for (const char* p : {"/ql/b", "/ql/a", "/ql/c"}) {
    r = Ddbfs(Meta(), {"add", "-q", "-t", "ql", w.path() + "/f", p});
    ASSERT_EQ(r.exit_code, 0) << Show(r);
  }
  r = Ddbfs(Meta(), {"query", "ql", "--sort", "name"});
  EXPECT_EQ(r.out, "/ql/a\n/ql/b\n/ql/c\n") << Show(r);
  r = Ddbfs(Meta(), {"query", "ql", "--sort", "name", "--limit", "2", "--print0"});
  EXPECT_EQ(r.out, std::string("/ql/a\0/ql/b\0", 12)) << Show(r);
  r = Ddbfs(Meta(), {"query", "ql", "--count"});
  EXPECT_EQ(r.out, "3\n") << Show(r);
  r = Ddbfs(Meta(), {"query", "ql", "--limit", "1", "--json"});
  EXPECT_EQ(r.out.rfind("[\n  {\"name\": \"b\", \"path\": \"/ql/b\"", 0), 0u) << Show(r);
  r = Ddbfs(Meta(), {"query", "ql", "-l"}, {"TZ=UTC"});
  EXPECT_NE(r.out.find("-rw-r----- 6 "), std::string::npos) << Show(r);
  r = Ddbfs(Meta(), {"query", "ql", "--sort", "color"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
}

TEST_F(CommandsTest, StatusListsServersAndTotals) {
  auto r = Ddbfs(Meta(), {"status"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 10) << r.out;
  EXPECT_NE(r.out.find("servers: 3 (3 alive, 0 dead)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing: 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("over goal: 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nrepair: 0 copies in flight, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nrebalance: on, usage gap "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(margin 5%), 0 moves in flight, 0 chunks moved (0 B), 0 B/s\n"),
            std::string::npos)
      << r.out;
  r = Ddbfs(Meta(), {"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  size_t alive = 0;
  for (size_t p = r.out.find("\"alive\": true"); p != std::string::npos;
       p = r.out.find("\"alive\": true", p + 1)) {
    ++alive;
  }
  EXPECT_EQ(alive, 3u) << r.out;
  EXPECT_NE(r.out.find(R"("chunks_missing": 0)"), std::string::npos);
  EXPECT_NE(r.out.find(R"("repair": {"enabled": true, "copies_in_flight": 0)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(R"("rebalance": {"enabled": true, "margin_pct": 5.00, "gap_pct": )"),
            std::string::npos)
      << r.out;
}

TEST_F(CommandsTest, MetaAddressFromEnvironmentAndConfigFile) {
  const std::vector<std::string> argv = {DdbfsBin(), "ls", "-d", "/docs"};
  auto r = RunCommand(argv, "", std::chrono::seconds(60), {"DDBFS_META=" + Meta()});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/docs\n");

  TempDir work;
  const std::string conf = work.path() + "/client.conf";
  WriteLocal(conf, "# test config\n\nmeta = " + Meta() + "\n", 0644);
  r = RunCommand(argv, "", std::chrono::seconds(60), {"DDBFS_META=", "DDBFS_CONFIG=" + conf});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "/docs\n");

  // The flag beats the environment.
  r = RunCommand({DdbfsBin(), "--meta", Meta(), "ls", "-d", "/docs"}, "", std::chrono::seconds(60),
                 {"DDBFS_META=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);

  WriteLocal(conf, "mta = 1.2.3.4:5\n", 0644);
  r = RunCommand(argv, "", std::chrono::seconds(60), {"DDBFS_META=", "DDBFS_CONFIG=" + conf});
  EXPECT_EQ(r.exit_code, 6) << Show(r);
  EXPECT_TRUE(OneErrorLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("unknown key 'mta'"), std::string::npos) << r.err;
}

TEST(HelpTest, HelpAndVersion) {
  auto r = RunCommand({DdbfsBin(), "help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"add", "get", "cat", "ls", "mkdir", "rm", "mv", "info", "status"}) {
    EXPECT_NE(r.out.find(std::string("  ") + cmd), std::string::npos) << cmd;
  }
  r = RunCommand({DdbfsBin(), "help", "add"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: ddbfs add"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--no-sync"), std::string::npos);
  r = RunCommand({DdbfsBin(), "rm", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: ddbfs rm"), std::string::npos) << r.out;
  r = RunCommand({DdbfsBin(), "--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("ddbfs ", 0), 0u) << r.out;
}

}  // namespace
}  // namespace ddbfs::testing
