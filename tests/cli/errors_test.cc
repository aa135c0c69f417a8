// Every error of the `ddbfs` CLI: exactly one line on stderr, the exit code
// of its error kind, and nothing changed in DDBFS.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace ddbfs::testing {
namespace {

namespace fs = std::filesystem;

class ErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = TestCluster::Start().release();
    if (!cluster_) return;
    work_ = new TempDir();
    WriteLocal(work_->path() + "/local.txt", "local", 0644);
    auto r = Ddbfs(Meta(), {"mkdir", "-p", "/full/sub", "/empty"});
    EXPECT_EQ(r.exit_code, 0) << Show(r);
    r = Ddbfs(Meta(), {"add", "-q", work_->path() + "/local.txt", "/full/file.txt"});
    EXPECT_EQ(r.exit_code, 0) << Show(r);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete work_;
    work_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    client_ = cluster_->NewClient();
    ASSERT_TRUE(client_);
  }
  static std::string Meta() { return cluster_->meta_address(); }
  static std::string Local() { return work_->path() + "/local.txt"; }

  // Runs `args` and checks: exit code, one stderr line containing `want`,
  // nothing on stdout, the namespace unchanged.
  void ExpectError(const std::vector<std::string>& args, int exit_code, const std::string& want,
                   const std::string& meta = "") {
    const std::string before = DescribeNamespace(*client_);
    auto r = Ddbfs(meta.empty() ? Meta() : meta, args);
    std::string cmd;
    for (const auto& a : args) cmd += a.substr(0, 40) + " ";
    EXPECT_EQ(r.exit_code, exit_code) << cmd << "\n" << Show(r);
    EXPECT_TRUE(OneErrorLine(r.err)) << cmd << "\n" << Show(r);
    EXPECT_NE(r.err.find(want), std::string::npos) << cmd << "\nwant: " << want << "\n" << Show(r);
    EXPECT_EQ(r.out, "") << cmd;
    EXPECT_EQ(DescribeNamespace(*client_), before) << cmd << " changed the namespace";
  }

  static TestCluster* cluster_;
  static TempDir* work_;
  std::unique_ptr<Client> client_;
};

TestCluster* ErrorsTest::cluster_ = nullptr;
TempDir* ErrorsTest::work_ = nullptr;

// `..` is never guessed as text: /full/missing/.. is not /full (POSIX fails
// because /full/missing does not exist), so `rm -r /full/missing/../sub`
// must not remove /full/sub.
TEST_F(ErrorsTest, DotDotIsRefusedInsteadOfResolvedAsText) {
  ExpectError({"rm", "-r", "/full/missing/../sub"}, 6, "'..' is not resolved in DDBFS paths");
  ExpectError({"ls", "/full/.."}, 6, "give the path without it");
  ExpectError({"add", Local(), "/full/missing/../x"}, 6, "'..' is not resolved");
}

// Adding only a FIFO adds nothing: that is a failure with one clear line.
TEST_F(ErrorsTest, AddOfOnlyAFifoFails) {
  const std::string fifo = work_->path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  ExpectError({"add", fifo, "/full"}, 12, "is a FIFO, socket or device");
  ::unlink(fifo.c_str());
}

// A name with control characters cannot break a listing into lines or send
// escape codes to the terminal: ls shows it escaped.
TEST_F(ErrorsTest, NamesWithControlCharactersAreShownEscaped) {
  ASSERT_TRUE(client_->Mkdir(kRootInode, "ctl", 0755).ok());
  auto dir = client_->ResolvePath("/ctl");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(client_->Create(dir->inode, "evil\nname\x1b[31m", 0644).ok());
  auto ls = Ddbfs(Meta(), {"ls", "/ctl"});
  ASSERT_EQ(ls.exit_code, 0) << Show(ls);
  EXPECT_EQ(ls.out, "evil\\nname\\x1b[31m\n");
  auto lsl = Ddbfs(Meta(), {"ls", "-l", "/ctl"});
  EXPECT_EQ(lsl.out.find('\x1b'), std::string::npos) << lsl.out;
  EXPECT_EQ(std::count(lsl.out.begin(), lsl.out.end(), '\n'), 1) << lsl.out;
  ASSERT_TRUE(client_->Unlink(dir->inode, "evil\nname\x1b[31m").ok());
  ASSERT_TRUE(client_->Rmdir(kRootInode, "ctl").ok());
}

TEST_F(ErrorsTest, UnknownPathIsNotFoundWithAHint) {
  const std::string hint = ": /nope: no such file or directory — check the path with `ddbfs ls`";
  ExpectError({"ls", "/nope"}, 2, "ddbfs: ls" + hint);
  ExpectError({"cat", "/nope"}, 2, "ddbfs: cat" + hint);
  ExpectError({"info", "/nope"}, 2, "ddbfs: info" + hint);
  ExpectError({"rm", "/nope"}, 2, "ddbfs: rm" + hint);
  ExpectError({"mv", "/nope", "/other"}, 2, "ddbfs: mv" + hint);
  ExpectError({"get", "/nope", work_->path()}, 2, "ddbfs: get" + hint);
  ExpectError({"mkdir", "/no/such/parent"}, 2, "parent directory /no/such does not exist");
  ExpectError({"add", Local(), "/no/such/file"}, 2, "parent directory /no/such does not exist");
}

TEST_F(ErrorsTest, ExistingTargetIsRefused) {
  ExpectError({"add", Local(), "/full/file.txt"}, 3,
              "ddbfs: add: /full/file.txt: already exists; use `ddbfs rm` first");
  ExpectError({"mkdir", "/full"}, 3, "ddbfs: mkdir: /full: already exists");
  ExpectError({"mv", "/empty", "/full/file.txt"}, 3,
              "ddbfs: mv: /full/file.txt: already exists; use `ddbfs rm` first");
}

TEST_F(ErrorsTest, RmOfADirectoryNeedsMinusR) {
  ExpectError({"rm", "/full"}, 4, "ddbfs: rm: /full: is a directory; use rm -r");
  ExpectError({"rm", "/empty"}, 4, "ddbfs: rm: /empty: is a directory; use rm -r");
}

TEST_F(ErrorsTest, RelativePathsAreRefused) {
  const std::string want = "paths in DDBFS are absolute: /photos, not photos";
  ExpectError({"ls", "photos"}, 6, "ddbfs: ls: " + want);
  ExpectError({"mkdir", "-p", "photos"}, 6, "ddbfs: mkdir: " + want);
  ExpectError({"add", Local(), "photos"}, 6, "ddbfs: add: " + want);
  ExpectError({"rm", "photos"}, 6, want);
  ExpectError({"get", "photos", work_->path()}, 6, want);
}

TEST_F(ErrorsTest, NamesOver255BytesAreRefused) {
  const std::string name(300, 'a');
  ExpectError({"mkdir", "/" + name}, 6, "name too long (300 bytes; the limit is 255)");
  ExpectError({"mkdir", "-p", "/full/" + name + "/x"}, 6, "name too long");
  ExpectError({"add", Local(), "/full/" + name}, 6, "name too long");
  ExpectError({"ls", "/" + name}, 6, "name too long");
}

TEST_F(ErrorsTest, UnreachableMetaserverSaysWhatToDo) {
  ExpectError({"ls", "/"}, 9,
              "ddbfs: ls: cannot reach metaserver at 127.0.0.1:1 (connection refused) — is it "
              "running? see ./scripts/cluster status",
              "127.0.0.1:1");
  ExpectError({"add", Local(), "/x"}, 9, "cannot reach metaserver at 127.0.0.1:1", "127.0.0.1:1");
}

TEST_F(ErrorsTest, BadUsageIsExitCodeTwoWithAPointerToHelp) {
  ExpectError({"mv", "/full"}, 2, "ddbfs: mv: mv takes exactly SRC and DEST — see ddbfs help mv");
  ExpectError({"add", Local()}, 2, "— see ddbfs help add");
  ExpectError({"rm"}, 2, "— see ddbfs help rm");
  ExpectError({"ls", "--bogus"}, 2, "— see ddbfs help ls");
  ExpectError({"frobnicate"}, 2, "— see ddbfs help");
  ExpectError({"help", "frobnicate"}, 2, "unknown command 'frobnicate'");
}

TEST_F(ErrorsTest, OneFailureAmongSeveralPathsStillDoesTheRest) {
  auto r = Ddbfs(Meta(), {"mkdir", "/m1", "/nope/m2", "/m3"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_TRUE(OneErrorLine(r.err)) << r.err;
  r = Ddbfs(Meta(), {"ls", "-d", "/m1", "/m3"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  r = Ddbfs(Meta(), {"rm", "-r", "/m1", "/m3"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
}

}  // namespace
}  // namespace ddbfs::testing
