// Real programs on a real mount of a real cluster: rsync, git, SQLite in WAL
// mode with concurrent writers, tar, make and the compiler, and two mounts of
// one cluster. Each program's own checks (sha256sum -c, git fsck, PRAGMA
// integrity_check, tar --compare) judge what the mount gave it. Runs as root;
// the build also runs as `nobody` on a folder nobody owns.

#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fuse_fixture.h"
#include "process.h"
#include "test_cluster.h"

namespace ddbfs::testing {
namespace {

using std::chrono::seconds;

class ProgramsTest : public FuseTest {
 protected:
  // `script` run by sh -c with `env` (NAME=VALUE) set for it.
  static CommandResult Sh(const std::string& script, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {"sh", "-c", script});
    return RunCommand(argv, "", seconds(240));
  }

  // `diff` of two texts ("" when they are the same), via files in `tmp`.
  static std::string Diff(const std::string& want, const std::string& got, const std::string& tmp) {
    if (want == got) return "";
    EXPECT_EQ(WriteFile(tmp + "/want.txt", want), 0);
    EXPECT_EQ(WriteFile(tmp + "/got.txt", got), 0);
    CommandResult r = RunCommand({"diff", tmp + "/want.txt", tmp + "/got.txt"});
    return r.out.substr(0, 4000);
  }

  // Two more mounts of the cluster, at work_/PREFIX-a and -b, with `-o
  // options`; `ok` is false (and the test has failed) if one did not mount.
  struct MountPair {
    std::string a, b;
    std::unique_ptr<Process> pa, pb;
    bool ok() const { return pa != nullptr && pb != nullptr; }
  };
  static MountPair MountTwo(const std::string& prefix, const std::string& options) {
    MountPair m;
    m.a = work_->path() + "/" + prefix + "-a";
    m.b = work_->path() + "/" + prefix + "-b";
    EXPECT_EQ(::mkdir(m.a.c_str(), 0755), 0);
    EXPECT_EQ(::mkdir(m.b.c_str(), 0755), 0);
    m.pa = Mount(m.a, {"-o", options});
    m.pb = Mount(m.b, {"-o", options});
    return m;
  }
  static void UnmountTwo(MountPair& m) {
    Unmount(m.a, m.pa.release());
    Unmount(m.b, m.pb.release());
  }

  // Elapsed seconds since `start`, for the log.
  static double Since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

// ---- rsync

// 3,000 small files in 150 nested folders, four MiB-sized ones (one across
// the writer's 4 MiB pieces), symlinks (one dangling), an empty folder;
// varied modes and nanosecond mtimes.
void MakeRsyncTree(const std::string& root) {
  uint64_t seed = 100;
  for (int d = 0; d < 15; ++d) {
    for (int e = 0; e < 10; ++e) {
      const std::string dir = root + "/d" + std::to_string(d) + "/e" + std::to_string(e);
      std::filesystem::create_directories(dir);
      for (int f = 0; f < 20; ++f) {
        const std::string p = dir + "/f" + std::to_string(f) + ".dat";
        ASSERT_EQ(WriteFile(p, RandomData((seed * 7919) % 3000, seed)), 0) << p;
        static const mode_t kModes[] = {0644, 0600, 0755, 0640};
        ASSERT_EQ(::chmod(p.c_str(), kModes[seed % 4]), 0);
        struct timespec t[2] = {{1500000000, 0},
                                {static_cast<time_t>(1400000000 + seed * 61),
                                 static_cast<long>((seed * 104729) % 1000000000)}};
        ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), t, 0), 0);
        ++seed;
      }
    }
  }
  const size_t big[] = {kMiB, 5 * kMiB / 2, 4 * kMiB + 3, 3 * kMiB};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(WriteFile(root + "/d" + std::to_string(i) + "/big" + std::to_string(i),
                        RandomData(big[i], 900 + i)),
              0);
  }
  for (int i = 0; i < 20; ++i) {
    const std::string target = i == 19 ? "no/such/file" : "e" + std::to_string(i % 10) + "/f1.dat";
    ASSERT_EQ(
        ::symlink(target.c_str(),
                  (root + "/d" + std::to_string(i % 15) + "/link" + std::to_string(i)).c_str()),
        0);
  }
  std::filesystem::create_directories(root + "/empty/dir");
  // Old mtimes for the folders and links too: rsync compares whole seconds
  // (without --modify-window=-1), and "now" would often match the copy's.
  CommandResult r = RunCommand({"sh", "-c",
                                "find " + root +
                                    " -depth \\( -type d -o -type l \\) -exec "
                                    "touch -h -d @1300000000.123456789 {} +"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
}

TEST_F(ProgramsTest, RsyncTreeVerifiesAndSecondRunCopiesNothing) {
  TempDir local("ddbfs-rsync");
  const std::string src = local.path() + "/src";
  MakeRsyncTree(src);
  if (HasFatalFailure()) return;
  const std::string manifest = local.path() + "/manifest";
  CommandResult r =
      Sh("cd " + src + " && find . -type f -print0 | sort -z | xargs -0 sha256sum > " + manifest +
         " && wc -l < " + manifest);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  ASSERT_EQ(r.out, "3004\n");

  auto start = std::chrono::steady_clock::now();
  const std::string dst = P("dst");
  r = RunCommand({"rsync", "-a", src + "/", dst + "/"}, "", seconds(240));
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  std::cout << "rsync of 3004 files: " << Since(start) << " s\n";

  start = std::chrono::steady_clock::now();
  r = Sh("cd " + dst + " && sha256sum --quiet -c " + manifest);
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  std::cout << "sha256sum -c: " << Since(start) << " s\n";
  // Types, names, modes, sizes, mtimes (ns) and link targets as in the source.
  const std::string list =
      "cd DIR && find . ! -type d -printf '%y %p %m %s %T@ %l\\n' | sort && "
      "find . -type d -printf '%p %m %T@\\n' | sort";
  auto listing = [&](const std::string& dir) {
    std::string s = list;
    s.replace(s.find("DIR"), 3, dir);
    return Sh(s);
  };
  CommandResult want = listing(src);
  CommandResult got = listing(dst);
  ASSERT_EQ(want.exit_code, 0) << Show(want);
  ASSERT_EQ(got.exit_code, 0) << Show(got);
  EXPECT_EQ(std::count(want.out.begin(), want.out.end(), '\n'), 3004 + 20 + 168);
  EXPECT_EQ(Diff(want.out, got.out, local.path()), "");

  // The second run finds every file, link and folder up to date, to the
  // nanosecond.
  start = std::chrono::steady_clock::now();
  r = RunCommand(
      {"rsync", "-a", "--modify-window=-1", "--itemize-changes", "--stats", src + "/", dst + "/"},
      "", seconds(240));
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  std::cout << "second rsync: " << Since(start) << " s\n";
  EXPECT_NE(r.out.find("Number of regular files transferred: 0\n"), std::string::npos) << Show(r);
  const std::string itemized = r.out.substr(0, r.out.find("\nNumber of files:"));
  EXPECT_EQ(itemized.find_first_not_of("\n"), std::string::npos) << "rsync changed:\n"
                                                                 << itemized.substr(0, 3000);
}

// ---- git

TEST_F(ProgramsTest, GitCommitGcFsck) {
  TempDir home("ddbfs-git-home");
  const std::vector<std::string> env = {
      "HOME=" + home.path(),        "GIT_CONFIG_NOSYSTEM=1",
      "GIT_AUTHOR_NAME=Tester",     "GIT_AUTHOR_EMAIL=tester@example.com",
      "GIT_COMMITTER_NAME=Tester",  "GIT_COMMITTER_EMAIL=tester@example.com",
      "GIT_AUTHOR_DATE=1600000000", "GIT_COMMITTER_DATE=1600000000"};
  const std::string repo = P("repo");
  auto start = std::chrono::steady_clock::now();
  CommandResult r =
      Sh("set -e\ngit init -q " + repo + "\ncd " + repo +
             "\n"
             "for i in $(seq 1 80); do mkdir -p src/m$((i % 8)); "
             "  seq $i $((i * 40)) > src/m$((i % 8))/f$i.txt; done\n"
             "head -c 3000000 /dev/urandom > blob.bin\n"
             "git add -A\ngit commit -q -m first\n"
             "for i in $(seq 1 80 3); do echo changed $i >> src/m$((i % 8))/f$i.txt; done\n"
             "git rm -q src/m1/f9.txt\ngit mv src/m2/f10.txt moved.txt\n"
             "head -c 1000000 /dev/urandom >> blob.bin\n"
             "git add -A\ngit commit -q -m second\n"
             "git gc -q --prune=now\n"
             "git fsck --full --strict --no-progress\n"
             "git count-objects -v | grep -E '^(count|packs):'\n"
             "git status --porcelain\n"
             "git log --format=%s | tr '\\n' ' '\n",
         env);
  std::cout << "git: " << Since(start) << " s\n";
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "count: 0\npacks: 1\nsecond first ") << Show(r);

  // A clone to a local folder has the same tree as the mount's work tree.
  TempDir local("ddbfs-git-clone");
  r = Sh("set -e\ngit clone -q " + repo + " " + local.path() + "/c\ndiff -r -x .git " + repo + " " +
             local.path() + "/c\ncd " + repo + "\ngit diff --quiet HEAD\n",
         env);
  EXPECT_EQ(r.exit_code, 0) << Show(r);
}

// ---- SQLite in WAL mode

// Writer `w`: single-row transactions and IMMEDIATE batches, waiting up to
// 60 s for the lock; -bail makes any error fail the process.
std::string SqliteWriterScript(int w, int singles, int batches, int batch_rows) {
  std::string s = ".timeout 60000\n";
  int i = 0;
  for (int k = 0; k < singles; ++k, ++i) {
    s += "INSERT INTO t VALUES (" + std::to_string(w) + ", " + std::to_string(i) + ", " +
         std::to_string(w * 100000 + i) + ", hex(randomblob(" + std::to_string(20 + i % 200) +
         ")));\n";
  }
  for (int b = 0; b < batches; ++b) {
    s += "BEGIN IMMEDIATE;\n";
    for (int k = 0; k < batch_rows; ++k, ++i) {
      s += "INSERT INTO t VALUES (" + std::to_string(w) + ", " + std::to_string(i) + ", " +
           std::to_string(w * 100000 + i) + ", hex(randomblob(300)));\n";
    }
    s += "COMMIT;\n";
  }
  return s;
}

TEST_F(ProgramsTest, SqliteWalConcurrentWriters) {
  constexpr int kWriters = 4;
  constexpr int kSingles = 150;
  constexpr int kBatches = 5;
  constexpr int kBatchRows = 40;
  constexpr int kRows = kSingles + kBatches * kBatchRows;
  TempDir local("ddbfs-sqlite");
  const std::string db = P("test.db");
  CommandResult r = RunCommand(
      {"sqlite3", "-bail", db,
       "PRAGMA journal_mode=WAL; CREATE TABLE t(w INTEGER, i INTEGER, v INTEGER, pad TEXT, "
       "PRIMARY KEY (w, i));"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "wal\n");

  std::string script = "cd " + local.path() + "\n";
  for (int w = 1; w <= kWriters; ++w) {
    const std::string sql = local.path() + "/w" + std::to_string(w) + ".sql";
    ASSERT_EQ(WriteFile(sql, SqliteWriterScript(w, kSingles, kBatches, kBatchRows)), 0);
    script += "(sqlite3 -bail " + db + " < " + sql + " > w" + std::to_string(w) +
              ".out 2>&1; echo $? > w" + std::to_string(w) + ".rc) &\n";
  }
  script += "wait\n";
  auto start = std::chrono::steady_clock::now();
  r = Sh(script);
  std::cout << kWriters << " concurrent sqlite3 writers: " << Since(start) << " s\n";
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  for (int w = 1; w <= kWriters; ++w) {
    const std::string base = local.path() + "/w" + std::to_string(w);
    EXPECT_EQ(ReadFile(base + ".rc"), "0\n") << "writer " << w << ":\n" << ReadFile(base + ".out");
  }

  const std::string check =
      "PRAGMA journal_mode; PRAGMA integrity_check; SELECT count(*), sum(v) FROM t; "
      "SELECT w, count(*), min(i), max(i) FROM t GROUP BY w;";
  std::string want = "wal\nok\n" + std::to_string(kWriters * kRows) + "|";
  int64_t sum = 0;
  std::string per_writer;
  for (int w = 1; w <= kWriters; ++w) {
    for (int i = 0; i < kRows; ++i) sum += w * 100000 + i;
    per_writer +=
        std::to_string(w) + "|" + std::to_string(kRows) + "|0|" + std::to_string(kRows - 1) + "\n";
  }
  want += std::to_string(sum) + "\n" + per_writer;
  r = RunCommand({"sqlite3", "-bail", db, check});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, want);
  // The last connection checkpointed into the database file: a copy of that
  // file alone, off the mount, holds every row.
  EXPECT_EQ(ListNames(dir_), std::set<std::string>{"test.db"});
  const std::string copy = local.path() + "/copy.db";
  ASSERT_EQ(WriteFile(copy, ReadFile(db)), 0);
  r = RunCommand({"sqlite3", "-bail", copy, check});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, want);
}

// ---- tar

// Modes (setuid, setgid, sticky, private folders), owners, nanosecond mtimes,
// symlinks and hard links (two and three names).
void MakeTarTree(const std::string& root) {
  struct Node {
    std::string path;
    mode_t mode;  // 0: a folder made by create_directories
    size_t size;
  };
  const std::vector<Node> files = {
      {"a/orig", 0644, 5000},    {"a/setuid", 04755, 100},  {"a/setgid", 02750, 0},
      {"b/c/private", 0600, 10}, {"b/c/exec", 0755, 70000}, {"big", 0644, 2 * kMiB + 5},
      {"three", 0640, 123},      {"empty", 0444, 0},        {"sticky/x", 0666, 1}};
  uint64_t seed = 700;
  for (const Node& f : files) {
    const std::string p = root + "/" + f.path;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    ASSERT_EQ(WriteFile(p, RandomData(f.size, seed++)), 0);
    ASSERT_EQ(::chmod(p.c_str(), f.mode), 0);
  }
  ASSERT_EQ(::chown((root + "/b/c/private").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chown((root + "/a/setgid").c_str(), 0, 42), 0);
  ASSERT_EQ(::chmod((root + "/a/setgid").c_str(), 02750), 0);  // chown cleared it
  ASSERT_EQ(::link((root + "/a/orig").c_str(), (root + "/b/hard").c_str()), 0);
  ASSERT_EQ(::link((root + "/three").c_str(), (root + "/a/three2").c_str()), 0);
  ASSERT_EQ(::link((root + "/three").c_str(), (root + "/b/c/three3").c_str()), 0);
  ASSERT_EQ(::symlink("../a/orig", (root + "/b/rel").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/hostname", (root + "/abs").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (root + "/a/dangling").c_str()), 0);
  std::filesystem::create_directories(root + "/emptydir");
  ASSERT_EQ(::chmod((root + "/sticky").c_str(), 01777), 0);
  ASSERT_EQ(::chmod((root + "/b/c").c_str(), 0700), 0);
  ASSERT_EQ(::chmod((root + "/emptydir").c_str(), 0750), 0);
  // mtimes last, children before their folders.
  CommandResult r =
      RunCommand({"sh", "-c",
                  "cd " + root +
                      " && find . -depth -exec touch -h -d '2019-05-06 07:08:09.123456789' {} + && "
                      "touch -h -d '2001-02-03 04:05:06.5' a/dangling abs b/hard && "
                      "touch -d '2010-01-01 00:00:00.000000001' big"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
}

TEST_F(ProgramsTest, TarRoundTripKeepsModesTimesAndLinks) {
  TempDir local("ddbfs-tar");
  const std::string src = local.path() + "/src";
  MakeTarTree(src);
  if (HasFatalFailure()) return;
  const std::string in = local.path() + "/in.tar";
  const std::string out = local.path() + "/out.tar";
  CommandResult r =
      RunCommand({"tar", "--format=posix", "--sort=name", "-cpf", in, "-C", src, "."});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  const std::string x = P("x");
  ASSERT_EQ(::mkdir(x.c_str(), 0755), 0);
  r = RunCommand({"tar", "-xpf", in, "-C", x});
  ASSERT_EQ(r.exit_code, 0) << Show(r);

  // tar's own comparison: contents, modes, owners, mtimes, link targets.
  r = RunCommand({"tar", "--compare", "-f", in, "-C", x});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  r = RunCommand({"diff", "-r", "--no-dereference", src, x});
  EXPECT_EQ(r.exit_code, 0) << Show(r);

  // Archived again from the mount: the same listing, hard links as links.
  r = RunCommand({"tar", "--format=posix", "--sort=name", "-cpf", out, "-C", x, "."});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  CommandResult want = RunCommand({"tar", "--full-time", "--numeric-owner", "-tvf", in});
  CommandResult got = RunCommand({"tar", "--full-time", "--numeric-owner", "-tvf", out});
  ASSERT_EQ(want.exit_code, 0) << Show(want);
  ASSERT_EQ(got.exit_code, 0) << Show(got);
  EXPECT_EQ(Diff(want.out, got.out, local.path()), "");
  EXPECT_NE(want.out.find("./b/hard link to ./a/orig"), std::string::npos) << want.out;
  EXPECT_NE(want.out.find("./three link to ./a/three2"), std::string::npos) << want.out;

  // Nanosecond times, link counts and inode numbers, as stat sees them.
  const std::string list =
      " && find . ! -type d -printf '%p %y %m %U:%G %n %s %T@ %l\\n' | sort && "
      "find . -type d -printf '%p %m %U:%G %T@\\n' | sort";
  CommandResult stat_src = Sh("cd " + src + list);
  CommandResult stat_x = Sh("cd " + x + list);
  ASSERT_EQ(stat_src.exit_code, 0) << Show(stat_src);
  EXPECT_EQ(Diff(stat_src.out, stat_x.out, local.path()), "");
  EXPECT_EQ(Stat(x + "/a/orig").st_ino, Stat(x + "/b/hard").st_ino);
  EXPECT_EQ(Stat(x + "/a/orig").st_nlink, 2u);
  EXPECT_EQ(Stat(x + "/three").st_ino, Stat(x + "/b/c/three3").st_ino);
  EXPECT_EQ(Stat(x + "/a/three2").st_nlink, 3u);
  EXPECT_NE(Stat(x + "/a/orig").st_ino, Stat(x + "/three").st_ino);
}

// ---- make and the compiler

// Builds a small C project in `dir` as `user` (root when empty): the first
// make compiles everything, the second nothing, and after one source changes
// only that source is compiled again (and the program relinked).
void BuildProject(const std::string& dir, const std::string& user) {
  ASSERT_EQ(WriteFile(dir + "/util.h", "int add(int a, int b);\nconst char* greet(void);\n"), 0);
  ASSERT_EQ(WriteFile(dir + "/main.c",
                      "#include <stdio.h>\n#include \"util.h\"\n"
                      "int main(void) { printf(\"%d %s\\n\", add(2, 3), greet()); return 0; }\n"),
            0);
  ASSERT_EQ(
      WriteFile(dir + "/util.c", "#include \"util.h\"\nint add(int a, int b) { return a + b; }\n"),
      0);
  ASSERT_EQ(WriteFile(dir + "/greet.c",
                      "#include \"util.h\"\nconst char* greet(void) { return \"hello\"; }\n"),
            0);
  ASSERT_EQ(WriteFile(dir + "/Makefile",
                      "OBJS = main.o util.o greet.o\n"
                      "app: $(OBJS)\n\tcc -o $@ $(OBJS)\n"
                      "%.o: %.c util.h\n\tcc -O1 -Wall -c $<\n"),
            0);
  if (!user.empty()) {
    CommandResult r = RunCommand({"chown", "-R", user, dir});
    ASSERT_EQ(r.exit_code, 0) << Show(r);
  }
  auto sh = [&](const std::string& script) {
    std::vector<std::string> argv;
    if (!user.empty()) argv = {"runuser", "-u", user, "--"};
    argv.insert(argv.end(), {"sh", "-c", "cd " + dir + " && " + script});
    return RunCommand(argv, "", seconds(120));
  };
  CommandResult r = sh("make && ./app");
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out,
            "cc -O1 -Wall -c main.c\ncc -O1 -Wall -c util.c\ncc -O1 -Wall -c greet.c\n"
            "cc -o app main.o util.o greet.o\n5 hello\n");
  r = sh("make; make -q");
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "make: 'app' is up to date.\n");

  r = sh("sed -i 's/a + b/a + b + 1/' util.c && make && ./app && make -q");
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "cc -O1 -Wall -c util.c\ncc -o app main.o util.o greet.o\n6 hello\n");
  r = sh("touch greet.c && make && ./app");
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ(r.out, "cc -O1 -Wall -c greet.c\ncc -o app main.o util.o greet.o\n6 hello\n");
  if (!user.empty()) {
    struct passwd* pw = ::getpwnam(user.c_str());
    ASSERT_NE(pw, nullptr);
    EXPECT_EQ(Stat(dir + "/app").st_uid, pw->pw_uid);
    EXPECT_EQ(Stat(dir + "/util.o").st_uid, pw->pw_uid);
  }
}

TEST_F(ProgramsTest, MakeRebuildsOnlyWhatChanged) {
  auto start = std::chrono::steady_clock::now();
  BuildProject(dir_, "");
  std::cout << "make as root: " << Since(start) << " s\n";
}

TEST_F(ProgramsTest, MakeAsUnprivilegedUser) {
  auto start = std::chrono::steady_clock::now();
  BuildProject(dir_, "nobody");
  std::cout << "make as nobody: " << Since(start) << " s\n";
  // Nobody's files stay nobody's: root's private file is out of reach.
  ASSERT_EQ(WriteFile(P("root-only"), "secret", 0600), 0);
  CommandResult r = RunCommand({"runuser", "-u", "nobody", "--", "cat", P("root-only")});
  EXPECT_NE(r.exit_code, 0) << Show(r);
}

// ---- two mounts of one cluster

TEST_F(ProgramsTest, TwoMountsCloseToOpenAndNamespace) {
  MountPair m = MountTwo("mnt", "attr_timeout=1,entry_timeout=1");
  ASSERT_TRUE(m.ok());
  const std::string& a = m.a;
  const std::string& b = m.b;
  const std::string da = a + "/" + name_;
  const std::string db = b + "/" + name_;

  // Close on A, open on B: B reads what A wrote, even while B's kernel
  // still caches the old attributes and pages (read just before).
  ASSERT_EQ(WriteFile(da + "/f", "first version"), 0);
  EXPECT_EQ(ReadFile(db + "/f"), "first version");
  ASSERT_EQ(WriteFile(da + "/f", "second, longer version"), 0);
  EXPECT_EQ(ReadFile(db + "/f"), "second, longer version");
  ASSERT_EQ(WriteFile(da + "/f", "SECOND, LONGER VERSION"), 0);  // same size
  EXPECT_EQ(ReadFile(db + "/f"), "SECOND, LONGER VERSION");
  ASSERT_EQ(WriteFile(da + "/f", "3rd"), 0);  // shorter
  EXPECT_EQ(ReadFile(db + "/f"), "3rd");
  // And the other way, with a large file across the reader's 4 MiB pieces.
  const std::string big = RandomData(6 * kMiB + 7, 61);
  ASSERT_EQ(WriteFile(db + "/big", big), 0);
  EXPECT_TRUE(ReadFile(da + "/big") == big);
  const std::string big2 = RandomData(6 * kMiB + 7, 62);
  ASSERT_EQ(WriteFile(db + "/big", big2), 0);
  EXPECT_TRUE(ReadFile(da + "/big") == big2);
  // fsync publishes too: B opens and reads while A's descriptor is open.
  const int fd = ::open((da + "/synced").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "synced data", 11), 11);
  ASSERT_EQ(::fsync(fd), 0);
  EXPECT_EQ(ReadFile(db + "/synced"), "synced data");
  ASSERT_EQ(::close(fd), 0);

  // Namespace changes on A reach B within the attribute/entry timeout.
  auto visible = [](const std::function<bool()>& cond) {
    return WaitFor(cond, std::chrono::milliseconds(1500));
  };
  auto exists = [](const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
  };
  EXPECT_FALSE(exists(db + "/newdir"));
  ASSERT_EQ(::mkdir((da + "/newdir").c_str(), 0700), 0);
  EXPECT_TRUE(visible([&] { return exists(db + "/newdir"); })) << "mkdir";
  ASSERT_EQ(::rename((da + "/f").c_str(), (da + "/newdir/g").c_str()), 0);
  EXPECT_TRUE(visible([&] { return !exists(db + "/f") && exists(db + "/newdir/g"); })) << "rename";
  EXPECT_EQ(ReadFile(db + "/newdir/g"), "3rd");
  ASSERT_EQ(::chmod((da + "/newdir/g").c_str(), 0600), 0);
  EXPECT_TRUE(visible([&] { return (Stat(db + "/newdir/g").st_mode & 07777) == 0600; })) << "chmod";
  ASSERT_EQ(::symlink("newdir/g", (da + "/sym").c_str()), 0);
  EXPECT_TRUE(visible([&] { return exists(db + "/sym"); })) << "symlink";
  EXPECT_EQ(ReadFile(db + "/sym"), "3rd");
  ASSERT_EQ(::unlink((da + "/newdir/g").c_str()), 0);
  EXPECT_TRUE(visible([&] { return !exists(db + "/newdir/g"); })) << "unlink";
  ASSERT_EQ(::rmdir((da + "/newdir").c_str()), 0);
  EXPECT_TRUE(visible([&] { return !exists(db + "/newdir"); })) << "rmdir";
  EXPECT_TRUE(visible([&] { return ListNames(db) == ListNames(da); }));
  EXPECT_EQ(ListNames(db), (std::set<std::string>{"big", "sym", "synced"}));

  UnmountTwo(m);
}

// -o negative_timeout: mount A caches "no such name" for 2 s, so a name
// mount B creates stays absent on A until then, while a create through A
// itself is seen at once; B (default 0) caches no absence.
TEST_F(ProgramsTest, AnAbsentNameIsCachedOnlyWithANegativeTimeout) {
  const std::string a = work_->path() + "/neg-a";
  const std::string b = work_->path() + "/neg-b";
  ASSERT_EQ(::mkdir(a.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(b.c_str(), 0755), 0);
  std::unique_ptr<Process> pa = Mount(a, {"-o", "negative_timeout=2"});
  std::unique_ptr<Process> pb = Mount(b, {});
  ASSERT_TRUE(pa && pb);
  const std::string da = a + "/" + name_;
  const std::string db = b + "/" + name_;
  auto exists = [](const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
  };

  ASSERT_FALSE(exists(da + "/x"));  // cached as absent on A
  ASSERT_EQ(WriteFile(db + "/x", "made on B"), 0);
  const auto made = std::chrono::steady_clock::now();
  EXPECT_FALSE(exists(da + "/x")) << "A did not cache the absence";
  ASSERT_TRUE(WaitFor([&] { return exists(da + "/x"); }, std::chrono::seconds(5)));
  const double seen_after = Since(made);
  EXPECT_GT(seen_after, 0.5);
  EXPECT_LT(seen_after, 3.5);
  EXPECT_EQ(ReadFile(da + "/x"), "made on B");

  // A's own create replaces the cached absence at once.
  ASSERT_FALSE(exists(da + "/y"));
  ASSERT_EQ(WriteFile(da + "/y", "made on A"), 0);
  EXPECT_TRUE(exists(da + "/y"));
  ASSERT_FALSE(exists(da + "/d"));
  ASSERT_EQ(::mkdir((da + "/d").c_str(), 0755), 0);
  EXPECT_TRUE(exists(da + "/d"));

  // B caches no absence: A's create is there at B's next lookup.
  ASSERT_FALSE(exists(db + "/z"));
  ASSERT_EQ(WriteFile(da + "/z", "z"), 0);
  EXPECT_TRUE(exists(db + "/z"));

  Unmount(a, pa.release());
  Unmount(b, pb.release());
}

// Appends from two mounts, one after the other (close-to-open), while the
// second mount's kernel still caches the file's old size (a long
// attr_timeout here): the kernel put the O_APPEND write at that old size,
// over the first mount's appended bytes. The mount places O_APPEND writes at
// the end it knows instead.
TEST_F(ProgramsTest, AppendsFromTwoMountsWithinTheAttributeTimeoutKeepEveryByte) {
  MountPair m = MountTwo("app", "attr_timeout=60,entry_timeout=60");
  ASSERT_TRUE(m.ok());
  const std::string& a = m.a;
  const std::string& b = m.b;
  const std::string fa = a + "/" + name_ + "/log";
  const std::string fb = b + "/" + name_ + "/log";
  ASSERT_EQ(WriteFile(fa, "first line\n"), 0);
  EXPECT_EQ(Stat(fb).st_size, 11);  // B's kernel now caches size 11 for 60 s
  auto append = [](const std::string& path, const std::string& line) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return errno;
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    const int err = ok ? 0 : errno;
    return ::close(fd) == 0 ? err : errno;
  };
  ASSERT_EQ(append(fa, "from A\n"), 0);
  ASSERT_EQ(append(fb, "from B\n"), 0);
  ASSERT_EQ(append(fb, "B again\n"), 0);
  const std::string want = "first line\nfrom A\nfrom B\nB again\n";
  EXPECT_EQ(ReadFile(fa), want);
  EXPECT_EQ(ReadFile(fb), want);
  UnmountTwo(m);
}

// A file another mount grew within B's attribute timeout: B's open learns
// the new size (stat shows it at once), and a shared writable mapping of it
// (SQLite's -shm, any mmap-based program) works and holds the new data; a
// store through it reaches A after msync and close.
TEST_F(ProgramsTest, SharedMmapOfAFileAnotherMountJustGrew) {
  MountPair m = MountTwo("mm", "attr_timeout=60,entry_timeout=60");
  ASSERT_TRUE(m.ok());
  const std::string& a = m.a;
  const std::string& b = m.b;
  const std::string fa = a + "/" + name_ + "/shm";
  const std::string fb = b + "/" + name_ + "/shm";
  ASSERT_EQ(WriteFile(fa, "tiny"), 0);
  EXPECT_EQ(Stat(fb).st_size, 4);  // B's kernel now caches size 4 for 60 s
  const std::string grown = RandomData(32768, 71);
  ASSERT_EQ(WriteFile(fa, grown), 0);

  const int fd = ::open(fb.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 32768) << "B's open did not learn the new size";
  void* map = ::mmap(nullptr, grown.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED) << "mmap(MAP_SHARED) on B: " << std::strerror(errno);
  EXPECT_EQ(std::memcmp(map, grown.data(), grown.size()), 0);
  std::memcpy(static_cast<char*>(map) + 20000, "stored through B", 16);
  EXPECT_EQ(::msync(map, grown.size(), MS_SYNC), 0) << std::strerror(errno);
  EXPECT_EQ(::munmap(map, grown.size()), 0);
  EXPECT_EQ(::close(fd), 0);
  std::string want = grown;
  want.replace(20000, 16, "stored through B");
  EXPECT_TRUE(ReadFile(fa) == want);
  UnmountTwo(m);
}

// A file that only grows never shows a smaller size: stat on a mount with
// attr_timeout=0 (every stat asks the mount) while the same mount appends
// and closes over and over. A stat racing with a commit must not hand the
// kernel the size from before that commit (the kernel would believe it,
// cut its cached pages there and end reads at it).
TEST_F(ProgramsTest, StatNeverShowsAGrowingFileShrink) {
  const std::string m = work_->path() + "/grow";
  ASSERT_EQ(::mkdir(m.c_str(), 0755), 0);
  std::unique_ptr<Process> pm = Mount(m, {"-o", "attr_timeout=0,entry_timeout=0"});
  ASSERT_NE(pm, nullptr);
  const std::string f = m + "/" + name_ + "/log";
  ASSERT_EQ(WriteFile(f, ""), 0);
  constexpr int kAppends = 1500;
  std::atomic<bool> done{false};
  std::atomic<int> shrinks{0};
  std::atomic<int> stats{0};
  std::string first_shrink;
  std::mutex mu;
  auto watch = [&] {
    off_t last = 0;
    while (!done.load()) {
      struct stat st;
      if (::stat(f.c_str(), &st) != 0) continue;
      stats++;
      if (st.st_size < last) {
        std::lock_guard<std::mutex> lock(mu);
        if (shrinks++ == 0) {
          first_shrink = std::to_string(last) + " -> " + std::to_string(st.st_size);
        }
      }
      last = std::max(last, st.st_size);
    }
  };
  std::thread w1(watch), w2(watch);
  const std::string line(100, 'x');
  int failed = 0;
  for (int i = 0; i < kAppends; ++i) {
    const int fd = ::open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != 100) failed++;
    if (fd >= 0 && ::close(fd) != 0) failed++;
  }
  done = true;
  w1.join();
  w2.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(shrinks.load(), 0) << "first: " << first_shrink << " (" << stats.load() << " stats)";
  EXPECT_EQ(Stat(f).st_size, static_cast<off_t>(kAppends * line.size()));
  std::cout << kAppends << " appends and closes, " << stats.load() << " stats\n";
  Unmount(m, pm.release());
}

}  // namespace
}  // namespace ddbfs::testing
