#pragma once

// What the fuse tests share: one real cluster and one real `ddbfs-mount -f
// -o allow_other` for a test suite (FuseTest), each test in its own folder
// of the mount, and small helpers for files and commands. Runs as root.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "test_cluster.h"

namespace ddbfs::testing {

constexpr long kFuseSuperMagic = 0x65735546;
constexpr size_t kMiB = 1 << 20;

inline bool IsFuseMount(const std::string& path) {
  struct statfs sf;
  return ::statfs(path.c_str(), &sf) == 0 && sf.f_type == kFuseSuperMagic;
}

inline std::string RandomData(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (size_t i = size - size % 8; i < size; ++i) s[i] = static_cast<char>(rng());
  return s;
}

// 0 or the errno of the first failing call.
inline int WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644,
                     int extra_flags = O_TRUNC) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | extra_flags, mode);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, std::min(data.size() - done, kMiB));
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return err;
    }
    done += static_cast<size_t>(n);
  }
  return ::close(fd) == 0 ? 0 : errno;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string PRead(int fd, size_t size, off_t off) {
  std::string s(size, '\0');
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::pread(fd, s.data() + got, size - got, off + static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  s.resize(got);
  return s;
}

// errno of a call that should fail (0 if it succeeded).
template <typename F>
int ErrnoOf(F call) {
  errno = 0;
  const auto r = call();
  return r < 0 ? errno : 0;
}

inline std::set<std::string> ListNames(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.insert(e->d_name);
    }
  }
  ::closedir(d);
  return names;
}

inline struct stat Stat(const std::string& path) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st;
}

inline std::string Show(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out.substr(0, 2000) +
         "\nstderr: " + r.err.substr(0, 2000);
}

class FuseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = TestCluster::Start().release();
    if (cluster_ == nullptr) return;
    work_ = new TempDir("ddbfs-fuse");
    mnt_ = work_->path() + "/mnt";
    ::mkdir(mnt_.c_str(), 0755);
    mount_ = Mount(mnt_, {"-o", "allow_other"}).release();
  }

  static void TearDownTestSuite() {
    if (mount_) Unmount(mnt_, mount_);
    mount_ = nullptr;
    delete work_;  // after unmounting: it removes what is below it
    work_ = nullptr;
    delete cluster_;
    cluster_ = nullptr;
  }

  // Starts `ddbfs-mount -f` on `mnt` and waits until it is mounted.
  static std::unique_ptr<Process> Mount(const std::string& mnt,
                                        const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--meta", cluster_->meta_address(), mnt, "-f"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<Process>(
        cluster_->bin("ddbfs-mount"), args,
        work_->path() + "/mount-" + std::filesystem::path(mnt).filename().string() + ".log");
    if (!WaitFor([&] { return IsFuseMount(mnt) || !p->running(); }, std::chrono::seconds(20)) ||
        !IsFuseMount(mnt)) {
      ADD_FAILURE() << "ddbfs-mount did not mount " << mnt << "; log:\n" << p->LogTail();
      return nullptr;
    }
    return p;
  }

  static void Unmount(const std::string& mnt, Process* p) {
    CommandResult r = RunCommand({"fusermount3", "-u", mnt}, "", std::chrono::seconds(30));
    if (r.exit_code != 0) {
      ADD_FAILURE() << "fusermount3 -u " << mnt << ": " << Show(r);
      RunCommand({"fusermount3", "-uz", mnt});
    }
    auto status = p->Wait(std::chrono::seconds(20));
    EXPECT_TRUE(status.has_value()) << "ddbfs-mount still runs after unmount";
    if (status) {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "status " << *status << "; log:\n"
          << p->LogTail();
    }
    EXPECT_EQ(p->Log().find(" E ddbfs-mount"), std::string::npos) << p->LogTail();
    delete p;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    ASSERT_NE(mount_, nullptr);
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = mnt_ + "/" + name_;
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << std::strerror(errno);
  }

  // A failed test shows what the mount logged (an EIO's cause, say).
  void TearDown() override {
    if (HasFailure() && mount_ != nullptr) {
      std::cout << "ddbfs-mount log (tail):\n" << mount_->LogTail() << "\n";
    }
  }

  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }
  // The same path as DDBFS names it.
  std::string DdbfsPath(const std::string& rel) const { return "/" + name_ + "/" + rel; }

  static inline TestCluster* cluster_ = nullptr;
  static inline TempDir* work_ = nullptr;
  static inline std::string mnt_;
  static inline Process* mount_ = nullptr;
  std::string name_;
  std::string dir_;
};

}  // namespace ddbfs::testing
