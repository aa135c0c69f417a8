#include "chunk_store.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "chunk_file_v1.h"
#include "ddbfs/auth.h"
#include "ddbfs/log.h"
#include "disk_file.h"

namespace ddbfs::chunkserver {

namespace fs = std::filesystem;

namespace {

constexpr char kUuidFile[] = "server.uuid";
constexpr char kChunkSuffix[] = ".chunk";
constexpr char kTmpSuffix[] = ".chunk.tmp";

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !s.empty();
}

// Pieces at least this large are hashed on another thread while the disk
// write runs (SHA-256 of 4 MiB takes about 2 ms).
constexpr size_t kHashBeside = 256 << 10;

// The running hash of a replica whose length goes from old_len to new_len
// by a truncate: it goes on (zeros) when the replica grows, starts afresh
// when it becomes empty, and is lost when bytes are cut.
std::optional<Sha256> Resized(std::optional<Sha256> running, uint64_t old_len, uint64_t new_len) {
  if (running && running->length() != old_len) running.reset();
  if (new_len == 0) return Sha256();
  if (!running || new_len < old_len) return std::nullopt;
  running->UpdateZeros(new_len - old_len);
  return running;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// SteadyMs() of the moment a file was last modified (its mtime).
int64_t ChangedMsOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return SteadyMs();
  const int64_t mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                           static_cast<int64_t>(st.st_mtim.tv_nsec / 1000000);
  const int64_t age = std::max<int64_t>(0, UnixNowMs() - mtime_ms);
  return SteadyMs() - age;
}

// Scrub reads at most this much under the chunk's lock at a time.
constexpr uint64_t kScrubPiece = 1 << 20;

std::string SubdirName(uint64_t chunk_id) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(chunk_id % 256));
  return buf;
}

}  // namespace

Result<std::unique_ptr<ChunkStore>> ChunkStore::Open(const std::vector<std::string>& dirs) {
  if (dirs.empty()) return InvalidArgument("no data folder given (--data DIR)");
  std::vector<std::string> canonical;
  for (const auto& dir : dirs) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return IoError("cannot create data folder " + dir + ": " + ec.message());
    std::string path = fs::canonical(dir, ec).string();
    if (ec) return IoError("cannot resolve data folder " + dir + ": " + ec.message());
    if (::access(path.c_str(), R_OK | W_OK | X_OK) != 0) {
      return DiskError("data folder " + dir + " is not writable", errno);
    }
    // Replicas are for this server only: no other local user may list or
    // read them (files are created 0600 as well).
    if (::chmod(path.c_str(), 0700) != 0) {
      return DiskError("cannot make data folder " + dir + " private", errno);
    }
    for (const auto& seen : canonical) {
      if (seen == path) return InvalidArgument("data folder " + dir + " is given twice");
    }
    canonical.push_back(path);
  }
  std::unique_ptr<ChunkStore> store(new ChunkStore(std::move(canonical)));
  RETURN_IF_ERROR(store->LoadOrCreateUuid());
  for (size_t i = 0; i < store->dirs_.size(); ++i) store->ScanDir(i);
  LOG(kInfo) << "chunk store: " << store->chunks_.size() << " chunks in " << store->dirs_.size()
             << " data folder(s), " << store->corrupt_.size() << " corrupt, uuid " << store->uuid_;
  return store;
}

Status ChunkStore::LoadOrCreateUuid() {
  const std::string path = dirs_[0] + "/" + kUuidFile;
  std::ifstream in(path);
  if (in) {
    std::string text;
    in >> text;
    if (text.size() != 32 || !IsHex(text)) {
      return Internal(path + " is damaged (expected 32 hex digits); restore it, or remove it to " +
                      "give this server a new identity");
    }
    uuid_ = text;
    return Status();
  }
  unsigned char raw[16];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  std::string text;
  for (unsigned char c : raw) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", c);
    text += buf;
  }
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return DiskError("create " + tmp, errno);
  std::string line = text + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return DiskError("write " + path, err);
  }
  RETURN_IF_ERROR(SyncDir(dirs_[0]));
  uuid_ = text;
  LOG(kInfo) << "new server uuid " << uuid_ << " written to " << path;
  return Status();
}

std::string ChunkStore::ChunkPath(size_t dir_index, uint64_t chunk_id) const {
  return dirs_[dir_index] + "/" + SubdirName(chunk_id) + "/" + ChunkIdHex(chunk_id) + kChunkSuffix;
}

void ChunkStore::ScanDir(size_t dir_index) {
  std::error_code ec;
  std::vector<fs::path> subs;
  for (const auto& sub : fs::directory_iterator(dirs_[dir_index], ec)) {
    const std::string sub_name = sub.path().filename().string();
    if (sub_name.size() != 2 || !IsHex(sub_name) || !sub.is_directory()) continue;
    subs.push_back(sub.path());
  }
  if (ec) {
    LOG(kWarn) << "cannot list " << dirs_[dir_index] << ": " << ec.message();
  }
  // Each replica's header is read (a random read of a cold disk per
  // chunk): several folders at once keep the disk's queue full, which on
  // an SSD or a virtual disk makes a large inventory load several times
  // faster than one read at a time.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < subs.size(); i = next++) ScanSubdir(dir_index, subs[i]);
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kScanThreads, subs.size()); ++t) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads: the others do the work
    }
  }
  work();
  for (auto& t : threads) t.join();
}

void ChunkStore::ScanSubdir(size_t dir_index, const fs::path& sub) {
  const std::string sub_name = sub.filename().string();
  std::error_code sub_ec;
  for (const auto& entry : fs::directory_iterator(sub, sub_ec)) {
    const std::string name = entry.path().filename().string();
    const size_t suffix = sizeof kChunkSuffix - 1;
    if (name.size() == 16 + sizeof kTmpSuffix - 1 && IsHex(name.substr(0, 16)) &&
        name.compare(16, std::string::npos, kTmpSuffix) == 0) {
      // A copy or an upgrade that did not finish.
      LOG(kInfo) << "removing unfinished " << entry.path().string();
      std::error_code rm_ec;
      fs::remove(entry.path(), rm_ec);
      continue;
    }
    if (name.size() != 16 + suffix || name.compare(16, suffix, kChunkSuffix) != 0 ||
        !IsHex(name.substr(0, 16))) {
      continue;
    }
    const uint64_t id = std::stoull(name.substr(0, 16), nullptr, 16);
    if (SubdirName(id) != sub_name) {
      LOG(kWarn) << "ignoring " << entry.path().string() << ": it belongs in folder "
                 << SubdirName(id);
      continue;
    }
    if (IsFormat1File(entry.path().string())) {
      Status up = UpgradeFormat1File(entry.path().string());
      if (up.ok()) {
        LOG(kInfo) << "converted " << entry.path().string() << " to chunk format 2";
      } else {
        LOG(kWarn) << "cannot convert " << entry.path().string() << " to chunk format 2: " << up;
      }
    }
    auto file = ChunkFile::Open(entry.path().string());
    if (file.ok() && (*file)->chunk_id() != id) {
      file = Status(ErrorCode::kChecksumMismatch, entry.path().string() + ": header names chunk " +
                                                      ChunkIdHex((*file)->chunk_id()));
    }
    std::lock_guard<std::mutex> lock(map_mu_);
    if (!file.ok()) {
      LOG(kWarn) << "corrupt chunk file: " << file.status().message()
                 << " (left out of the inventory)";
      corrupt_.insert(id);
      continue;
    }
    if ((*file)->unsealed()) (void)QueueSealLocked(id, (*file)->header_seq());
    const Entry found{dir_index, (*file)->version(), (*file)->length(),
                      ChangedMsOf(entry.path().string())};
    auto it = chunks_.find(id);
    if (it == chunks_.end()) {
      PutEntryLocked(id, found);
    } else {
      LOG(kWarn) << "chunk " << ChunkIdHex(id) << " is stored twice ("
                 << dirs_[it->second.dir_index] << ", " << dirs_[dir_index]
                 << "); using the newer version";
      if ((*file)->version() > it->second.version) PutEntryLocked(id, found);
    }
  }
  if (sub_ec) {
    LOG(kWarn) << "cannot list " << sub.string() << ": " << sub_ec.message();
  }
}

size_t ChunkStore::PickDir() const {
  if (dirs_.size() == 1) return 0;
  size_t best = 0;
  uint64_t best_free = 0;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    struct statvfs st {};
    if (::statvfs(dirs_[i].c_str(), &st) != 0) continue;
    uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (free_bytes > best_free) {
      best_free = free_bytes;
      best = i;
    }
  }
  return best;
}

SpaceInfo ChunkStore::Space() const {
  uint64_t free_bytes = 0;
  std::set<dev_t> seen;
  for (const auto& dir : dirs_) {
    struct stat sb {};
    struct statvfs st {};
    if (::stat(dir.c_str(), &sb) != 0 || ::statvfs(dir.c_str(), &st) != 0) continue;
    if (!seen.insert(sb.st_dev).second) continue;
    free_bytes += static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }
  SpaceInfo space;
  space.used_bytes = stored_bytes();
  space.capacity_bytes = free_bytes + space.used_bytes;
  if (capacity_limit_ > 0) space.capacity_bytes = std::min(space.capacity_bytes, capacity_limit_);
  return space;
}

uint64_t ChunkStore::stored_bytes() const {
  std::lock_guard<std::mutex> lock(map_mu_);
  return stored_bytes_;
}

Status ChunkStore::CheckRoom(uint64_t more) const {
  if (capacity_limit_ == 0 || more == 0) return Status();
  const uint64_t stored = stored_bytes();
  if (stored + more <= capacity_limit_) return Status();
  return Status(ErrorCode::kNoSpace, "no space left: the replicas hold " + std::to_string(stored) +
                                         " bytes of a capacity of " +
                                         std::to_string(capacity_limit_) + " (--capacity-gib)");
}

void ChunkStore::PutEntryLocked(uint64_t chunk_id, const Entry& entry) {
  auto [it, inserted] = chunks_.try_emplace(chunk_id, entry);
  if (!inserted) {
    stored_bytes_ -= it->second.length;
    it->second = entry;
  }
  stored_bytes_ += entry.length;
}

void ChunkStore::EraseEntryLocked(uint64_t chunk_id) {
  auto it = chunks_.find(chunk_id);
  if (it == chunks_.end()) return;
  stored_bytes_ -= it->second.length;
  chunks_.erase(it);
}

Status ChunkStore::CheckUsable(uint64_t chunk_id, size_t* dir_index) const {
  std::lock_guard<std::mutex> lock(map_mu_);
  auto it = chunks_.find(chunk_id);
  if (it != chunks_.end()) {
    *dir_index = it->second.dir_index;
    return Status();
  }
  if (corrupt_.count(chunk_id)) {
    return Status(ErrorCode::kChecksumMismatch,
                  "replica of chunk " + ChunkIdHex(chunk_id) + " is corrupt (bad header)");
  }
  return NotFound("no replica of chunk " + ChunkIdHex(chunk_id) + " on this server");
}

Status ChunkStore::EnsureSubdir(size_t dir_index, uint64_t chunk_id) {
  const std::string subdir = dirs_[dir_index] + "/" + SubdirName(chunk_id);
  if (::mkdir(subdir.c_str(), 0700) == 0) return SyncDir(dirs_[dir_index]);
  if (errno != EEXIST) return DiskError("create folder " + subdir, errno);
  return Status();
}

ChunkStore::FilePtr ChunkStore::Cached(uint64_t chunk_id) const {
  std::lock_guard<std::mutex> lock(map_mu_);
  auto it = open_.find(chunk_id);
  return it == open_.end() ? nullptr : it->second;
}

void ChunkStore::KeepOpen(uint64_t chunk_id, FilePtr file) {
  std::lock_guard<std::mutex> lock(map_mu_);
  open_[chunk_id] = std::move(file);
  open_order_.push_back(chunk_id);
  // Close the oldest opened; a thread still using one keeps its reference.
  while (open_.size() > kMaxOpenFiles && !open_order_.empty()) {
    const uint64_t victim = open_order_.front();
    open_order_.pop_front();
    if (victim != chunk_id) open_.erase(victim);
  }
  if (open_order_.size() > 4 * kMaxOpenFiles) {
    std::deque<uint64_t> kept;
    for (uint64_t id : open_order_) {
      if (open_.count(id)) kept.push_back(id);
    }
    open_order_.swap(kept);
  }
}

void ChunkStore::MarkCorrupt(uint64_t chunk_id) {
  hashes_.Forget(chunk_id);
  std::lock_guard<std::mutex> lock(map_mu_);
  EraseEntryLocked(chunk_id);
  open_.erase(chunk_id);
  corrupt_.insert(chunk_id);
}

Status ChunkStore::CheckIdentity(uint64_t chunk_id, const ChunkFile& file) {
  Status s = file.CheckIdentity(chunk_id);
  if (s.code() == ErrorCode::kChecksumMismatch) {
    LOG(kWarn) << "corrupt replica of chunk " << ChunkIdHex(chunk_id) << ": " << s.message()
               << " (left out of the inventory)";
    MarkCorrupt(chunk_id);
  }
  return s;
}

Result<ChunkStore::FilePtr> ChunkStore::Acquire(uint64_t chunk_id, size_t* dir_index) {
  RETURN_IF_ERROR(CheckUsable(chunk_id, dir_index));
  FilePtr file = Cached(chunk_id);
  if (!file) {
    auto opened = ChunkFile::Open(ChunkPath(*dir_index, chunk_id));
    if (!opened.ok()) {
      if (opened.status().code() == ErrorCode::kChecksumMismatch) MarkCorrupt(chunk_id);
      if (opened.status().code() == ErrorCode::kNotFound) {
        // Removed behind the server's back.
        std::lock_guard<std::mutex> lock(map_mu_);
        EraseEntryLocked(chunk_id);
      }
      return opened.status();
    }
    file = std::move(opened).value();
    if (file->unsealed()) RETURN_IF_ERROR(NoteUnsealed(chunk_id, *file));
    KeepOpen(chunk_id, file);
  }
  RETURN_IF_ERROR(CheckIdentity(chunk_id, *file));
  return file;
}

bool ChunkStore::QueueSealLocked(uint64_t chunk_id, uint64_t seq) {
  if (to_seal_.size() >= kMaxWaitingSeals) return false;
  to_seal_.emplace_back(chunk_id, seq);
  return true;
}

Status ChunkStore::NoteUnsealed(uint64_t chunk_id, ChunkFile& file) {
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    if (QueueSealLocked(chunk_id, file.header_seq())) return Status();
  }
  return file.SealIfOpenedUnsealed();
}

size_t ChunkStore::waiting_seals() const {
  std::lock_guard<std::mutex> lock(map_mu_);
  return to_seal_.size();
}

size_t ChunkStore::SealOpened() {
  std::vector<std::pair<uint64_t, uint64_t>> batch;
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    batch.swap(to_seal_);
  }
  if (batch.empty()) return 0;
  // Everything written before now reaches the disk: the headers these files
  // opened with and their data among it.
  for (const std::string& dir : dirs_) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int rc = fd < 0 ? -1 : ::syncfs(fd);
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (rc != 0) {
      // They stay unsealed; their next change seals them.
      LOG(kWarn) << "cannot sync the file system of " << dir << ": " << std::strerror(err) << " ("
                 << batch.size() << " chunk files left unsealed)";
      return 0;
    }
  }
  size_t sealed = 0;
  for (const auto& [chunk_id, seq] : batch) {
    std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
    size_t dir_index = 0;
    if (!CheckUsable(chunk_id, &dir_index).ok()) continue;
    FilePtr file = Cached(chunk_id);
    if (!file) {
      // Closed since: its header on disk is the one it opened with if no
      // change came in between (a change seals first).
      auto opened = ChunkFile::Open(ChunkPath(dir_index, chunk_id));
      if (!opened.ok()) continue;
      file = std::move(opened).value();
    }
    if (!file->unsealed() || file->header_seq() != seq) continue;
    Status s = file->SealDurable();
    if (s.ok()) {
      ++sealed;
    } else {
      LOG(kWarn) << "cannot seal chunk " << ChunkIdHex(chunk_id) << ": " << s;
    }
  }
  return sealed;
}

void ChunkStore::StartSealing(int interval_ms) {
  sealer_ = std::thread([this, interval_ms] {
    std::unique_lock<std::mutex> lock(sealer_mu_);
    while (!sealer_cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                                [this] { return sealer_stopping_; })) {
      lock.unlock();
      SealOpened();
      lock.lock();
    }
  });
}

ChunkStore::~ChunkStore() {
  {
    std::lock_guard<std::mutex> lock(sealer_mu_);
    sealer_stopping_ = true;
  }
  sealer_cv_.notify_all();
  if (sealer_.joinable()) sealer_.join();
}

template <typename T>
Result<T> ChunkStore::WithFile(uint64_t chunk_id, const std::function<Result<T>(ChunkFile&)>& fn) {
  {
    std::shared_lock<std::shared_mutex> lock(LockFor(chunk_id));
    size_t dir_index = 0;
    RETURN_IF_ERROR(CheckUsable(chunk_id, &dir_index));
    if (FilePtr file = Cached(chunk_id)) {
      RETURN_IF_ERROR(CheckIdentity(chunk_id, *file));
      return fn(*file);
    }
  }
  // Opening recovers the file, which may write: exclusively.
  std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
  size_t dir_index = 0;
  ASSIGN_OR_RETURN(FilePtr file, Acquire(chunk_id, &dir_index));
  return fn(*file);
}

Result<ChunkStore::FilePtr> ChunkStore::OpenForWrite(uint64_t chunk_id, uint64_t version,
                                                     bool* created, size_t* dir_index) {
  *created = false;
  auto existing = Acquire(chunk_id, dir_index);
  if (existing.ok() || existing.status().code() != ErrorCode::kNotFound) return existing;
  {
    // Only a chunk the inventory does not know is created.
    std::lock_guard<std::mutex> lock(map_mu_);
    if (chunks_.count(chunk_id) || corrupt_.count(chunk_id)) return existing.status();
  }
  *dir_index = PickDir();
  RETURN_IF_ERROR(EnsureSubdir(*dir_index, chunk_id));
  // Not synced: a new replica is durable from its first sync (with the
  // folder that holds its name), like the data written to it. Saves two
  // fsyncs per new chunk; a small file written without fsync costs one
  // chunk creation on each replica.
  ASSIGN_OR_RETURN(auto file, ChunkFile::Create(ChunkPath(*dir_index, chunk_id), chunk_id, version,
                                                /*sync=*/false));
  file->SyncFolderWithNextSync(dirs_[*dir_index] + "/" + SubdirName(chunk_id));
  *created = true;
  FilePtr shared = std::move(file);
  KeepOpen(chunk_id, shared);
  return shared;
}

void ChunkStore::Remember(uint64_t chunk_id, size_t dir_index, uint64_t version, uint64_t length) {
  std::lock_guard<std::mutex> lock(map_mu_);
  PutEntryLocked(chunk_id, Entry{dir_index, version, length, SteadyMs()});
}

Status ChunkStore::Mutate(uint64_t chunk_id, uint64_t version, bool sync,
                          const std::function<Status(ChunkFile&)>& op,
                          const std::function<void(ChunkFile&)>& done) {
  std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
  bool created = false;
  size_t dir_index = 0;
  ASSIGN_OR_RETURN(FilePtr file, OpenForWrite(chunk_id, version, &created, &dir_index));
  if (version < file->version()) {
    return Status(ErrorCode::kStaleVersion, "replica of chunk " + ChunkIdHex(chunk_id) +
                                                " is at version " +
                                                std::to_string(file->version()) +
                                                ", the request carries " + std::to_string(version));
  }
  Status s = op(*file);
  if (s.ok() && sync) s = file->Sync();
  // After a failure the bytes are not known for sure (a reopened file is
  // recovered to its last durable state).
  if (!s.ok()) hashes_.Forget(chunk_id);
  if (!s.ok() && created) {
    // A chunk that only this request created goes away with it.
    ::unlink(file->path().c_str());
    std::lock_guard<std::mutex> map_lock(map_mu_);
    open_.erase(chunk_id);
    return s;
  }
  if (!s.ok() && (s.code() == ErrorCode::kIoError || s.code() == ErrorCode::kInternal)) {
    // The next request reopens (and recovers) the file from disk.
    std::lock_guard<std::mutex> map_lock(map_mu_);
    open_.erase(chunk_id);
  }
  // After a failed sync the header may already hold the new version.
  if (s.ok() || file->version() == version) {
    Remember(chunk_id, dir_index, file->version(), file->length());
  }
  if (s.ok()) {
    hashes_.VersionIs(chunk_id, file->version());
    if (done) done(*file);
  }
  return s;
}

Status ChunkStore::Write(uint64_t chunk_id, uint64_t version, uint64_t offset,
                         std::span<const char> data, bool sync, const HashRequest& hash,
                         HashAnswer* answer) {
  auto write = [&](ChunkFile& file) -> Status {
    if (!data.empty()) RETURN_IF_ERROR(hashes_.CheckUnsealed(chunk_id, version, UnixNowMs()));
    // Does this write go on with the replica's running hash?
    const uint64_t old_len = file.length();
    // Past --capacity-gib: refused before anything changes.
    if (offset + data.size() > old_len) RETURN_IF_ERROR(CheckRoom(offset + data.size() - old_len));
    std::optional<Sha256> running = hashes_.Take(chunk_id);
    if (running && running->length() != old_len) running.reset();
    uint64_t gap = 0;  // a hole between the old end and the data
    if (data.empty()) {
      // Only the version moves: the bytes stay.
    } else if (running && offset >= old_len) {
      gap = offset - old_len;
    } else if (offset == 0 && data.size() >= old_len) {
      running.emplace();  // every old byte is overwritten
    } else {
      running.reset();  // a partial overwrite: the background rehash does it
    }
    auto feed = [&] {
      running->UpdateZeros(gap);
      running->Update(std::string_view(data.data(), data.size()));
    };
    bool beside = false;
    std::thread hasher;
    if (running && data.size() >= kHashBeside) {
      try {
        hasher = std::thread(feed);
        beside = true;
      } catch (const std::system_error&) {
        // No thread to spare: hash after the write.
      }
    }
    Status s = file.Write(offset, data, version);
    if (beside) hasher.join();
    if (!s.ok()) return s;
    if (running) {
      if (!beside && !data.empty()) feed();
      hashes_.Put(chunk_id, std::move(*running));
    }
    return s;
  };
  auto seal = [&](ChunkFile& file) {
    if (!hash.seal || answer == nullptr) return;
    std::optional<Sha256> running = hashes_.Snapshot(chunk_id, file.length());
    if (!running || !hashes_.Seal(chunk_id, file.version(), hash.seal_until_ms, UnixNowMs())) {
      return;
    }
    answer->sealed = true;
    answer->length = file.length();
    answer->sha256 = running->Digest();
  };
  return Mutate(chunk_id, version, sync, write, seal);
}

Status ChunkStore::Truncate(uint64_t chunk_id, uint64_t version, uint64_t length) {
  return Mutate(chunk_id, version, /*sync=*/true, [&](ChunkFile& file) -> Status {
    const uint64_t old_len = file.length();
    if (length != old_len) {
      RETURN_IF_ERROR(hashes_.CheckUnsealed(chunk_id, version, UnixNowMs()));
    }
    if (length > old_len) RETURN_IF_ERROR(CheckRoom(length - old_len));
    std::optional<Sha256> running = Resized(hashes_.Take(chunk_id), old_len, length);
    RETURN_IF_ERROR(file.Truncate(length, version));
    if (running) hashes_.Put(chunk_id, std::move(*running));
    return Status();
  });
}

Result<std::string> ChunkStore::HashReplica(uint64_t chunk_id, uint64_t version, uint64_t length,
                                            int64_t seal_until_ms, uint64_t* replica_length) {
  if (length > kChunkSize) return InvalidArgument("length past a chunk");
  uint64_t have = 0;
  {
    std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
    size_t dir_index = 0;
    ASSIGN_OR_RETURN(FilePtr file, Acquire(chunk_id, &dir_index));
    if (file->version() != version) {
      return Status(ErrorCode::kStaleVersion,
                    "replica of chunk " + ChunkIdHex(chunk_id) + " holds version " +
                        std::to_string(file->version()) + ", not " + std::to_string(version));
    }
    if (!hashes_.Seal(chunk_id, version, seal_until_ms, UnixNowMs())) {
      return Status(ErrorCode::kBusy, "too many sealed chunks on this server; try again later");
    }
    have = file->length();
    *replica_length = have;
    // A running hash of every byte: no need to read them back.
    if (std::optional<Sha256> running = hashes_.Snapshot(chunk_id, have);
        running && length >= have) {
      running->UpdateZeros(length - have);
      return running->Digest();
    }
  }
  // Sealed: the bytes at this version cannot change any more; a new version
  // makes a read below fail (kStaleVersion).
  Sha256 h;
  const uint64_t from_disk = std::min(have, length);
  for (uint64_t off = 0; off < from_disk; off += kMaxIoSize) {
    const uint64_t want = std::min<uint64_t>(kMaxIoSize, from_disk - off);
    ASSIGN_OR_RETURN(ReadResult piece, Read(chunk_id, version, off, want));
    if (piece.data.size() != want) {
      return Status(ErrorCode::kStaleVersion,
                    "replica of chunk " + ChunkIdHex(chunk_id) + " changed while it was hashed");
    }
    h.Update(piece.data);
  }
  h.UpdateZeros(length - from_disk);
  return h.Digest();
}

Result<ReadResult> ChunkStore::Read(uint64_t chunk_id, uint64_t version, uint64_t offset,
                                    uint64_t len) {
  return WithFile<ReadResult>(chunk_id, [&](ChunkFile& file) -> Result<ReadResult> {
    if (file.version() != version) {
      return Status(ErrorCode::kStaleVersion, "replica of chunk " + ChunkIdHex(chunk_id) +
                                                  " holds version " +
                                                  std::to_string(file.version()) + ", version " +
                                                  std::to_string(version) + " was asked for");
    }
    ReadResult result;
    result.version = file.version();
    RETURN_IF_ERROR(file.Read(offset, len, &result.data));
    return result;
  });
}

Result<ChunkStateResult> ChunkStore::State(uint64_t chunk_id) {
  return WithFile<ChunkStateResult>(chunk_id, [](ChunkFile& file) -> Result<ChunkStateResult> {
    return ChunkStateResult{file.version(), file.length()};
  });
}

Status ChunkStore::SetVersion(uint64_t chunk_id, uint64_t from_version, uint64_t to_version,
                              int64_t length) {
  if (to_version < from_version) {
    return InvalidArgument("the new version " + std::to_string(to_version) +
                           " is lower than the old " + std::to_string(from_version));
  }
  if (length > static_cast<int64_t>(kChunkSize)) return InvalidArgument("length past a chunk");
  std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
  size_t dir_index = 0;
  ASSIGN_OR_RETURN(FilePtr file, Acquire(chunk_id, &dir_index));
  if (file->version() != from_version) {
    return Status(ErrorCode::kStaleVersion,
                  "replica of chunk " + ChunkIdHex(chunk_id) + " holds version " +
                      std::to_string(file->version()) + ", not " + std::to_string(from_version));
  }
  const uint64_t old_len = file->length();
  std::optional<Sha256> running = Resized(hashes_.Take(chunk_id), old_len,
                                          length >= 0 ? static_cast<uint64_t>(length) : old_len);
  Status s = length >= 0 ? file->Truncate(static_cast<uint64_t>(length), to_version)
                         : file->SetVersion(to_version);
  if (s.ok()) s = file->Sync();
  if (s.ok() && running) hashes_.Put(chunk_id, std::move(*running));
  if (s.ok()) hashes_.VersionIs(chunk_id, to_version);
  if (s.ok() || file->version() == to_version) {
    Remember(chunk_id, dir_index, file->version(), file->length());
  }
  if (!s.ok() && s.code() == ErrorCode::kIoError) {
    std::lock_guard<std::mutex> map_lock(map_mu_);
    open_.erase(chunk_id);
  }
  return s;
}

Result<PendingReplica> ChunkStore::BeginReplica(uint64_t chunk_id, uint64_t version) {
  PendingReplica r;
  r.chunk_id = chunk_id;
  r.version = version;
  {
    std::shared_lock<std::shared_mutex> lock(LockFor(chunk_id));
    if (!CheckUsable(chunk_id, &r.dir_index).ok()) {
      // Absent or corrupt: beside a file that may still be there, else in
      // the emptiest folder.
      r.dir_index = PickDir();
      for (size_t i = 0; i < dirs_.size(); ++i) {
        if (::access(ChunkPath(i, chunk_id).c_str(), F_OK) == 0) r.dir_index = i;
      }
    }
  }
  RETURN_IF_ERROR(EnsureSubdir(r.dir_index, chunk_id));
  r.tmp_path = ChunkPath(r.dir_index, chunk_id) + ".tmp";
  auto file = ChunkFile::Create(r.tmp_path, chunk_id, version);
  if (!file.ok()) {
    if (file.status().code() == ErrorCode::kExists) {
      return Status(ErrorCode::kBusy,
                    "a copy of chunk " + ChunkIdHex(chunk_id) + " is already being made");
    }
    return file.status();
  }
  r.file = std::move(file).value();
  return r;
}

Status ChunkStore::CommitReplica(PendingReplica* r) {
  Status s = r->file->SetVersion(r->version);
  if (s.ok()) s = r->file->SyncAndSeal();
  if (s.ok() && r->file->chunk_id() != r->chunk_id) s = Internal("copy names another chunk");
  if (!s.ok()) {
    AbortReplica(r);
    return s;
  }
  const uint64_t copied = r->file->length();
  r->file.reset();
  std::unique_lock<std::shared_mutex> lock(LockFor(r->chunk_id));
  // A replica whose hash was given out keeps its bytes at that version: a
  // copy does not replace it. Where none is left (it was deleted: trimmed
  // over goal, then wanted again), the copy brings that version's committed
  // bytes from a peer, and the seal stays to refuse later writes at it.
  bool present = false;
  {
    std::lock_guard<std::mutex> map_lock(map_mu_);
    present = chunks_.count(r->chunk_id) > 0;
  }
  if (present) s = hashes_.CheckUnsealed(r->chunk_id, r->version, UnixNowMs());
  if (!s.ok()) {
    AbortReplica(r);
    return s;
  }
  const std::string path = ChunkPath(r->dir_index, r->chunk_id);
  if (::rename(r->tmp_path.c_str(), path.c_str()) != 0) {
    s = DiskError("rename " + r->tmp_path, errno);
    AbortReplica(r);
    return s;
  }
  {
    // From here on the new file is the replica, whatever the folder sync says.
    std::lock_guard<std::mutex> map_lock(map_mu_);
    PutEntryLocked(r->chunk_id, Entry{r->dir_index, r->version, copied, SteadyMs()});
    corrupt_.erase(r->chunk_id);
    bad_.erase(r->chunk_id);
    open_.erase(r->chunk_id);
  }
  if (r->hash.length() == copied) {
    hashes_.Put(r->chunk_id, std::move(r->hash));
  } else {
    hashes_.Forget(r->chunk_id);
  }
  hashes_.VersionIs(r->chunk_id, r->version);
  return SyncDir(dirs_[r->dir_index] + "/" + SubdirName(r->chunk_id));
}

void ChunkStore::AbortReplica(PendingReplica* r) {
  r->file.reset();
  if (!r->tmp_path.empty()) ::unlink(r->tmp_path.c_str());
}

Status ChunkStore::Delete(uint64_t chunk_id) {
  std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
  hashes_.Forget(chunk_id);
  bool found = false;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    const std::string path = ChunkPath(i, chunk_id);
    if (::unlink(path.c_str()) == 0) {
      found = true;
    } else if (errno != ENOENT) {
      return DiskError("delete " + path, errno);
    }
  }
  {
    std::lock_guard<std::mutex> map_lock(map_mu_);
    EraseEntryLocked(chunk_id);
    corrupt_.erase(chunk_id);
    bad_.erase(chunk_id);
    open_.erase(chunk_id);
  }
  if (!found) return NotFound("no replica of chunk " + ChunkIdHex(chunk_id) + " on this server");
  return Status();
}

std::vector<ChunkReplica> ChunkStore::Inventory() const {
  std::lock_guard<std::mutex> lock(map_mu_);
  std::vector<ChunkReplica> out;
  out.reserve(chunks_.size());
  for (const auto& [id, entry] : chunks_) out.push_back(ChunkReplica{id, entry.version});
  return out;
}

int64_t ChunkStore::CorruptAgeMs(uint64_t chunk_id) const {
  for (size_t i = 0; i < dirs_.size(); ++i) {
    const std::string path = ChunkPath(i, chunk_id);
    if (::access(path.c_str(), F_OK) == 0) return SteadyMs() - ChangedMsOf(path);
  }
  return 0;
}

ReplicaListing ChunkStore::ListingOf(uint64_t chunk_id) const {
  ReplicaListing l;
  l.chunk_id = chunk_id;
  auto it = chunks_.find(chunk_id);
  if (it == chunks_.end()) {
    l.corrupt = true;  // in corrupt_: bad header
    return l;
  }
  l.version = it->second.version;
  l.length = it->second.length;
  l.age_ms = std::max<int64_t>(0, SteadyMs() - it->second.changed_ms);
  l.corrupt = bad_.count(chunk_id) > 0;
  return l;
}

std::vector<ReplicaListing> ChunkStore::List(uint64_t after, uint64_t upto, size_t limit,
                                             bool* more) const {
  std::vector<ReplicaListing> out;
  std::vector<uint64_t> corrupt;
  *more = false;
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    auto good = chunks_.upper_bound(after);
    auto bad = corrupt_.upper_bound(after);
    while (true) {
      const uint64_t g = good == chunks_.end() ? UINT64_MAX : good->first;
      const uint64_t b = bad == corrupt_.end() ? UINT64_MAX : *bad;
      const uint64_t next = std::min(g, b);
      if (next == UINT64_MAX || next > upto) break;
      if (out.size() >= limit) {
        *more = true;
        break;
      }
      out.push_back(ListingOf(next));
      if (g == next) ++good;
      if (b == next) ++bad;
      if (out.back().version == 0 && out.back().corrupt) corrupt.push_back(next);
    }
  }
  // Ages of files with a bad header come from the disk, outside the lock.
  for (ReplicaListing& l : out) {
    if (l.corrupt && l.version == 0) l.age_ms = CorruptAgeMs(l.chunk_id);
  }
  return out;
}

std::vector<ReplicaListing> ChunkStore::ListIds(const std::vector<uint64_t>& ids) const {
  std::vector<ReplicaListing> out;
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    for (uint64_t id : ids) {
      if (chunks_.count(id) || corrupt_.count(id)) out.push_back(ListingOf(id));
    }
  }
  for (ReplicaListing& l : out) {
    if (l.corrupt && l.version == 0) l.age_ms = CorruptAgeMs(l.chunk_id);
  }
  return out;
}

void ChunkStore::NoteBad(uint64_t chunk_id, uint64_t version) {
  std::lock_guard<std::mutex> lock(map_mu_);
  bad_[chunk_id] = Bad{version, false};
}

std::vector<ChunkReplica> ChunkStore::BadReplicas(size_t max) const {
  std::lock_guard<std::mutex> lock(map_mu_);
  std::vector<ChunkReplica> out;
  for (const auto& [id, bad] : bad_) {
    if (out.size() >= max) break;
    if (!bad.reported) out.push_back(ChunkReplica{id, bad.version});
  }
  return out;
}

void ChunkStore::MarkReported(const std::vector<ChunkReplica>& reported) {
  std::lock_guard<std::mutex> lock(map_mu_);
  for (const ChunkReplica& r : reported) {
    auto it = bad_.find(r.chunk_id);
    if (it != bad_.end() && it->second.version == r.version) it->second.reported = true;
  }
}

bool ChunkStore::ConfirmOnDisk(uint64_t chunk_id) {
  size_t dir_index = 0;
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    auto it = chunks_.find(chunk_id);
    if (it == chunks_.end()) return true;  // not a replica (any more)
    dir_index = it->second.dir_index;
  }
  // A file removed behind the server's back may still be open here: its
  // name is what counts.
  if (::access(ChunkPath(dir_index, chunk_id).c_str(), F_OK) == 0 || errno != ENOENT) return true;
  std::unique_lock<std::shared_mutex> lock(LockFor(chunk_id));
  uint64_t version = 0;
  {
    std::lock_guard<std::mutex> map_lock(map_mu_);
    auto it = chunks_.find(chunk_id);
    if (it == chunks_.end() || it->second.dir_index != dir_index) return true;
    if (::access(ChunkPath(dir_index, chunk_id).c_str(), F_OK) == 0) return true;
    version = it->second.version;
    EraseEntryLocked(chunk_id);
    open_.erase(chunk_id);
    bad_[chunk_id] = Bad{version, false};
  }
  hashes_.Forget(chunk_id);
  LOG(kWarn) << "the file of chunk " << ChunkIdHex(chunk_id) << " (version " << version
             << ") is gone from " << dirs_[dir_index] << ": reported as lost";
  return false;
}

ScrubResult ChunkStore::ScrubChunk(uint64_t chunk_id, const std::function<bool(uint64_t)>& pace) {
  {
    std::lock_guard<std::mutex> lock(map_mu_);
    if (!chunks_.count(chunk_id)) return ScrubResult::kSkipped;  // deleted meanwhile
  }
  if (!ConfirmOnDisk(chunk_id)) return ScrubResult::kBad;
  auto state = State(chunk_id);
  if (!state.ok()) {
    if (state.status().code() == ErrorCode::kChecksumMismatch ||
        state.status().code() == ErrorCode::kIoError) {
      LOG(kWarn) << "scrub: replica of chunk " << ChunkIdHex(chunk_id)
                 << " is bad: " << state.status();
      NoteBad(chunk_id, 0);
      return ScrubResult::kBad;
    }
    return ScrubResult::kSkipped;
  }
  for (uint64_t off = 0; off < state->length; off += kScrubPiece) {
    const uint64_t want = std::min<uint64_t>(kScrubPiece, state->length - off);
    auto piece = Read(chunk_id, state->version, off, want);
    if (!piece.ok()) {
      const ErrorCode code = piece.status().code();
      if (code == ErrorCode::kChecksumMismatch || code == ErrorCode::kIoError ||
          code == ErrorCode::kNotFound) {
        LOG(kWarn) << "scrub: replica of chunk " << ChunkIdHex(chunk_id) << " (version "
                   << state->version << ") is bad: " << piece.status();
        NoteBad(chunk_id, state->version);
        return ScrubResult::kBad;
      }
      return ScrubResult::kSkipped;  // a new version (a write) or deleted
    }
    if (piece->data.size() != want) return ScrubResult::kSkipped;  // truncated by a write
    if (pace && !pace(want)) return ScrubResult::kStopped;
  }
  return ScrubResult::kGood;
}

size_t ChunkStore::chunk_count() const {
  std::lock_guard<std::mutex> lock(map_mu_);
  return chunks_.size();
}

}  // namespace ddbfs::chunkserver
