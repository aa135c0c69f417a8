// A random-operation exerciser on a real mount: a fixed-seed sequence of
// writes, reads, truncates, hole-leaving writes, mmap reads and writes with
// msync, fsyncs and reopens on several sparse files whose data straddles the
// chunk boundaries at 64 MiB and 128 MiB. Every read is compared byte for
// byte with an in-memory model; a failure names the seed, the operation and
// the first differing offset. DDBFS_EXERCISER_SEED=N replays another seed.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "fuse_fixture.h"
#include "process.h"
#include "test_cluster.h"

namespace ddbfs::testing {
namespace {

constexpr uint64_t kKiB = 1024;

// The bytes a file should hold: pages of kPage bytes, an absent page reads
// as zeros. Bytes past size() are zero in every page (a truncate clears them).
class FileModel {
 public:
  uint64_t size() const { return size_; }

  void Write(uint64_t off, std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      const uint64_t pos = off + done;
      auto it = pages_.try_emplace(pos / kPage, std::string(kPage, '\0')).first;
      const size_t in = pos % kPage;
      const size_t n = std::min<size_t>(data.size() - done, kPage - in);
      it->second.replace(in, n, data.substr(done, n));
      done += n;
    }
    size_ = std::max<uint64_t>(size_, off + data.size());
  }

  void Truncate(uint64_t size) {
    if (size < size_) {
      pages_.erase(pages_.lower_bound((size + kPage - 1) / kPage), pages_.end());
      auto it = pages_.find(size / kPage);
      if (it != pages_.end()) {
        std::fill(it->second.begin() + static_cast<ptrdiff_t>(size % kPage), it->second.end(),
                  '\0');
      }
    }
    size_ = size;
  }

  // The ranges [start, end) of the pages that hold data, adjacent ones merged.
  std::vector<std::pair<uint64_t, uint64_t>> Pages() const {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& [index, page] : pages_) {
      if (!ranges.empty() && ranges.back().second == index * kPage) {
        ranges.back().second += kPage;
      } else {
        ranges.emplace_back(index * kPage, (index + 1) * kPage);
      }
    }
    return ranges;
  }

  // What a read of `len` bytes at `off` returns (short at the end).
  std::string Read(uint64_t off, size_t len) const {
    if (off >= size_) return "";
    len = static_cast<size_t>(std::min<uint64_t>(len, size_ - off));
    std::string out(len, '\0');
    for (auto it = pages_.lower_bound(off / kPage);
         it != pages_.end() && it->first * kPage < off + len; ++it) {
      const uint64_t start = std::max<uint64_t>(off, it->first * kPage);
      const uint64_t end = std::min<uint64_t>(off + len, (it->first + 1) * kPage);
      std::memcpy(out.data() + (start - off), it->second.data() + (start - it->first * kPage),
                  end - start);
    }
    return out;
  }

 private:
  static constexpr uint64_t kPage = 64 * kKiB;
  uint64_t size_ = 0;
  std::map<uint64_t, std::string> pages_;
};

// Runs the operations of one seed on files in one folder. Not thread-safe.
class Exerciser {
 public:
  Exerciser(uint64_t seed, const std::string& dir, int files) : seed_(seed), rng_(seed) {
    for (int i = 0; i < files; ++i) {
      files_.push_back(File{dir + "/file" + std::to_string(i), -1, {}});
    }
  }
  ~Exerciser() {
    for (File& f : files_) {
      if (f.fd >= 0) ::close(f.fd);
    }
  }

  // Opens (creates) every file.
  bool Open() {
    for (File& f : files_) {
      f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (f.fd < 0) return Fail("open " + f.path + ": " + std::strerror(errno));
    }
    return true;
  }

  // Operations [from, to) of the sequence; false at the first failure.
  bool Run(int from, int to) {
    for (int i = from; i < to; ++i) {
      op_ = i;
      if (!Step()) return false;
    }
    return true;
  }

  // Closes every file (close must succeed: it commits).
  bool CloseAll() {
    for (File& f : files_) {
      if (f.fd >= 0 && ::close(f.fd) != 0) {
        f.fd = -1;
        return Fail("close " + f.path + ": " + std::strerror(errno));
      }
      f.fd = -1;
    }
    return true;
  }

  // Reads every page that holds data, the end and two holes through
  // `read(path, off, len)` and compares it with the model.
  template <typename ReadFn>
  bool Verify(const std::string& how, ReadFn read) {
    for (File& f : files_) {
      const uint64_t size = f.model.size();
      std::vector<std::pair<uint64_t, uint64_t>> ranges = f.model.Pages();
      ranges.emplace_back(size > kMiB ? size - kMiB : 0, size + kKiB);
      ranges.emplace_back(10 * kMiB, 10 * kMiB + 4096);    // a hole
      ranges.emplace_back(100 * kMiB, 100 * kMiB + 4096);  // a hole in the second chunk
      for (auto [start, end] : ranges) {
        std::string got;
        const std::string what =
            how + " " + f.path + " [" + std::to_string(start) + ", " + std::to_string(end) + ")";
        if (!read(f.path, start, end - start, &got)) return Fail(what + ": read failed");
        if (!Same(what, start, got, f.model.Read(start, end - start))) return false;
      }
    }
    return true;
  }

  const std::string& failure() const { return failure_; }
  int ops_done() const { return op_; }

 private:
  struct File {
    std::string path;
    int fd;
    FileModel model;
  };

  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // [lo, hi]
    return lo + rng_() % (hi - lo + 1);
  }

  // Mostly near a chunk boundary (0, 64 MiB, 128 MiB) or near the end of
  // the file, sometimes anywhere below 130 MiB (mostly holes).
  uint64_t PickOffset(const FileModel& m) {
    const uint64_t r = rng_() % 10;
    if (r < 7) {
      const uint64_t anchor = kChunkSize * (rng_() % 3);
      const uint64_t delta = Uniform(0, 256 * kKiB);
      return (rng_() % 2 == 0 && anchor >= delta) ? anchor - delta : anchor + delta;
    }
    if (r < 9) {
      const uint64_t delta = Uniform(0, 64 * kKiB);
      return (rng_() % 2 == 0 && m.size() >= delta) ? m.size() - delta : m.size() + delta;
    }
    return Uniform(0, 130 * kMiB);
  }

  size_t PickLength() {
    switch (rng_() % 4) {
      case 0:
        return Uniform(1, 512);
      case 1:
        return Uniform(1, 8 * kKiB);
      case 2:
        return Uniform(1, 64 * kKiB);
      default:
        return Uniform(64 * kKiB, 300 * kKiB);
    }
  }

  std::string Data(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t v = rng_();
      std::memcpy(&s[i], &v, std::min<size_t>(8, n - i));
    }
    return s;
  }

  bool Fail(const std::string& what) {
    failure_ = "seed " + std::to_string(seed_) + ", operation " + std::to_string(op_) + ": " +
               what + "\nlast operations:\n";
    for (const std::string& l : log_) failure_ += "  " + l + "\n";
    return false;
  }

  bool Same(const std::string& what, uint64_t off, const std::string& got,
            const std::string& want) {
    if (got == want) return true;
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    return Fail(what + ": got " + std::to_string(got.size()) + " bytes, want " +
                std::to_string(want.size()) + "; first difference at offset " +
                std::to_string(off + i));
  }

  void Log(const std::string& line) {
    log_.push_back(std::to_string(op_) + " " + line);
    if (log_.size() > 12) log_.pop_front();
  }

  static std::string Range(uint64_t off, size_t len) {
    return "[" + std::to_string(off) + ", +" + std::to_string(len) + ")";
  }

  bool Step() {
    File& f = files_[rng_() % files_.size()];
    const std::string name = f.path.substr(f.path.rfind('/') + 1);
    const uint64_t r = rng_() % 100;
    if (r < 30) {  // write (past the end: leaves a hole)
      const uint64_t off = PickOffset(f.model);
      const std::string data = Data(PickLength());
      Log("pwrite " + name + " " + Range(off, data.size()));
      const ssize_t n = ::pwrite(f.fd, data.data(), data.size(), static_cast<off_t>(off));
      if (n != static_cast<ssize_t>(data.size())) {
        return Fail("pwrite returned " + std::to_string(n) + ": " + std::strerror(errno));
      }
      f.model.Write(off, data);
    } else if (r < 55) {  // read through the same descriptor
      const uint64_t off = PickOffset(f.model);
      const size_t len = PickLength();
      Log("pread " + name + " " + Range(off, len));
      return Same("pread " + name, off, PRead(f.fd, len, static_cast<off_t>(off)),
                  f.model.Read(off, len));
    } else if (r < 60) {  // read through a new descriptor
      const uint64_t off = PickOffset(f.model);
      const size_t len = PickLength();
      Log("open+pread " + name + " " + Range(off, len));
      const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return Fail(std::string("open: ") + std::strerror(errno));
      const std::string got = PRead(fd, len, static_cast<off_t>(off));
      ::close(fd);
      return Same("open+pread " + name, off, got, f.model.Read(off, len));
    } else if (r < 64) {  // write through a new descriptor, then close it
      const uint64_t off = PickOffset(f.model);
      const std::string data = Data(PickLength());
      Log("open+pwrite+close " + name + " " + Range(off, data.size()));
      const int fd = ::open(f.path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return Fail(std::string("open: ") + std::strerror(errno));
      const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
      const int err = errno;
      if (::close(fd) != 0) return Fail(std::string("close: ") + std::strerror(errno));
      if (n != static_cast<ssize_t>(data.size())) {
        return Fail("pwrite returned " + std::to_string(n) + ": " + std::strerror(err));
      }
      f.model.Write(off, data);
    } else if (r < 72) {  // truncate up or down
      const uint64_t size = rng_() % 20 == 0 ? 0 : PickOffset(f.model);
      Log("ftruncate " + name + " " + std::to_string(size) + " (was " +
          std::to_string(f.model.size()) + ")");
      if (::ftruncate(f.fd, static_cast<off_t>(size)) != 0) {
        return Fail(std::string("ftruncate: ") + std::strerror(errno));
      }
      f.model.Truncate(size);
    } else if (r < 82) {  // mmap: write (and msync) or read
      if (f.model.size() == 0) return true;
      const uint64_t off = std::min(PickOffset(f.model), f.model.size() - 1);
      const size_t len =
          static_cast<size_t>(std::min<uint64_t>(PickLength(), f.model.size() - off));
      const uint64_t map_off = off & ~uint64_t{4095};
      const size_t map_len = static_cast<size_t>(off + len - map_off);
      const bool write = r < 78;
      Log(std::string(write ? "mmap write+msync " : "mmap read ") + name + " " + Range(off, len));
      void* p = ::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd,
                       static_cast<off_t>(map_off));
      if (p == MAP_FAILED) return Fail(std::string("mmap: ") + std::strerror(errno));
      char* at = static_cast<char*>(p) + (off - map_off);
      bool ok = true;
      if (write) {
        const std::string data = Data(len);
        std::memcpy(at, data.data(), len);
        if (::msync(p, map_len, MS_SYNC) != 0) {
          ok = Fail(std::string("msync: ") + std::strerror(errno));
        }
        f.model.Write(off, data);
      } else {
        ok = Same("mmap read " + name, off, std::string(at, len), f.model.Read(off, len));
      }
      ::munmap(p, map_len);
      return ok;
    } else if (r < 88) {  // fsync / fdatasync
      const bool data_only = rng_() % 2 == 0;
      Log(std::string(data_only ? "fdatasync " : "fsync ") + name);
      if ((data_only ? ::fdatasync(f.fd) : ::fsync(f.fd)) != 0) {
        return Fail(std::string("fsync: ") + std::strerror(errno));
      }
    } else if (r < 94) {  // close and reopen
      Log("close+open " + name);
      const int rc = ::close(f.fd);
      f.fd = ::open(f.path.c_str(), O_RDWR | O_CLOEXEC);
      if (rc != 0) return Fail(std::string("close: ") + std::strerror(errno));
      if (f.fd < 0) return Fail(std::string("reopen: ") + std::strerror(errno));
    } else {  // sizes as fstat and stat see them
      Log("stat " + name);
      struct stat st;
      if (::fstat(f.fd, &st) != 0) return Fail(std::string("fstat: ") + std::strerror(errno));
      if (static_cast<uint64_t>(st.st_size) != f.model.size()) {
        return Fail("fstat size " + std::to_string(st.st_size) + ", want " +
                    std::to_string(f.model.size()));
      }
      if (::stat(f.path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != f.model.size()) {
        return Fail("stat size " + std::to_string(st.st_size) + ", want " +
                    std::to_string(f.model.size()));
      }
    }
    return true;
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<File> files_;
  int op_ = 0;
  std::deque<std::string> log_;
  std::string failure_;
};

uint64_t SeedOr(uint64_t fixed) {
  const char* env = std::getenv("DDBFS_EXERCISER_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : fixed;
  std::cout << "exerciser seed " << seed << " (DDBFS_EXERCISER_SEED=" << seed << " replays it)\n";
  return seed;
}

// Reads through a new descriptor on the mount.
bool ReadThroughMount(const std::string& path, uint64_t off, size_t len, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  *out = PRead(fd, len, static_cast<off_t>(off));
  return ::close(fd) == 0;
}

class ExerciserTest : public FuseTest {
 protected:
  // Reads through a libddbfs client of its own (what the cluster holds).
  bool ReadThroughClient(Client* client, const std::string& path, uint64_t off, size_t len,
                         std::string* out) {
    Result<Attr> a = client->ResolvePath(path.substr(mnt_.size()));
    if (!a.ok()) return false;
    auto reader = client->OpenReader(a->inode);
    if (!reader.ok()) return false;
    out->assign(static_cast<size_t>(std::min<uint64_t>(len, a->size > off ? a->size - off : 0)),
                '\0');
    size_t got = 0;
    while (got < out->size()) {
      Result<size_t> n =
          (*reader)->Read(off + got, std::span<char>(out->data() + got, out->size() - got));
      if (!n.ok() || *n == 0) break;
      got += *n;
    }
    out->resize(got);
    return true;
  }

  void VerifyEverywhere(Exerciser& ex) {
    EXPECT_TRUE(ex.Verify("mount", ReadThroughMount)) << ex.failure();
    std::unique_ptr<Client> client = cluster_->NewClient();
    ASSERT_NE(client, nullptr);
    EXPECT_TRUE(ex.Verify("client", [&](const std::string& path, uint64_t off, size_t len,
                                        std::string* out) {
      return ReadThroughClient(client.get(), path, off, len, out);
    })) << ex.failure();
  }
};

constexpr int kFiles = 4;
constexpr int kOps = 4000;

TEST_F(ExerciserTest, RandomOperationsMatchModel) {
  const auto start = std::chrono::steady_clock::now();
  Exerciser ex(SeedOr(20240601), dir_, kFiles);
  ASSERT_TRUE(ex.Open()) << ex.failure();
  ASSERT_TRUE(ex.Run(0, kOps)) << ex.failure();
  ASSERT_TRUE(ex.CloseAll()) << ex.failure();
  VerifyEverywhere(ex);
  std::cout << kOps << " operations: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
}

// A chunk server is killed (SIGKILL) a third of the way through and started
// again at two thirds. With goal 2 and three servers every acknowledged byte
// survives: reads match the model throughout, and at the end the data is
// still all there with any one other server down. Seed 3 kills the server
// between a chunk's last write and its fsync, on an open chunk and on one
// already committed: fsync/msync must still succeed (the sync recovers the
// pipeline, or is durable on every live replica) — it failed with EIO
// before file_writer's SyncChunks learnt that.
TEST_F(ExerciserTest, RandomOperationsSurviveChunkServerKill) {
  ASSERT_EQ(cluster_->chunk_server_count(), 3);
  const auto start = std::chrono::steady_clock::now();
  Exerciser ex(SeedOr(3), dir_, kFiles);
  ASSERT_TRUE(ex.Open()) << ex.failure();
  ASSERT_TRUE(ex.Run(0, kOps / 3)) << ex.failure();
  cluster_->KillChunkServer(0, SIGKILL);
  ASSERT_TRUE(ex.Run(kOps / 3, 2 * kOps / 3)) << ex.failure() << "\n(chunk server 0 killed)";
  cluster_->StartChunkServer(0);
  ASSERT_TRUE(ex.Run(2 * kOps / 3, kOps)) << ex.failure() << "\n(chunk server 0 restarted)";
  ASSERT_TRUE(ex.CloseAll()) << ex.failure();
  // The kill hit writes: the writer replaced the dead replica (pipeline
  // recovery) instead of going on below goal.
  const std::string log = mount_->Log();
  EXPECT_NE(log.find(" recovered: version"), std::string::npos) << mount_->LogTail();
  std::cout << "writes that replaced the dead replica: " << std::count(log.begin(), log.end(), '\n')
            << " log lines, " <<
      [&] {
        size_t n = 0;
        for (size_t p = log.find("recovered:"); p != std::string::npos;
             p = log.find("recovered:", p + 1)) {
          ++n;
        }
        return n;
      }() << " recoveries\n";
  VerifyEverywhere(ex);
  ASSERT_TRUE(cluster_->WaitForAliveServers(3, 10000));
  cluster_->KillChunkServer(1, SIGKILL);
  VerifyEverywhere(ex);
  cluster_->StartChunkServer(1);
  ASSERT_TRUE(cluster_->WaitForAliveServers(3, 10000));
  std::cout << kOps << " operations with a chunk server killed and restarted: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
}

}  // namespace
}  // namespace ddbfs::testing
