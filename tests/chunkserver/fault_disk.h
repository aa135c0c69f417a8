#pragma once

// A DiskFile in memory that simulates losing power, in the spirit of
// leveldb's FaultInjectionTestEnv: every write and hole punch since the last
// Sync is kept in a list, and Crash() lets each of them, chosen by a seeded
// generator, land whole, land torn (only a prefix of its bytes), or vanish.
// What survives is the new durable content. Freeze() makes the process
// "die" at once: later calls change nothing.

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "disk_file.h"

namespace ddbfs::chunkserver::testing {

// File content as 4 KiB pages (the chunk file's B region is 64 MiB away
// from A: a flat string would be large).
class SparseImage {
 public:
  static constexpr uint64_t kPage = 4096;

  uint64_t size() const { return size_; }
  size_t Read(uint64_t offset, char* buf, size_t len) const {
    if (offset >= size_) return 0;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, size_ - offset));
    for (size_t done = 0; done < n;) {
      const uint64_t at = offset + done;
      const uint64_t page = at / kPage;
      const size_t in = static_cast<size_t>(at % kPage);
      const size_t step = std::min<size_t>(n - done, kPage - in);
      auto it = pages_.find(page);
      if (it == pages_.end()) {
        std::memset(buf + done, 0, step);
      } else {
        std::memcpy(buf + done, it->second.data() + in, step);
      }
      done += step;
    }
    return n;
  }
  void Write(uint64_t offset, const char* data, size_t len) {
    for (size_t done = 0; done < len;) {
      const uint64_t at = offset + done;
      const size_t in = static_cast<size_t>(at % kPage);
      const size_t step = std::min<size_t>(len - done, kPage - in);
      auto& page = pages_[at / kPage];
      std::memcpy(page.data() + in, data + done, step);
      done += step;
    }
    size_ = std::max<uint64_t>(size_, offset + len);
  }
  void Punch(uint64_t offset, uint64_t len) {
    const uint64_t end = std::min<uint64_t>(offset + len, size_);
    for (uint64_t at = offset; at < end;) {
      const uint64_t page = at / kPage;
      const uint64_t in = at % kPage;
      const uint64_t step = std::min<uint64_t>(end - at, kPage - in);
      auto it = pages_.find(page);
      if (it != pages_.end()) {
        if (step == kPage) {
          pages_.erase(it);
        } else {
          std::memset(it->second.data() + in, 0, step);
        }
      }
      at += step;
    }
  }
  void Corrupt(uint64_t offset) {
    char c = 0;
    Read(offset, &c, 1);
    c = static_cast<char>(c ^ 0x5a);
    Write(offset, &c, 1);
  }

 private:
  uint64_t size_ = 0;
  std::map<uint64_t, std::array<char, kPage>> pages_;
};

// One simulated file: what the process sees, what is durable, and the
// operations in between. Shared by the DiskFile objects opened on it.
class FaultDiskState {
 public:
  struct Op {
    bool punch = false;
    uint64_t offset = 0;
    std::string data;  // a write
    uint64_t len = 0;  // a punch
  };

  const SparseImage& current() const { return current_; }
  bool frozen() const { return frozen_; }
  int syncs() const { return syncs_; }
  size_t pending() const { return pending_.size(); }

  // The process dies now: nothing after this reaches the disk.
  void Freeze() { frozen_ = true; }
  // Dies after `n` more writes or punches (0: at once).
  void FreezeAfter(int n) { budget_ = n; }

  // Power loss: each unsynced operation, in order, lands, lands torn or is
  // lost. The result is durable; the process may open the file again.
  void Crash(std::mt19937_64& rng) {
    SparseImage image = durable_;
    for (const Op& op : pending_) {
      const unsigned fate = rng() % 3;  // 0 lost, 1 torn, 2 whole
      if (fate == 0) continue;
      if (op.punch) {
        image.Punch(op.offset, op.len);
      } else if (fate == 1) {
        image.Write(op.offset, op.data.data(), rng() % (op.data.size() + 1));
      } else {
        image.Write(op.offset, op.data.data(), op.data.size());
      }
    }
    pending_.clear();
    durable_ = image;
    current_ = image;
    frozen_ = false;
    budget_ = -1;
  }

  // DiskFile operations.
  size_t Read(uint64_t offset, char* buf, size_t len) const {
    return current_.Read(offset, buf, len);
  }
  void Write(uint64_t offset, const char* data, size_t len) {
    if (Spend()) return;
    current_.Write(offset, data, len);
    pending_.push_back(Op{false, offset, std::string(data, len), 0});
  }
  void Punch(uint64_t offset, uint64_t len) {
    if (Spend()) return;
    current_.Punch(offset, len);
    pending_.push_back(Op{true, offset, {}, len});
  }
  void Sync() {
    if (frozen_) return;
    durable_ = current_;
    pending_.clear();
    ++syncs_;
  }
  // Flips a byte of the durable and current content (bit rot).
  void CorruptByte(uint64_t offset) {
    current_.Corrupt(offset);
    durable_.Corrupt(offset);
  }

 private:
  // True if the process is dead (the operation is lost).
  bool Spend() {
    if (budget_ == 0) frozen_ = true;
    if (budget_ > 0) --budget_;
    return frozen_;
  }

  SparseImage current_;
  SparseImage durable_;
  std::vector<Op> pending_;
  bool frozen_ = false;
  int budget_ = -1;
  int syncs_ = 0;
};

class FaultDiskFile : public DiskFile {
 public:
  explicit FaultDiskFile(std::shared_ptr<FaultDiskState> state) : state_(std::move(state)) {}

  const std::string& path() const override { return path_; }
  Status Pread(uint64_t offset, std::span<char> buf, size_t* got) override {
    *got = state_->Read(offset, buf.data(), buf.size());
    return Status();
  }
  Status Pwrite(uint64_t offset, std::span<const char> data) override {
    state_->Write(offset, data.data(), data.size());
    return Status();
  }
  Status Sync() override {
    state_->Sync();
    return Status();
  }
  Status Allocate(uint64_t, uint64_t) override { return Status(); }
  Status Punch(uint64_t offset, uint64_t len) override {
    state_->Punch(offset, len);
    return Status();
  }

 private:
  std::shared_ptr<FaultDiskState> state_;
  std::string path_ = "<fault-injecting disk>";
};

}  // namespace ddbfs::chunkserver::testing
