#include "fs.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"

namespace ddbfs::fuse {

// Per inode open on this mount (kept in open_ while a handle refers to it).
struct FileSystem::OpenInode {
  explicit OpenInode(InodeId i) : id(i) {}
  const InodeId id;
  int opens = 0;  // handles; guarded by open_mu_
  // Unlinked while open: the client session whose orphan the metaserver
  // keeps it as, until the last close (0: none; guarded by open_mu_).
  int64_t orphan_session = 0;

  std::mutex mu;  // guards what follows
  std::unique_ptr<FileWriter> writer;
  int writable_handles = 0;
  std::set<Handle*> handles;
  std::atomic<bool> dirty{false};  // written since the last commit
  bool unsynced = false;           // written since the last Sync
  // Bumped when committed data or the size changed: readers reopen.
  std::atomic<uint64_t> gen{0};
  // End of the furthest write of the current writer (0: none).
  std::atomic<uint64_t> written_end{0};
  // Steady-clock time of the last write, in ms (for the committer).
  std::atomic<int64_t> last_write_ms{0};
  // Wall-clock time of the last write, in ns: the mtime and ctime stat
  // shows while that write is not committed yet (Overlay).
  std::atomic<int64_t> last_write_ns{0};
  // Steady-clock ms of a create whose writer holds the lease on chunk 0
  // and has not written yet (0: none); the committer gives that lease back
  // once the file has been idle for kIdleCommit.
  std::atomic<int64_t> unused_lease_ms{0};
};

struct FileSystem::Handle {
  std::shared_ptr<OpenInode> st;
  bool writable = false;
  std::mutex mu;  // guards the reader and read_seen
  std::unique_ptr<FileReader> reader;
  uint64_t reader_gen = 0;
  bool read_seen = false;  // atime was considered at the first read
  bool direct_io = false;  // opened with FOPEN_DIRECT_IO (around the page cache)
  // Opened O_APPEND for writing: every write goes to the writer's end of the
  // file, whatever offset the kernel computed from the size it caches.
  bool append = false;
  // Guarded by st->mu: wrote since its last flush; an error to report.
  bool dirty = false;
  Status error;
};

struct FileSystem::DirHandle {
  std::mutex mu;
  std::vector<DirEntry> entries;  // ".", "..", then the directory's entries
  bool fresh = false;             // loaded by opendir, not read yet
  uint64_t listed_seq = 0;        // commit_seq_ before the entries were listed
};

namespace {

FileSystem* Fs(fuse_req_t req) { return static_cast<FileSystem*>(fuse_req_userdata(req)); }

FileSystem::Handle* HandleOf(fuse_file_info* fi) {
  return reinterpret_cast<FileSystem::Handle*>(fi->fh);
}

FileSystem::DirHandle* DirHandleOf(fuse_file_info* fi) {
  return reinterpret_cast<FileSystem::DirHandle*>(fi->fh);
}

bool NameTooLong(const char* name) { return std::strlen(name) > kMaxNameLength; }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t ToNs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000LL);
  ts.tv_nsec = static_cast<long>(ns % 1000000000LL);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

bool Writable(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }
bool Readable(int flags) { return (flags & O_ACCMODE) != O_WRONLY; }

}  // namespace

FileSystem::FileSystem(Client* client, InodeId root, MountOptions options)
    : client_(client),
      views_(&client_, options.attr_timeout),
      root_(root),
      options_(options),
      root_mount_(::geteuid() == 0) {}

namespace {
uint32_t UidOf(fuse_req_t req) { return fuse_req_ctx(req)->uid; }
}  // namespace

bool FileSystem::InView(fuse_ino_t ino) const { return TagViews::IsVirtual(ToDdbfs(ino)); }

FileSystem::~FileSystem() { StopCommitter(); }

InodeId FileSystem::ToDdbfs(fuse_ino_t ino) const {
  return ino == FUSE_ROOT_ID ? root_ : static_cast<InodeId>(ino);
}

fuse_ino_t FileSystem::ToFuse(InodeId id) const {
  return id == root_ ? FUSE_ROOT_ID : static_cast<fuse_ino_t>(id);
}

struct stat FileSystem::ToStat(const Attr& a) const {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = ToFuse(a.inode);
  mode_t type = S_IFREG;
  switch (a.type) {
    case FileType::kRegular:
      type = S_IFREG;
      break;
    case FileType::kDirectory:
      type = S_IFDIR;
      break;
    case FileType::kSymlink:
      type = S_IFLNK;
      break;
    case FileType::kFifo:
      type = S_IFIFO;
      break;
    case FileType::kSocket:
      type = S_IFSOCK;
      break;
    case FileType::kCharDevice:
      type = S_IFCHR;
      break;
    case FileType::kBlockDevice:
      type = S_IFBLK;
      break;
  }
  st.st_mode = type | (a.mode & 07777);
  st.st_rdev = static_cast<dev_t>(a.rdev);
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 1 << 20;  // matches the 1 MiB FUSE requests
  // Committed chunk bytes: holes take nothing (data still in the writer
  // counts from its commit).
  st.st_blocks = static_cast<blkcnt_t>((a.allocated + 511) / 512);
  st.st_atim = ToTimespec(a.atime_ns);
  st.st_mtim = ToTimespec(a.mtime_ns);
  st.st_ctim = ToTimespec(a.ctime_ns);
  return st;
}

Attr FileSystem::Overlay(Attr a) {
  if (a.type == FileType::kRegular) a.atime_ns = std::max(a.atime_ns, NotedAtime(a.inode));
  std::shared_ptr<OpenInode> st = Find(a.inode);
  if (!st) return a;
  a.size = std::max<uint64_t>(a.size, st->written_end.load());
  if (st->dirty) {
    // The commit will stamp its own time; until then the write's.
    a.mtime_ns = std::max(a.mtime_ns, st->last_write_ns.load());
    a.ctime_ns = std::max(a.ctime_ns, st->last_write_ns.load());
  }
  return a;
}

struct stat FileSystem::KernelStat(const Attr& a) {
  struct stat st = ToStat(Overlay(a));
  NoteXattrsOf(a);
  if (a.type != FileType::kRegular) return st;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(kernel_mu_);
  kernel_sizes_[a.inode] =
      KernelSize{static_cast<uint64_t>(st.st_size),
                 now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(options_.attr_timeout))};
  if (kernel_sizes_.size() >= kernel_sweep_at_) {
    std::erase_if(kernel_sizes_, [&](const auto& e) { return e.second.expires <= now; });
    kernel_sweep_at_ = std::max<size_t>(4096, 2 * kernel_sizes_.size());
  }
  return st;
}

void FileSystem::KernelSizeGrew(InodeId id, uint64_t end) {
  std::lock_guard<std::mutex> lock(kernel_mu_);
  auto it = kernel_sizes_.find(id);
  if (it != kernel_sizes_.end()) it->second.size = std::max(it->second.size, end);
}

bool FileSystem::KernelSizeStale(InodeId id, uint64_t size) {
  std::lock_guard<std::mutex> lock(kernel_mu_);
  auto it = kernel_sizes_.find(id);
  return it != kernel_sizes_.end() && it->second.expires > std::chrono::steady_clock::now() &&
         it->second.size < size;
}

void FileSystem::ForgetKernelAttr(fuse_ino_t ino) {
  LOG(kDebug) << "the kernel may cache too small a size of inode " << ToDdbfs(ino)
              << ": it forgets the attributes";
  {
    std::lock_guard<std::mutex> lock(kernel_mu_);
    kernel_sizes_.erase(ToDdbfs(ino));
  }
  fuse_session* se = fuse_session_.load();
  if (se == nullptr) return;
  // Attributes only (a negative offset): never waits for pages.
  const int rc = fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
  if (rc != 0 && rc != -ENOENT) {
    LOG(kWarn) << "telling the kernel to forget the attributes of inode " << ToDdbfs(ino)
               << " failed: " << std::strerror(-rc);
  }
}

void FileSystem::ReplyEntry(fuse_req_t req, const Attr& a) { ReplyEntry(req, a, KernelStat(a)); }

void FileSystem::ReplyEntry(fuse_req_t req, const Attr& a, const struct stat& st) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = ToFuse(a.inode);
  e.attr = st;
  e.attr_timeout = options_.attr_timeout;
  e.entry_timeout = options_.entry_timeout;
  fuse_reply_entry(req, &e);
}

void FileSystem::ReplyStatus(fuse_req_t req, const Status& s) {
  int err = s.ok() ? 0 : ErrnoFor(s.code());
  if (s.code() == ErrorCode::kUnavailable || s.code() == ErrorCode::kTimedOut) {
    // An outage that outlasted -o io_timeout: EIO, as programs expect of a
    // file system (not EHOSTUNREACH/ETIMEDOUT).
    LOG(kWarn) << "request failed after the I/O timeout: " << s;
    err = EIO;
  } else if (err == EIO) {
    // A program sees only "I/O error": the log says what it was.
    LOG(kWarn) << "request failed with EIO: " << s;
  } else if (!s.ok() && s.code() != ErrorCode::kNotFound && s.code() != ErrorCode::kExists) {
    LOG(kDebug) << "request failed: " << s;
  }
  fuse_reply_err(req, err);
}

std::optional<Caller> FileSystem::CallerOf(fuse_req_t req) const {
  if (!root_mount_ || req == nullptr) return std::nullopt;
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller c;
  c.uid = ctx->uid;
  c.gid = ctx->gid;
  gid_t groups[64];
  const int n = fuse_req_getgroups(req, 64, groups);
  for (int i = 0; i < std::min(n, 64); ++i) c.groups.push_back(groups[i]);
  return c;
}

namespace {
bool IsAclName(std::string_view n) {
  return n == "system.posix_acl_access" || n == "system.posix_acl_default";
}
}  // namespace

Caller FileSystem::CreatorOf(fuse_req_t req) const {
  Caller c = CallerOf(req).value_or(client_->options().caller);
  if (req != nullptr && dont_mask_) c.umask = fuse_req_ctx(req)->umask & 0777;
  return c;
}

std::shared_ptr<FileSystem::OpenInode> FileSystem::Acquire(InodeId id) {
  std::lock_guard<std::mutex> lock(open_mu_);
  auto& slot = open_[id];
  if (!slot) slot = std::make_shared<OpenInode>(id);
  slot->opens++;
  return slot;
}

std::shared_ptr<FileSystem::OpenInode> FileSystem::Find(InodeId id) {
  std::lock_guard<std::mutex> lock(open_mu_);
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : it->second;
}

void FileSystem::ReleaseInode(const std::shared_ptr<OpenInode>& st) {
  int64_t orphan_session = 0;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    if (--st->opens > 0) return;
    open_.erase(st->id);
    orphan_session = st->orphan_session;
  }
  // The metaserver learns it in the next batch (MountSession).
  if (session_) session_->Released(st->id);
  if (orphan_session != 0) {
    // Its writer committed at its close: the file and its data go now.
    Status s = client_->ReleaseOrphan(orphan_session, st->id);
    if (!s.ok()) {
      LOG(kWarn) << "deleting unlinked file (inode " << st->id << ") at its last close: " << s
                 << " (the metaserver deletes it when the mount's session ends)";
    }
  }
}

Status FileSystem::RemoveName(InodeId parent, std::string_view name,
                              const std::function<Result<InodeId>(const KeepOpen*)>& remove) {
  KeepOpen keep;
  keep.session = session_ ? session_->id() : 0;
  if (keep.session != 0) keep.inodes = OpenInodesFor(parent, name);
  if (keep.inodes.empty()) return remove(nullptr).status();
  Result<InodeId> kept = remove(&keep);
  if (kept.status().code() == ErrorCode::kLeaseExpired) {
    // The session expired (refused before anything changed): a new one.
    keep.session = session_->Replace(keep.session);
    kept = keep.session != 0 ? remove(&keep) : remove(nullptr);
  }
  if (!kept.ok()) return kept.status();
  if (*kept != 0) Orphaned(*kept, keep.session);
  return Status();
}

std::vector<InodeId> FileSystem::OpenInodesFor(InodeId parent, std::string_view name) {
  std::vector<InodeId> ids;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    if (open_.size() <= kMaxKeepOpen) {
      ids.reserve(open_.size());
      for (const auto& [id, st] : open_) ids.push_back(id);
      return ids;
    }
  }
  // Too many to list: the file the name points at, if it is open here.
  Result<Attr> target = client_->Lookup(parent, name);
  if (target.ok() && Find(target->inode)) ids.push_back(target->inode);
  return ids;
}

void FileSystem::Orphaned(InodeId inode, int64_t session) {
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    auto it = open_.find(inode);
    if (it != open_.end()) {
      it->second->orphan_session = session;
      return;
    }
  }
  // Its last close came while the unlink was on its way.
  Status s = client_->ReleaseOrphan(session, inode);
  if (!s.ok()) {
    LOG(kWarn) << "deleting unlinked file (inode " << inode << "): " << s;
  }
}

void FileSystem::FailWriters(OpenInode* st, const Status& s, Handle* except) {
  LOG(kError) << "writing inode " << st->id << ": " << s;
  for (Handle* h : st->handles) {
    if (h != except && h->dirty && h->error.ok()) h->error = s;
    h->dirty = false;
  }
}

Status FileSystem::FlushLocked(OpenInode* st, Handle* h) {
  if (!st->writer || !st->dirty) return Status();
  Status s = st->writer->Flush();
  commit_seq_++;
  st->dirty = false;
  st->gen++;
  if (!s.ok()) {
    FailWriters(st, s, h);
    (void)st->writer->Close();  // the same error again
    commit_seq_++;
    st->writer.reset();
    st->written_end = 0;
    st->unsynced = false;
  }
  return s;
}

Status FileSystem::RetireWriterLocked(OpenInode* st, Handle* h) {
  if (!st->writer) return Status();
  Status s = st->unsynced ? st->writer->Sync() : Status();
  Status c = st->writer->Close();
  commit_seq_++;
  if (s.ok()) s = c;
  st->writer.reset();
  st->gen++;
  st->dirty = false;
  st->unsynced = false;
  st->written_end = 0;
  if (!s.ok()) FailWriters(st, s, h);
  return s;
}

void FileSystem::StartCommitter() {
  std::lock_guard<std::mutex> lock(committer_mu_);
  if (committer_.joinable()) return;
  committer_stop_ = false;
  committer_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(committer_mu_);
    while (!committer_cv_.wait_for(lock, kIdleCommit / 4, [&] { return committer_stop_; })) {
      lock.unlock();
      CommitIdleWriters();
      FlushAtimes();
      lock.lock();
    }
  });
}

void FileSystem::StopCommitter() {
  {
    std::lock_guard<std::mutex> lock(committer_mu_);
    committer_stop_ = true;
  }
  committer_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void FileSystem::CommitIdleWriters() {
  std::vector<std::shared_ptr<OpenInode>> dirty;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    for (const auto& [id, st] : open_) {
      if (st->dirty || st->unused_lease_ms.load() != 0) dirty.push_back(st);
    }
  }
  auto idle = [](const OpenInode& st) {
    return st.dirty && SteadyMs() - st.last_write_ms.load() >= kIdleCommit.count();
  };
  for (const auto& st : dirty) {
    if (const int64_t since = st->unused_lease_ms.load();
        since != 0 && !st->dirty && SteadyMs() - since >= kIdleCommit.count()) {
      std::unique_lock<std::mutex> lock(st->mu, std::try_to_lock);
      if (lock.owns_lock() && !st->dirty && st->writer) {
        // Commits nothing; gives back the lease of the unwritten chunk 0.
        (void)st->writer->Flush();
      }
      if (lock.owns_lock()) st->unused_lease_ms = 0;
      continue;
    }
    if (!idle(*st)) continue;
    // A request holding the lock is using the writer: it is not idle.
    std::unique_lock<std::mutex> lock(st->mu, std::try_to_lock);
    if (!lock.owns_lock() || !idle(*st)) continue;
    // An error reaches the handles that wrote at their next flush or fsync.
    (void)FlushLocked(st.get(), nullptr);
  }
}

bool FileSystem::KnownAbsent(InodeId id, std::string_view name) {
  std::lock_guard<std::mutex> lock(absent_mu_);
  auto it = absent_.find(id);
  if (it == absent_.end()) return false;
  const auto now = std::chrono::steady_clock::now();
  if (it->second.all_until > now) return true;
  auto n = it->second.names.find(std::string(name));
  return n != it->second.names.end() && n->second > now;
}

void FileSystem::NoteAbsent(InodeId id, std::string_view name) {
  const auto ttl = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.attr_timeout));
  if (ttl.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(absent_mu_);
  if (absent_.size() >= kMaxAbsent) {
    std::erase_if(absent_, [&](const auto& e) { return e.second.changed_until <= now; });
    if (absent_.size() >= kMaxAbsent) return;
  }
  AbsentXattrs& a = absent_[id];
  if (a.changed_until > now) return;
  if (name.empty()) {
    a.all_until = now + ttl;
  } else if (a.names.size() < 16) {
    a.names[std::string(name)] = now + ttl;
  }
}

void FileSystem::NoteXattrsOf(const Attr& a) {
  if (!a.has_xattrs) return NoteAbsent(a.inode, "");
  std::lock_guard<std::mutex> lock(absent_mu_);
  auto it = absent_.find(a.inode);
  if (it != absent_.end()) it->second.all_until = {};
}

void FileSystem::ForgetAbsent(InodeId id) {
  const auto guard = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.io_timeout + options_.attr_timeout + 5));
  std::lock_guard<std::mutex> lock(absent_mu_);
  AbsentXattrs& a = absent_[id];
  a = AbsentXattrs{};
  a.changed_until = std::chrono::steady_clock::now() + guard;
}

// ---- operations

void FileSystem::Init(fuse_conn_info* conn) {
  // 1 MiB requests (libfuse asks the kernel for max_pages to match).
  conn->max_write = 1u << 20;
  conn->max_readahead = std::min<unsigned>(conn->max_readahead, 1u << 20);
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // Write-through: no writeback cache, so every write reaches the writer and
  // its errors reach the program.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;  // O_TRUNC arrives as setattr(size 0)
  // The kernel drops setuid/setgid itself on a write, truncate or chown by
  // a user without CAP_FSETID and sends the new mode (DropSetIdForWrite
  // covers direct_io writes, which skip that). libfuse 3.14 never hands
  // HANDLE_KILLPRIV on to the kernel; cleared so that no later one does.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // POSIX ACLs (docs/fuse.md, "POSIX ACLs"): the kernel enforces the ACLs the
  // metaserver keeps and passes system.posix_acl_* through; the umask goes
  // to the metaserver with each create, which applies it only where no
  // default ACL does instead.
  if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK)) {
    conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
    dont_mask_ = true;
  }
  StartCommitter();
  // Here, after a detaching mount forked (threads do not survive fork).
  // A read-only mount has one too: a file it has open stays when another
  // client removes its last name.
  if (!session_) {
    char host[256] = "?";
    ::gethostname(host, sizeof host - 1);
    session_ = std::make_unique<MountSession>(
        client_,
        "ddbfs-mount " + options_.mountpoint + " on " + host + " (pid " +
            std::to_string(::getpid()) + ")",
        [this](InodeId id) { return Find(id) != nullptr; },
        [this] {
          std::vector<InodeId> ids;
          std::lock_guard<std::mutex> lock(open_mu_);
          ids.reserve(open_.size());
          for (const auto& [id, st] : open_) ids.push_back(id);
          return ids;
        });
    if (Status s = session_->Start(); !s.ok()) {
      LOG(kWarn) << "no client session (" << s
                 << "): a file removed while open on this mount (here or by another client) "
                    "loses its data at once";
      session_.reset();
    }
  }
}

void FileSystem::Destroy() {
  StopCommitter();
  {
    // The last atime notes; an unreachable metaserver does not hold up the
    // unmount for the whole I/O timeout (they are lost then).
    Client::RetryingFor bound(2000);
    FlushAtimes();
  }
  std::map<InodeId, std::shared_ptr<OpenInode>> open;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    open = open_;
  }
  for (auto& [id, st] : open) {
    std::lock_guard<std::mutex> lock(st->mu);
    Status s = RetireWriterLocked(st.get(), nullptr);
    if (!s.ok()) {
      LOG(kError) << "closing inode " << id << " at unmount: " << s;
    }
  }
  // The files unlinked while open that are still open go with the session.
  if (session_) session_->Stop();
}

void FileSystem::Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (parent == FUSE_ROOT_ID && TagViews::IsRootName(name)) {
    Result<Attr> r = views_.LookupRoot(name);
    if (!r.ok()) return ReplyStatus(req, r.status());
    return ReplyEntry(req, *r);
  }
  if (InView(parent)) {
    std::optional<Client::ActingAs> as;
    if (auto c = CallerOf(req)) as.emplace(*c);
    Result<Attr> r = views_.Lookup(ToDdbfs(parent), name, UidOf(req));
    if (!r.ok()) return ReplyStatus(req, r.status());
    return ReplyEntry(req, *r);
  }
  struct stat st;
  Attr a;
  Status s = FreshKernelStat([&] { return client_->Lookup(ToDdbfs(parent), name); }, &st, &a);
  if (s.code() == ErrorCode::kNotFound && options_.negative_timeout > 0) {
    // An entry with inode 0: the kernel keeps "no such name" for the
    // timeout (until this mount itself creates the name). Not in the tag
    // views, whose names come and go with tags set elsewhere.
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    e.ino = 0;
    e.entry_timeout = options_.negative_timeout;
    return (void)fuse_reply_entry(req, &e);
  }
  if (!s.ok()) return ReplyStatus(req, s);
  ReplyEntry(req, a, st);
}

void FileSystem::BeginDirChange(InodeId dir) {
  (void)Client::TakeDirAttr();  // nothing left over from before
  std::lock_guard<std::mutex> lock(dir_mu_);
  dir_attrs_.erase(dir);
  ++dir_changes_[dir];
}

void FileSystem::EndDirChange(InodeId dir, std::optional<Attr> after) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(dir_mu_);
  auto it = dir_changes_.find(dir);
  if (it == dir_changes_.end()) return;
  if (--it->second > 0) return;  // another change is in flight: its answer may be newer
  dir_changes_.erase(it);
  if (!after || after->inode != dir || options_.attr_timeout <= 0) return;
  if (dir_attrs_.size() >= kMaxDirAttrs) {
    std::erase_if(dir_attrs_, [&](const auto& e) { return e.second.expires <= now; });
    if (dir_attrs_.size() >= kMaxDirAttrs) return;
  }
  dir_attrs_[dir] =
      DirAttr{*after, now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(options_.attr_timeout))};
}

std::optional<Attr> FileSystem::TakeDirAttr(InodeId dir, double* ttl) {
  std::lock_guard<std::mutex> lock(dir_mu_);
  auto it = dir_attrs_.find(dir);
  if (it == dir_attrs_.end()) return std::nullopt;
  const DirAttr d = it->second;
  dir_attrs_.erase(it);
  const auto left = d.expires - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return std::nullopt;
  *ttl = std::chrono::duration<double>(left).count();
  return d.attr;
}

void FileSystem::GetAttr(fuse_req_t req, fuse_ino_t ino) {
  if (InView(ino)) {
    Result<Attr> r = views_.GetAttr(ToDdbfs(ino));
    if (!r.ok()) return ReplyStatus(req, r.status());
    struct stat st = ToStat(*r);
    return (void)fuse_reply_attr(req, &st, options_.attr_timeout);
  }
  double ttl = 0;
  if (std::optional<Attr> kept = TakeDirAttr(ToDdbfs(ino), &ttl)) {
    struct stat st = KernelStat(*kept);
    return (void)fuse_reply_attr(req, &st, ttl);
  }
  struct stat st;
  Status s = FreshKernelStat([&] { return client_->GetAttr(ToDdbfs(ino)); }, &st);
  if (!s.ok()) return ReplyStatus(req, s);
  fuse_reply_attr(req, &st, options_.attr_timeout);
}

Status FileSystem::FreshKernelStat(const std::function<Result<Attr>()>& fetch, struct stat* out,
                                   Attr* attr) {
  for (int tries = 0;; ++tries) {
    const uint64_t seq = commit_seq_.load();
    ASSIGN_OR_RETURN(Attr a, fetch());
    *out = KernelStat(a);
    if (attr != nullptr) *attr = a;
    // A commit during the fetch may have dropped the written end that
    // Overlay added while the fetched size is from before the commit.
    if (commit_seq_.load() == seq || tries == 3) return Status();
  }
}

void FileSystem::SetAttr(fuse_req_t req, fuse_ino_t ino, const struct stat* attr, int to_set,
                         fuse_file_info* fi) {
  (void)fi;
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (InView(ino)) return (void)fuse_reply_err(req, EPERM);
  const InodeId id = ToDdbfs(ino);
  BeginDirChange(id);
  struct End {
    FileSystem* fs;
    InodeId id;
    ~End() { fs->EndDirChange(id, std::nullopt); }
  } end{this, id};
  AttrChanges c;
  if (to_set & FUSE_SET_ATTR_MODE) c.mode = attr->st_mode & 07777;
  if (to_set & FUSE_SET_ATTR_UID) c.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) c.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) c.size = static_cast<uint64_t>(attr->st_size);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    c.atime_ns = NowNs();
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    c.atime_ns = ToNs(attr->st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    c.mtime_ns = NowNs();
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    c.mtime_ns = ToNs(attr->st_mtim);
  }
  // A read's atime still to be sent would land after this one.
  if (c.atime_ns) DropAtimeNotes(id);
  const bool anything = c.mode || c.uid || c.gid || c.size || c.atime_ns || c.mtime_ns;
  Result<Attr> r = Status(ErrorCode::kInternal, "unset");
  std::shared_ptr<OpenInode> st = Find(id);
  if (st) {
    // Data written through open handles goes first: a size change closes the
    // shared writer (it would commit its old size again), a time change
    // commits it (a later commit would stamp "now" over the new mtime).
    std::lock_guard<std::mutex> lock(st->mu);
    if (c.size) {
      (void)RetireWriterLocked(st.get(), nullptr);
    } else if (c.mtime_ns || c.atime_ns) {
      (void)FlushLocked(st.get(), nullptr);
    }
    r = anything ? client_->SetAttr(id, c) : client_->GetAttr(id);
    if (c.size) st->gen++;
  } else {
    r = anything ? client_->SetAttr(id, c) : client_->GetAttr(id);
  }
  if (!r.ok()) return ReplyStatus(req, r.status());
  struct stat out = KernelStat(*r);
  fuse_reply_attr(req, &out, options_.attr_timeout);
}

void FileSystem::Readlink(fuse_req_t req, fuse_ino_t ino) {
  Result<std::string> r =
      InView(ino) ? views_.Readlink(ToDdbfs(ino)) : client_->Readlink(ToDdbfs(ino));
  if (!r.ok()) return ReplyStatus(req, r.status());
  fuse_reply_readlink(req, r->c_str());
}

void FileSystem::Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                       dev_t rdev) {
  if (InView(parent)) return (void)fuse_reply_err(req, EPERM);
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  Result<Attr> r = InvalidArgument("mknod of an unknown file type");
  BeginDirChange(ToDdbfs(parent));
  {
    Client::ActingAs as(CreatorOf(req));
    switch (mode & S_IFMT) {
      case 0:
      case S_IFREG:
        r = client_->Create(ToDdbfs(parent), name, mode & 07777);
        break;
      case S_IFIFO:
        r = client_->Mknod(ToDdbfs(parent), name, FileType::kFifo, mode & 07777);
        break;
      case S_IFSOCK:
        r = client_->Mknod(ToDdbfs(parent), name, FileType::kSocket, mode & 07777);
        break;
      case S_IFCHR:
        r = client_->Mknod(ToDdbfs(parent), name, FileType::kCharDevice, mode & 07777, rdev);
        break;
      case S_IFBLK:
        r = client_->Mknod(ToDdbfs(parent), name, FileType::kBlockDevice, mode & 07777, rdev);
        break;
      default:
        break;
    }
  }
  EndDirChange(ToDdbfs(parent), Client::TakeDirAttr());
  if (!r.ok()) return ReplyStatus(req, r.status());
  ReplyEntry(req, *r);
}

void FileSystem::Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (ReservedName(parent, name)) return (void)fuse_reply_err(req, EEXIST);
  Result<Attr> r = InvalidArgument("");
  {
    Client::ActingAs as(CreatorOf(req));
    if (InView(parent)) {
      r = views_.Mkdir(ToDdbfs(parent), name);
      if (!r.ok()) return ReplyStatus(req, r.status());
      return ReplyEntry(req, *r);
    }
    BeginDirChange(ToDdbfs(parent));
    r = client_->Mkdir(ToDdbfs(parent), name, mode & 07777);
    EndDirChange(ToDdbfs(parent), Client::TakeDirAttr());
  }
  if (!r.ok()) return ReplyStatus(req, r.status());
  ReplyEntry(req, *r);
}

void FileSystem::Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (InView(parent)) {
    std::optional<Client::ActingAs> as;
    if (auto c = CallerOf(req)) as.emplace(*c);
    return ReplyStatus(req, views_.Unlink(ToDdbfs(parent), name, UidOf(req)));
  }
  const InodeId dir = ToDdbfs(parent);
  // A file open here lives on as an orphan until its last close.
  BeginDirChange(dir);
  Status s = RemoveName(dir, name, [&](const KeepOpen* keep) -> Result<InodeId> {
    if (keep) return client_->Unlink(dir, name, *keep);
    RETURN_IF_ERROR(client_->Unlink(dir, name));
    return InodeId{0};
  });
  EndDirChange(dir, Client::TakeDirAttr());
  ReplyStatus(req, s);
}

void FileSystem::Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (InView(parent)) {
    std::optional<Client::ActingAs> as;
    if (auto c = CallerOf(req)) as.emplace(*c);
    return ReplyStatus(req, views_.Rmdir(ToDdbfs(parent), name));
  }
  BeginDirChange(ToDdbfs(parent));
  Status s = client_->Rmdir(ToDdbfs(parent), name);
  EndDirChange(ToDdbfs(parent), Client::TakeDirAttr());
  ReplyStatus(req, s);
}

void FileSystem::Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (ReservedName(parent, name)) return (void)fuse_reply_err(req, EEXIST);
  Result<Attr> r = InvalidArgument("");
  {
    std::optional<Client::ActingAs> as;
    if (auto c = CallerOf(req)) as.emplace(*c);
    if (InView(parent)) {
      r = views_.Symlink(ToDdbfs(parent), name, target, options_.mountpoint, UidOf(req));
      if (!r.ok()) return ReplyStatus(req, r.status());
      return ReplyEntry(req, *r);
    }
    BeginDirChange(ToDdbfs(parent));
    r = client_->Symlink(ToDdbfs(parent), name, target);
    EndDirChange(ToDdbfs(parent), std::nullopt);
  }
  if (!r.ok()) return ReplyStatus(req, r.status());
  ReplyEntry(req, *r);
}

void FileSystem::Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                        const char* newname, unsigned int flags) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name) || NameTooLong(newname)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    return (void)fuse_reply_err(req, EINVAL);
  }
  int f = 0;
  if (flags & RENAME_NOREPLACE) f = Client::kRenameNoReplace;
  if (flags & RENAME_EXCHANGE) f = Client::kRenameExchange;
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) {
    return (void)fuse_reply_err(req, EINVAL);
  }
  const InodeId from = ToDdbfs(parent);
  const InodeId to = ToDdbfs(newparent);
  if (InView(parent) || InView(newparent)) {
    // mv asks for RENAME_NOREPLACE: a rename of a tag never replaces one.
    if ((flags & RENAME_EXCHANGE) == 0 && views_.IsTagsRoot(from) && views_.IsTagsRoot(to)) {
      std::optional<Client::ActingAs> as;
      if (auto c = CallerOf(req)) as.emplace(*c);
      return ReplyStatus(req, views_.RenameTag(name, newname));
    }
    return (void)fuse_reply_err(req, EXDEV);  // mv copies, then removes
  }
  if (ReservedName(newparent, newname)) return (void)fuse_reply_err(req, EEXIST);
  BeginDirChange(from);
  BeginDirChange(to);
  {
    // The moved node's ctime changes too, and it may be a directory whose
    // attributes are kept.
    std::lock_guard<std::mutex> lock(dir_mu_);
    dir_attrs_.clear();
  }
  Status s;
  if (f != 0) {
    s = client_->Rename(from, name, to, newname, f);
  } else {
    // A replaced target open here lives on as an orphan until its last close.
    s = RemoveName(to, newname, [&](const KeepOpen* keep) -> Result<InodeId> {
      if (keep) return client_->Rename(from, name, to, newname, 0, *keep);
      RETURN_IF_ERROR(client_->Rename(from, name, to, newname, 0));
      return InodeId{0};
    });
  }
  EndDirChange(to, std::nullopt);
  EndDirChange(from, std::nullopt);
  ReplyStatus(req, s);
}

void FileSystem::Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(newname)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (InView(ino) || InView(newparent)) return (void)fuse_reply_err(req, EXDEV);
  if (ReservedName(newparent, newname)) return (void)fuse_reply_err(req, EEXIST);
  BeginDirChange(ToDdbfs(newparent));
  Result<Attr> r = client_->Link(ToDdbfs(ino), ToDdbfs(newparent), newname);
  EndDirChange(ToDdbfs(newparent), std::nullopt);
  if (!r.ok()) return ReplyStatus(req, r.status());
  ReplyEntry(req, *r);
}

void FileSystem::Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (InView(ino)) return (void)fuse_reply_err(req, EISDIR);
  if (Writable(fi->flags) && options_.read_only) return (void)fuse_reply_err(req, EROFS);
  const InodeId id = ToDdbfs(ino);
  std::unique_ptr<FileReader> reader;
  // The metaserver learns that this mount has the file open (so that it
  // keeps it when another client removes its last name) in the GetChunks
  // a readable open sends anyway, or in one call for a write-only open of
  // a file not open here yet; until Acquire no batch of releases is sent.
  std::optional<MountSession::Declaring> declaring;
  if (session_) declaring.emplace(session_.get());
  if (Readable(fi->flags)) {
    // Opened now so that open(2) reports what reading would (and the
    // reader sees the data committed at open: close-to-open).
    Result<std::unique_ptr<FileReader>> r = client_->OpenReader(id);
    if (!r.ok()) return ReplyStatus(req, r.status());
    reader = std::move(r).value();
  } else if (declaring && !Find(id)) {
    if (Status s = session_->DeclareOne(*declaring, id); !s.ok()) return ReplyStatus(req, s);
  }
  auto* h = new Handle();
  h->writable = Writable(fi->flags);
  h->st = Acquire(id);
  declaring.reset();
  {
    std::lock_guard<std::mutex> lock(h->st->mu);
    h->st->handles.insert(h);
    if (h->writable) h->st->writable_handles++;
    h->reader_gen = h->st->gen.load();  // uncommitted data: Read flushes, gen moves
  }
  // Close-to-open: cached pages are dropped at an open unless the file's
  // committed size, mtime and ctime are what this mount's last open for
  // reading found (keep_cache): then no client changed its data since, and
  // what the kernel caches is what this mount read or wrote. The kernel may
  // still cache an older, smaller size (another client grew the file within
  // attr_timeout) and would cut reads, stat and mmap at it: it forgets the
  // attributes now and asks again at the next stat or read past that end.
  // (Reading around the page cache instead would make mmap(MAP_SHARED) of
  // the descriptor fail with ENODEV.)
  fi->keep_cache = 0;
  if (reader) {
    const Attr& a = reader->attr();
    if (SameAsLastOpen(id, OpenStamp{a.size, a.mtime_ns, a.ctime_ns})) fi->keep_cache = 1;
    if (KernelSizeStale(id, reader->size())) ForgetKernelAttr(ino);
  } else {
    ForgetOpenStamp(id);  // written here: the next reader drops the pages
  }
  // O_APPEND: the kernel puts a write at the size it caches, which another
  // client may have grown within attr_timeout (the write would land on its
  // data). The mount places such writes itself, at the end it knows, and
  // the handle goes around the page cache so that no page is cached at the
  // kernel's offset.
  h->append = h->writable && (fi->flags & O_APPEND) != 0;
  if (h->append) fi->direct_io = 1;
  h->direct_io = fi->direct_io;
  h->reader = std::move(reader);
  fi->fh = reinterpret_cast<uint64_t>(h);
  if (fuse_reply_open(req, fi) != 0) {
    // The opener went away (interrupted): nothing will release this handle.
    fuse_file_info copy = *fi;
    Release(nullptr, ino, &copy);
  }
}

bool FileSystem::SameAsLastOpen(InodeId inode, const OpenStamp& now) {
  std::lock_guard<std::mutex> lock(stamp_mu_);
  auto it = open_stamps_.find(inode);
  if (it != open_stamps_.end()) {
    const bool same = it->second == now;
    it->second = now;
    return same;
  }
  if (open_stamps_.size() >= kMaxOpenStamps) open_stamps_.clear();
  open_stamps_.emplace(inode, now);
  return false;
}

void FileSystem::ForgetOpenStamp(InodeId inode) {
  std::lock_guard<std::mutex> lock(stamp_mu_);
  open_stamps_.erase(inode);
}

void FileSystem::Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                        fuse_file_info* fi) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (NameTooLong(name)) return (void)fuse_reply_err(req, ENAMETOOLONG);
  if (InView(parent)) return (void)fuse_reply_err(req, EPERM);
  if (ReservedName(parent, name)) return (void)fuse_reply_err(req, EEXIST);
  const InodeId dir = ToDdbfs(parent);
  // A writable create is CreateForWrite: the metaserver places chunk 0 and
  // leases it to the new writer in the create's own transaction, so the
  // first write needs neither a GetAttr nor a PrepareWrite. The writer gives
  // that lease back at a flush that finds chunk 0 unwritten (a file closed
  // empty), and the committer does after kIdleCommit without a write (a
  // file held open empty), so no other writer waits for it; a lease half
  // gone before the first write is prepared afresh (FileWriter).
  // As the calling user: the metaserver owns the file as that user (with
  // the group of a setgid directory) in the create itself. The writer's
  // later calls run as the mount: open(O_CREAT, 0444) may still write.
  const bool writable = Writable(fi->flags);
  Result<Attr> created = InvalidArgument("");
  std::unique_ptr<FileWriter> writer;
  // The Create declares the new file open (see Open); Acquire below.
  std::optional<MountSession::Declaring> declaring;
  if (session_) declaring.emplace(session_.get());
  {
    Client::ActingAs as(CreatorOf(req));
    BeginDirChange(dir);
    if (writable) {
      Result<CreatedFile> cw = client_->CreateForWrite(dir, name, mode & 07777);
      if (cw.ok()) {
        created = cw->attr;
        writer = std::move(cw->writer);
      } else {
        created = cw.status();
      }
    } else {
      created = client_->Create(dir, name, mode & 07777);
    }
    EndDirChange(dir, Client::TakeDirAttr());
  }
  if (!created.ok()) return ReplyStatus(req, created.status());
  const Attr attr = *created;
  auto* h = new Handle();
  h->writable = writable;
  h->st = Acquire(attr.inode);
  declaring.reset();
  {
    std::lock_guard<std::mutex> lock(h->st->mu);
    h->st->handles.insert(h);
    if (h->writable) h->st->writable_handles++;
    h->reader_gen = h->st->gen.load() - 1;  // opened at the first read
    if (writer && !h->st->writer) {
      h->st->writer = std::move(writer);
      h->st->unused_lease_ms = SteadyMs();
    }
  }
  if (writer) (void)writer->Close();  // a writer of this inode was open already
  fi->fh = reinterpret_cast<uint64_t>(h);
  fi->keep_cache = 0;
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = ToFuse(attr.inode);
  e.attr = KernelStat(attr);
  e.attr_timeout = options_.attr_timeout;
  e.entry_timeout = options_.entry_timeout;
  if (fuse_reply_create(req, &e, fi) != 0) {
    fuse_file_info copy = *fi;
    Release(nullptr, e.ino, &copy);
  }
}

// Extended attributes run as the mount: the kernel has checked the calling
// user already (fs/xattr.c: trusted.* needs CAP_SYS_ADMIN, user.* the r/w
// permission), and the metaserver checks the mount's own identity.
void FileSystem::GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  // The kernel asks for security.capability before every write(2) (to
  // drop it): answered from the cache of files known not to have one.
  // Only these namespaces and the two POSIX ACLs exist: anything else is
  // the metaserver's EOPNOTSUPP without asking it.
  const std::string_view n(name);
  if (!n.starts_with("user.") && !n.starts_with("trusted.") && !n.starts_with("security.") &&
      !IsAclName(n)) {
    return (void)fuse_reply_err(req, EOPNOTSUPP);
  }
  if (InView(ino)) return (void)fuse_reply_err(req, ENODATA);
  if (TagViews::IsTagXattr(n)) {
    Result<std::string> v = views_.GetTagXattr(ToDdbfs(ino), n);
    if (!v.ok()) return ReplyStatus(req, v.status());
    if (size == 0) return (void)fuse_reply_xattr(req, v->size());
    if (v->size() > size) return (void)fuse_reply_err(req, ERANGE);
    return (void)fuse_reply_buf(req, v->data(), v->size());
  }
  if (KnownAbsent(ToDdbfs(ino), n)) return (void)fuse_reply_err(req, ENODATA);
  Result<std::string> v = client_->GetXattr(ToDdbfs(ino), name);
  if (v.status().code() == ErrorCode::kNoData) NoteAbsent(ToDdbfs(ino), n);
  if (!v.ok()) return ReplyStatus(req, v.status());
  if (size == 0) return (void)fuse_reply_xattr(req, v->size());
  if (v->size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, v->data(), v->size());
}

void FileSystem::ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  if (InView(ino)) return (void)fuse_reply_xattr(req, 0);
  Result<std::vector<std::string>> names = client_->ListXattr(ToDdbfs(ino));
  if (!names.ok()) return ReplyStatus(req, names.status());
  std::string list;
  for (const std::string& n : *names) {
    list += n;
    list += '\0';
  }
  // The tags, as user.ddbfs.tags (so cp -a, rsync -X and tar --xattrs
  // carry them).
  Result<bool> tagged = views_.HasTags(ToDdbfs(ino));
  if (!tagged.ok()) return ReplyStatus(req, tagged.status());
  if (*tagged) list += std::string("user.ddbfs.tags") + '\0';
  if (size == 0) return (void)fuse_reply_xattr(req, list.size());
  if (list.size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, list.data(), list.size());
}

void FileSystem::SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                          size_t size, int flags) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  int f = 0;
  if (flags & XATTR_CREATE) f = Client::kXattrCreate;
  if (flags & XATTR_REPLACE) f = Client::kXattrReplace;
  if ((flags & XATTR_CREATE) && (flags & XATTR_REPLACE)) return (void)fuse_reply_err(req, EINVAL);
  if (InView(ino)) return (void)fuse_reply_err(req, EPERM);
  if (TagViews::IsTagXattr(name)) {
    return ReplyStatus(req, views_.SetTagXattr(ToDdbfs(ino), name, std::string_view(value, size),
                                               flags & (XATTR_CREATE | XATTR_REPLACE)));
  }
  ForgetAbsent(ToDdbfs(ino));
  BeginDirChange(ToDdbfs(ino));  // ctime changes (and the mode, with an access ACL)
  Status s;
  {
    // An ACL as its caller: the metaserver drops S_ISGID when that caller is
    // not in the node's group (Linux's posix_acl_update_mode).
    std::optional<Client::ActingAs> as;
    if (IsAclName(name)) {
      if (auto c = CallerOf(req)) as.emplace(*c);
    }
    s = client_->SetXattr(ToDdbfs(ino), name, std::string_view(value, size), f);
  }
  EndDirChange(ToDdbfs(ino), std::nullopt);
  ReplyStatus(req, s);
}

void FileSystem::RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  if (InView(ino)) return (void)fuse_reply_err(req, EPERM);
  if (TagViews::IsTagXattr(name))
    return ReplyStatus(req, views_.RemoveTagXattr(ToDdbfs(ino), name));
  ForgetAbsent(ToDdbfs(ino));
  BeginDirChange(ToDdbfs(ino));  // ctime changes
  Status s;
  {
    std::optional<Client::ActingAs> as;
    if (IsAclName(name)) {
      if (auto c = CallerOf(req)) as.emplace(*c);
    }
    s = client_->RemoveXattr(ToDdbfs(ino), name);
  }
  EndDirChange(ToDdbfs(ino), std::nullopt);
  ReplyStatus(req, s);
}

void FileSystem::Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  (void)ino;
  Handle* h = HandleOf(fi);
  OpenInode* st = h->st.get();
  std::string buf;
  bool touch_atime = false;
  // Locks are dropped before replying: after the reply the kernel may
  // release the handle at once.
  Status s = [&]() -> Status {
    if (st->dirty) {
      // Data written through this mount is read back: commit it first.
      std::lock_guard<std::mutex> lock(st->mu);
      RETURN_IF_ERROR(FlushLocked(st, nullptr));
    }
    std::lock_guard<std::mutex> lock(h->mu);
    const uint64_t gen = st->gen.load();
    if (!h->reader || h->reader_gen != gen) {
      ASSIGN_OR_RETURN(h->reader, client_->OpenReader(st->id));
      h->reader_gen = gen;
    }
    buf.resize(size);
    size_t got = 0;
    while (got < size) {
      Result<size_t> n = h->reader->Read(static_cast<uint64_t>(off) + got,
                                         std::span<char>(buf.data() + got, size - got));
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      got += *n;
    }
    buf.resize(got);
    if (!h->read_seen) {
      h->read_seen = true;
      touch_atime = AtimeDue(h->reader->attr());
    }
    return Status();
  }();
  if (!s.ok()) return ReplyStatus(req, s);
  // Queued before the reply, so that a stat after read(2) sees it.
  if (touch_atime) NoteRead(st->id);
  fuse_reply_buf(req, buf.data(), buf.size());
}

void FileSystem::NoteRead(InodeId id) {
  std::lock_guard<std::mutex> lock(atime_mu_);
  auto it = atime_waiting_.find(id);
  if (it != atime_waiting_.end()) {
    it->second = NowNs();
  } else if (atime_waiting_.size() < kMaxWaitingAtimes) {
    atime_waiting_.emplace(id, NowNs());
  }  // else the metaserver has been unreachable for a while: atime is lost
}

void FileSystem::FlushAtimes() {
  std::lock_guard<std::mutex> flush(atime_flush_mu_);
  std::vector<std::pair<InodeId, int64_t>> batch;
  {
    std::lock_guard<std::mutex> lock(atime_mu_);
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(atime_sent_, [&](const auto& e) { return now - e.second.at > kAtimeSentKeep; });
    if (atime_waiting_.empty()) return;
    atime_sending_.swap(atime_waiting_);
    batch.assign(atime_sending_.begin(), atime_sending_.end());
  }
  // One call (kMaxWaitingAtimes is the metaserver's bound for one).
  Result<int> r = client_->UpdateAtimes(batch, options_.atime == AtimeUpdates::kRelatime);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(atime_mu_);
  if (r.ok()) {
    for (const auto& [id, t] : atime_sending_) atime_sent_[id] = SentAtime{t, now};
  } else {
    LOG(kDebug) << "atime of " << batch.size() << " files: " << r.status();
    if (r.status().code() == ErrorCode::kReadOnly) {
      atime_refused_ = true;  // a read-only key: the mount may not change files
    } else if (r.status().code() == ErrorCode::kUnavailable ||
               r.status().code() == ErrorCode::kTimedOut) {
      for (const auto& [id, t] : atime_sending_) atime_waiting_.emplace(id, t);  // next time
    }
  }
  atime_sending_.clear();
}

int64_t FileSystem::NotedAtime(InodeId id) {
  std::lock_guard<std::mutex> lock(atime_mu_);
  int64_t t = 0;
  if (auto it = atime_waiting_.find(id); it != atime_waiting_.end()) t = it->second;
  if (auto it = atime_sending_.find(id); it != atime_sending_.end()) t = std::max(t, it->second);
  if (auto it = atime_sent_.find(id); it != atime_sent_.end()) {
    t = std::max(t, it->second.atime_ns);
  }
  return t;
}

void FileSystem::DropAtimeNotes(InodeId id) {
  std::lock_guard<std::mutex> flush(atime_flush_mu_);
  std::lock_guard<std::mutex> lock(atime_mu_);
  atime_waiting_.erase(id);
  atime_sent_.erase(id);
}

// The first read through each descriptor updates atime as the mount's
// option says; relatime (the default) as Linux: only if atime is not after
// mtime or ctime, or is more than a day old.
bool FileSystem::AtimeDue(Attr a) {
  if (options_.read_only || atime_refused_.load()) return false;
  a.atime_ns = std::max(a.atime_ns, NotedAtime(a.inode));
  switch (options_.atime) {
    case AtimeUpdates::kNever:
      return false;
    case AtimeUpdates::kStrict:
      return true;
    case AtimeUpdates::kRelatime:
      break;
  }
  constexpr int64_t kDayNs = 24LL * 3600 * 1000000000;
  return a.atime_ns <= a.mtime_ns || a.atime_ns <= a.ctime_ns || a.atime_ns <= NowNs() - kDayNs;
}

void FileSystem::Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                       fuse_file_info* fi) {
  (void)ino;
  Handle* h = HandleOf(fi);
  OpenInode* st = h->st.get();
  if (h->direct_io) {
    Status p = DropSetIdForWrite(req, st->id);
    if (!p.ok()) return ReplyStatus(req, p);
  }
  Status s;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    uint64_t at = static_cast<uint64_t>(off);
    std::optional<uint64_t> kernel_end;
    if (h->append && !st->writer) {
      Result<std::unique_ptr<FileWriter>> w = client_->OpenWriter(st->id);
      if (w.ok()) {
        st->writer = std::move(w).value();
      } else {
        s = w.status();
      }
    }
    if (s.ok() && h->append) {
      at = st->writer->size();
      kernel_end = static_cast<uint64_t>(off) + size;  // what the kernel believes
    }
    if (s.ok()) s = WriteLocked(st, h, at, std::span<const char>(buf, size), kernel_end);
  }
  if (!s.ok()) return ReplyStatus(req, s);
  fuse_reply_write(req, size);
}

// The kernel drops setuid/setgid on a write by a user without CAP_FSETID
// (file_remove_privs, then a setattr of the mode: the mount leaves
// FUSE_CAP_HANDLE_KILLPRIV off), except for a descriptor that writes around
// the page cache (direct_io). For those, as Linux: a writer other than root
// clears setuid, and setgid if the group may execute.
Status FileSystem::DropSetIdForWrite(fuse_req_t req, InodeId id) {
  if (fuse_req_ctx(req)->uid == 0) return Status();
  ASSIGN_OR_RETURN(Attr a, client_->GetAttr(id));
  uint32_t mode = a.mode & ~static_cast<uint32_t>(S_ISUID);
  if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) mode &= ~static_cast<uint32_t>(S_ISGID);
  if (mode == a.mode) return Status();
  AttrChanges c;
  c.mode = mode;
  return client_->SetAttr(id, c).status();
}

Status FileSystem::WriteLocked(OpenInode* st, Handle* h, uint64_t off, std::span<const char> data,
                               std::optional<uint64_t> kernel_end) {
  if (!st->writer) {
    ASSIGN_OR_RETURN(st->writer, client_->OpenWriter(st->id));
  }
  Status w = st->writer->Write(off, data);
  if (!w.ok()) {
    // This write reports it; earlier writes of other handles at their close.
    FailWriters(st, w, h);
    (void)st->writer->Close();
    commit_seq_++;
    st->writer.reset();
    st->written_end = 0;
    st->dirty = false;
    st->unsynced = false;
    st->gen++;
    return w;
  }
  st->dirty = true;
  st->unsynced = true;
  st->last_write_ms = SteadyMs();
  st->last_write_ns = NowNs();
  st->unused_lease_ms = 0;
  h->dirty = true;
  const uint64_t end = off + data.size();
  if (end > st->written_end.load()) st->written_end = end;
  KernelSizeGrew(st->id, kernel_end.value_or(end));
  return Status();
}

void FileSystem::Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  (void)ino;
  Handle* h = HandleOf(fi);
  if (!h->writable) return (void)fuse_reply_err(req, 0);
  OpenInode* st = h->st.get();
  Status s;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    s = FlushLocked(st, h);
    if (s.ok() && !h->error.ok()) s = h->error;
    h->error = Status();
    h->dirty = false;
  }
  ReplyStatus(req, s);
}

void FileSystem::KeepClosedUnsynced(InodeId inode, std::unique_ptr<FileWriter> writer) {
  ClosedWriter oldest;
  {
    std::lock_guard<std::mutex> lock(closed_mu_);
    closed_unsynced_.push_back(ClosedWriter{inode, std::move(writer)});
    if (closed_unsynced_.size() <= kMaxClosedUnsynced) return;
    oldest = std::move(closed_unsynced_.front());
    closed_unsynced_.pop_front();
  }
  Status s = oldest.writer->SyncAfterClose();
  if (!s.ok()) {
    LOG(kWarn) << "sync of inode " << oldest.inode << " after its close: " << s
               << " (its next fsync reports it)";
    std::lock_guard<std::mutex> lock(closed_mu_);
    if (closed_sync_errors_.size() < kMaxClosedUnsynced)
      closed_sync_errors_.emplace(oldest.inode, s);
  }
}

Status FileSystem::SyncClosedWriters(InodeId inode) {
  std::vector<std::unique_ptr<FileWriter>> mine;
  Status s;
  {
    std::lock_guard<std::mutex> lock(closed_mu_);
    for (auto it = closed_unsynced_.begin(); it != closed_unsynced_.end();) {
      if (it->inode == inode) {
        mine.push_back(std::move(it->writer));
        it = closed_unsynced_.erase(it);
      } else {
        ++it;
      }
    }
    auto e = closed_sync_errors_.find(inode);
    if (e != closed_sync_errors_.end()) {
      s = e->second;
      closed_sync_errors_.erase(e);
    }
  }
  for (auto& w : mine) {
    Status one = w->SyncAfterClose();
    if (s.ok()) s = one;
  }
  return s;
}

void FileSystem::Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  (void)ino;
  (void)datasync;
  Handle* h = HandleOf(fi);
  OpenInode* st = h->st.get();
  Status s;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->writer && st->unsynced) {
      s = st->writer->Sync();
      commit_seq_++;
      if (st->dirty) st->gen++;
      st->dirty = false;
      if (s.ok()) {
        st->unsynced = false;
      } else {
        FailWriters(st, s, h);
        (void)st->writer->Close();
        commit_seq_++;
        st->writer.reset();
        st->written_end = 0;
        st->unsynced = false;
      }
    }
    if (s.ok() && !h->error.ok()) s = h->error;
    h->error = Status();
    h->dirty = false;
  }
  // Data of descriptors closed before (their writers committed it at the
  // close without an fdatasync).
  Status closed = SyncClosedWriters(st->id);
  if (s.ok()) s = closed;
  ReplyStatus(req, s);
}

// lseek(2) with SEEK_DATA or SEEK_HOLE (the kernel answers the other
// whences itself): at chunk granularity, from the chunk map, after this
// mount's uncommitted writes to the file are committed (docs/fuse.md,
// "Holes").
void FileSystem::Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
  (void)ino;
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return (void)fuse_reply_err(req, EINVAL);
  if (off < 0) return (void)fuse_reply_err(req, ENXIO);
  OpenInode* st = HandleOf(fi)->st.get();
  std::optional<uint64_t> at;
  Status s = [&]() -> Status {
    if (st->dirty) {
      std::lock_guard<std::mutex> lock(st->mu);
      RETURN_IF_ERROR(FlushLocked(st, nullptr));
    }
    ASSIGN_OR_RETURN(
        at, client_->SeekDataOrHole(st->id, static_cast<uint64_t>(off), whence == SEEK_DATA));
    return Status();
  }();
  if (!s.ok()) return ReplyStatus(req, s);
  if (!at) return (void)fuse_reply_err(req, ENXIO);
  fuse_reply_lseek(req, static_cast<off_t>(*at));
}

// fallocate(2). DDBFS cannot reserve space on the chunk servers: mode 0
// only sets the size (the new range is a hole and reads as zeros), so a
// later write into it can still fail with ENOSPC, reported by that write or
// at close. PUNCH_HOLE (with KEEP_SIZE) and ZERO_RANGE write zeros through
// the shared writer, after the writes of every handle before them. The
// kernel refuses other modes, bad descriptors, offsets and lengths itself;
// they are checked here too.
void FileSystem::Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                           fuse_file_info* fi) {
  (void)ino;
  if (options_.read_only) return (void)fuse_reply_err(req, EROFS);
  const bool keep_size = (mode & FALLOC_FL_KEEP_SIZE) != 0;
  const int op = mode & ~FALLOC_FL_KEEP_SIZE;
  if ((op != 0 && op != FALLOC_FL_PUNCH_HOLE && op != FALLOC_FL_ZERO_RANGE) ||
      (op == FALLOC_FL_PUNCH_HOLE && !keep_size)) {
    return (void)fuse_reply_err(req, EOPNOTSUPP);
  }
  if (off < 0 || len <= 0) return (void)fuse_reply_err(req, EINVAL);
  const uint64_t start = static_cast<uint64_t>(off);
  if (len > std::numeric_limits<off_t>::max() - off) return (void)fuse_reply_err(req, EFBIG);
  const uint64_t end = start + static_cast<uint64_t>(len);
  Handle* h = HandleOf(fi);
  if (!h->writable) return (void)fuse_reply_err(req, EBADF);
  OpenInode* st = h->st.get();
  Status s = [&]() -> Status {
    std::lock_guard<std::mutex> lock(st->mu);
    uint64_t size = 0;  // as this mount sees it, uncommitted writes included
    if (st->writer) {
      size = st->writer->size();
    } else {
      ASSIGN_OR_RETURN(Attr a, client_->GetAttr(st->id));
      size = a.size;
    }
    if (op != 0) {
      static const std::string kZeros(1 << 20, '\0');
      const uint64_t zero_end = std::min(end, size);
      for (uint64_t pos = start; pos < zero_end;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), zero_end - pos));
        RETURN_IF_ERROR(WriteLocked(st, h, pos, std::span<const char>(kZeros.data(), n)));
        pos += n;
      }
    }
    if (keep_size || end <= size) return Status();
    // A size change closes the shared writer (see SetAttr); the range
    // beyond the old end is a hole.
    RETURN_IF_ERROR(RetireWriterLocked(st, nullptr));
    AttrChanges c;
    c.size = end;
    Result<Attr> r = client_->SetAttr(st->id, c);
    st->gen++;
    RETURN_IF_ERROR(r.status());
    KernelSizeGrew(st->id, end);
    return Status();
  }();
  ReplyStatus(req, s);
}

void FileSystem::Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  (void)ino;
  Handle* h = HandleOf(fi);
  std::shared_ptr<OpenInode> st = h->st;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    st->handles.erase(h);
    if (h->writable && --st->writable_handles == 0 && st->writer) {
      // Flush (close) reported errors already; nothing can report them now.
      Status s = st->writer->Close();
      commit_seq_++;
      if (!s.ok()) {
        LOG(kError) << "closing inode " << st->id << ": " << s;
      } else if (st->writer->HasUnsynced()) {
        KeepClosedUnsynced(st->id, std::move(st->writer));
      }
      st->writer.reset();
      if (st->dirty) st->gen++;
      st->dirty = false;
      st->unsynced = false;
      st->written_end = 0;
    }
  }
  delete h;
  ReleaseInode(st);
  if (req) fuse_reply_err(req, 0);
}

Result<std::vector<DirEntry>> FileSystem::ListEntries(fuse_req_t req, fuse_ino_t ino) {
  if (!InView(ino)) return client_->ListDir(ToDdbfs(ino));
  std::optional<Client::ActingAs> as;
  if (auto c = CallerOf(req)) as.emplace(*c);
  return views_.List(ToDdbfs(ino), UidOf(req));
}

bool FileSystem::ReservedName(fuse_ino_t parent, std::string_view name) const {
  return parent == FUSE_ROOT_ID && TagViews::IsRootName(name);
}

void FileSystem::OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const uint64_t seq = commit_seq_.load();
  Result<std::vector<DirEntry>> r = ListEntries(req, ino);
  if (!r.ok()) return ReplyStatus(req, r.status());
  auto* d = new DirHandle();
  d->listed_seq = seq;
  d->entries = std::move(r).value();
  d->fresh = true;
  fi->fh = reinterpret_cast<uint64_t>(d);
  if (fuse_reply_open(req, fi) != 0) delete d;
}

void FileSystem::ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                         bool plus) {
  DirHandle* d = DirHandleOf(fi);
  std::string buf(size, '\0');
  size_t used = 0;
  std::unique_lock<std::mutex> lock(d->mu);
  if (off == 0 && !d->fresh) {  // rewinddir: read the directory again
    d->listed_seq = commit_seq_.load();
    Result<std::vector<DirEntry>> r = ListEntries(req, ino);
    if (!r.ok()) {
      lock.unlock();
      return ReplyStatus(req, r.status());
    }
    d->entries = std::move(r).value();
  }
  d->fresh = false;
  // Offsets: 1 after ".", 2 after "..", 2 + i + 1 after entry i.
  const size_t total = d->entries.size() + 2;
  for (size_t i = static_cast<size_t>(off); i < total; ++i) {
    std::string_view name;
    Attr attr;
    if (i < 2) {
      name = i == 0 ? "." : "..";
      attr.inode = ToDdbfs(ino);
      attr.type = FileType::kDirectory;
    } else {
      const DirEntry& e = d->entries[i - 2];
      name = e.name;
      attr = e.attr;
    }
    const std::string n(name);
    size_t need;
    if (plus) {
      fuse_entry_param e;
      std::memset(&e, 0, sizeof e);
      // A file's size listed before a commit of this mount may be too small
      // (FreshKernelStat): no attributes then (ino 0), the kernel looks it
      // up when it needs them.
      if (i >= 2 && (attr.type != FileType::kRegular || commit_seq_.load() == d->listed_seq)) {
        e.ino = ToFuse(attr.inode);
        e.attr = KernelStat(attr);
        e.attr_timeout = options_.attr_timeout;
        e.entry_timeout = options_.entry_timeout;
      } else if (i >= 2) {
        e.attr = ToStat(attr);  // the type and inode number of the entry only
      } else {
        e.attr = ToStat(attr);  // "." and "..": the kernel looks them up itself
        e.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
      }
      need = fuse_add_direntry_plus(req, buf.data() + used, size - used, n.c_str(), &e,
                                    static_cast<off_t>(i + 1));
    } else {
      struct stat st = ToStat(attr);
      if (i == 1) st.st_ino = FUSE_ROOT_ID;
      need = fuse_add_direntry(req, buf.data() + used, size - used, n.c_str(), &st,
                               static_cast<off_t>(i + 1));
    }
    if (need > size - used) break;
    used += need;
  }
  lock.unlock();  // the kernel may release the handle once it has the reply
  fuse_reply_buf(req, buf.data(), used);
}

void FileSystem::ReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  (void)ino;
  delete DirHandleOf(fi);
  fuse_reply_err(req, 0);
}

void FileSystem::StatFs(fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  Result<ClusterView> r = client_->ClusterStatus();
  if (!r.ok()) return ReplyStatus(req, r.status());
  uint64_t capacity = 0;
  uint64_t used = 0;
  for (const ServerView& s : r->servers) {
    if (!s.alive) continue;
    capacity += s.capacity_bytes;
    used += std::min(s.used_bytes, s.capacity_bytes);
  }
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  constexpr uint64_t kFrag = 4096;
  st.f_bsize = 1 << 20;
  st.f_frsize = kFrag;
  st.f_blocks = capacity / kFrag;
  st.f_bfree = (capacity - used) / kFrag;
  st.f_bavail = st.f_bfree;
  const uint64_t nodes = static_cast<uint64_t>(r->files + r->directories);
  constexpr uint64_t kFreeNodes = 1ull << 32;  // nodes are rows: no fixed limit
  st.f_files = nodes + kFreeNodes;
  st.f_ffree = kFreeNodes;
  st.f_favail = kFreeNodes;
  st.f_namemax = kMaxNameLength;
  fuse_reply_statfs(req, &st);
}

// ---- the operation table

namespace {

void OpInit(void* userdata, fuse_conn_info* conn) {
  static_cast<FileSystem*>(userdata)->Init(conn);
}
void OpDestroy(void* userdata) { static_cast<FileSystem*>(userdata)->Destroy(); }
void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Fs(req)->Lookup(req, parent, name);
}
// Inode numbers are DDBFS ids: nothing to forget.
void OpForget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
void OpForgetMulti(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }
void OpGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) { Fs(req)->GetAttr(req, ino); }
void OpSetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Fs(req)->SetAttr(req, ino, attr, to_set, fi);
}
void OpReadlink(fuse_req_t req, fuse_ino_t ino) { Fs(req)->Readlink(req, ino); }
void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Fs(req)->Mknod(req, parent, name, mode, rdev);
}
void OpGetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Fs(req)->GetXattr(req, ino, name, size);
}
void OpListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Fs(req)->ListXattr(req, ino, size);
}
void OpSetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) {
  Fs(req)->SetXattr(req, ino, name, value, size, flags);
}
void OpRemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Fs(req)->RemoveXattr(req, ino, name);
}
void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Fs(req)->Mkdir(req, parent, name, mode);
}
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Fs(req)->Unlink(req, parent, name);
}
void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Fs(req)->Rmdir(req, parent, name);
}
void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Fs(req)->Symlink(req, link, parent, name);
}
void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) {
  Fs(req)->Rename(req, parent, name, newparent, newname, flags);
}
void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Fs(req)->Link(req, ino, newparent, newname);
}
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Fs(req)->Open(req, ino, fi); }
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Fs(req)->Read(req, ino, size, off, fi);
}
void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  Fs(req)->Write(req, ino, buf, size, off, fi);
}
void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Fs(req)->Flush(req, ino, fi); }
void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi) {
  Fs(req)->Fallocate(req, ino, mode, offset, length, fi);
}
void OpLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
  Fs(req)->Lseek(req, ino, off, whence, fi);
}
void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Fs(req)->Release(req, ino, fi);
}
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Fs(req)->Fsync(req, ino, datasync, fi);
}
void OpOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Fs(req)->OpenDir(req, ino, fi);
}
void OpReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Fs(req)->ReadDir(req, ino, size, off, fi, false);
}
void OpReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Fs(req)->ReadDir(req, ino, size, off, fi, true);
}
void OpReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Fs(req)->ReleaseDir(req, ino, fi);
}
void OpStatFs(fuse_req_t req, fuse_ino_t ino) { Fs(req)->StatFs(req, ino); }
void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  Fs(req)->Create(req, parent, name, mode, fi);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = OpInit;
  ops.destroy = OpDestroy;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetAttr;
  ops.setattr = OpSetAttr;
  ops.readlink = OpReadlink;
  ops.mknod = OpMknod;
  ops.getxattr = OpGetXattr;
  ops.listxattr = OpListXattr;
  ops.setxattr = OpSetXattr;
  ops.removexattr = OpRemoveXattr;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.fallocate = OpFallocate;
  ops.lseek = OpLseek;
  ops.opendir = OpOpenDir;
  ops.readdir = OpReadDir;
  ops.readdirplus = OpReadDirPlus;
  ops.releasedir = OpReleaseDir;
  ops.statfs = OpStatFs;
  ops.create = OpCreate;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& FileSystem::Ops() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace ddbfs::fuse
