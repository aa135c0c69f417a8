#pragma once

// Helpers of the `ddbfs` CLI tests: running the real binary, building local
// trees, and describing trees (local or in DDBFS) for comparison.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "process.h"
#include "test_cluster.h"

namespace ddbfs::testing {

inline std::string DdbfsBin() { return std::string(DDBFS_BINARY_DIR) + "/bin/ddbfs"; }

// Runs `ddbfs --meta <meta> args...`.
inline CommandResult Ddbfs(const std::string& meta, const std::vector<std::string>& args,
                           const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {DdbfsBin(), "--meta", meta};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", std::chrono::seconds(120), env);
}

inline std::string Show(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out.substr(0, 2000) +
         "\nstderr: " + r.err.substr(0, 2000);
}

// True when `err` is exactly one line starting with "ddbfs: ".
inline bool OneErrorLine(const std::string& err) {
  return err.rfind("ddbfs: ", 0) == 0 && !err.empty() && err.back() == '\n' &&
         std::count(err.begin(), err.end(), '\n') == 1;
}

inline std::string RandomData(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

inline void WriteLocal(const std::string& path, const std::string& data, mode_t mode) {
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

inline std::string ReadLocal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void SetMtime(const std::string& path, int64_t sec, long nsec) {
  struct timespec times[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// One line per entry below `root`, sorted: type, mode, mtime (files and
// directories), size and content hash (files), target (symlinks).
inline std::string DescribeLocalTree(const std::string& root) {
  std::vector<std::string> lines;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    std::string rel = e.path().string().substr(root.size());
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0) {
      lines.push_back(rel + " unreadable");
      continue;
    }
    std::ostringstream line;
    line << rel << " ";
    if (S_ISLNK(st.st_mode)) {
      line << "link -> " << std::filesystem::read_symlink(e.path()).string();
    } else {
      line << (S_ISDIR(st.st_mode) ? "dir " : "file ") << std::oct << (st.st_mode & 07777)
           << std::dec << " mtime " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
      if (S_ISREG(st.st_mode)) {
        line << " size " << st.st_size << " hash "
             << std::hash<std::string>()(ReadLocal(e.path().string()));
      }
    }
    lines.push_back(line.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Every path in DDBFS with its type, mode, size and mtime (a snapshot to
// check that a failed command changed nothing).
inline std::string DescribeNamespace(Client& c) {
  std::string out;
  std::function<void(InodeId, const std::string&)> walk = [&](InodeId dir,
                                                              const std::string& path) {
    auto entries = c.ListDir(dir);
    if (!entries.ok()) {
      out += path + " unlistable\n";
      return;
    }
    for (const auto& e : *entries) {
      std::string p = path + "/" + e.name;
      out += p + " " + std::to_string(static_cast<int>(e.attr.type)) + " " +
             std::to_string(e.attr.mode) + " " + std::to_string(e.attr.size) + " " +
             std::to_string(e.attr.mtime_ns) + "\n";
      if (e.attr.type == FileType::kDirectory) walk(e.attr.inode, p);
    }
  };
  walk(kRootInode, "");
  return out;
}

}  // namespace ddbfs::testing
