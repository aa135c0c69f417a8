#pragma once

// The FUSE file system: libfuse3 low-level operations on top of libddbfs.
// docs/fuse.md describes what it does and what it does not do yet.
//
// Inode numbers are DDBFS inode ids (the root, 1, is the root the client
// sees: a subtree key's directory). Every open file handle has its own
// FileReader; the handles of one inode share one FileWriter (the lease of a
// chunk belongs to one writer), opened at the first write, committed on flush
// (close), made durable on fsync, closed with the last writable handle. A
// writer that has had no write for kIdleCommit is committed by a background
// thread: a writer renews its chunk leases only while it writes, so one left
// idle longer than the metaserver's lease would lose what it holds.

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ddbfs/client.h"
#include "mount_session.h"
#include "tag_views.h"

namespace ddbfs::fuse {

// When a read updates atime: -o relatime (the default), strictatime (at
// the first read through each descriptor), noatime.
enum class AtimeUpdates { kRelatime, kStrict, kNever };

struct MountOptions {
  double attr_timeout = 1.0;   // seconds the kernel caches attributes
  double entry_timeout = 1.0;  // seconds the kernel caches names
  // Seconds the kernel caches "no such name" (0: not at all, the default,
  // as MooseFS's mfsnegentrycacheto and JuiceFS's --negative-entry-cache).
  double negative_timeout = 0;
  // -o io_timeout: how long a request waits for an unreachable metaserver
  // (retrying) and for any one answer, before it fails with EIO.
  double io_timeout = 60;
  bool read_only = false;  // -o ro
  AtimeUpdates atime = AtimeUpdates::kRelatime;
  std::string mountpoint;  // names the mount's client session in the metaserver's logs
};

class FileSystem {
 public:
  // `client` must outlive the FileSystem. `root` is the DDBFS inode of "/".
  FileSystem(Client* client, InodeId root, MountOptions options);
  ~FileSystem();

  // The client to use from now on (after fork; before the session loop).
  void SetClient(Client* client) { client_ = client; }
  // The FUSE session, for notifications to the kernel (before the loop;
  // nullptr before unmounting).
  void SetSession(fuse_session* se) { fuse_session_ = se; }

  // The operation table for fuse_session_new (userdata: this).
  static const fuse_lowlevel_ops& Ops();

  // Written data is committed once no write came for this long (well under
  // the shortest write lease, 2 s in tests, 20 s by default).
  static constexpr std::chrono::milliseconds kIdleCommit{500};

  struct Handle;
  struct OpenInode;
  struct DirHandle;

  // Operations (public for the static trampolines in fs.cc).
  void Init(fuse_conn_info* conn);
  void Destroy();
  void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  void GetAttr(fuse_req_t req, fuse_ino_t ino);
  void SetAttr(fuse_req_t req, fuse_ino_t ino, const struct stat* attr, int to_set,
               fuse_file_info* fi);
  void Readlink(fuse_req_t req, fuse_ino_t ino);
  void Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
  void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
  void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size);
  void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags);
  void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name);
  void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
  void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
  void Symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name);
  void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags);
  void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
  void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
  void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi);
  void Flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
  void Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi);
  void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                 fuse_file_info* fi);
  void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
               bool plus);
  void ReleaseDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  void StatFs(fuse_req_t req, fuse_ino_t ino);

 private:
  // A node of the tag views (tag_views.h).
  bool InView(fuse_ino_t ino) const;
  // .tags and .query in the root: no real node may take these names.
  bool ReservedName(fuse_ino_t parent, std::string_view name) const;
  // A directory's entries, real or of a view (as the calling user).
  Result<std::vector<DirEntry>> ListEntries(fuse_req_t req, fuse_ino_t ino);
  InodeId ToDdbfs(fuse_ino_t ino) const;
  fuse_ino_t ToFuse(InodeId id) const;
  struct stat ToStat(const Attr& a) const;
  // Attributes as this mount sees them: the size, mtime and ctime of data
  // written but not committed yet.
  Attr Overlay(Attr a);
  // ToStat(Overlay(a)) for a reply to the kernel, which caches it for
  // attr_timeout: remembers the size it was told (see KernelSizeStale).
  struct stat KernelStat(const Attr& a);
  // KernelStat of what `fetch` returns (`attr`: that, if not null), fetched
  // again when this mount committed a writer meanwhile: a size from before
  // that commit, without the written end Overlay adds until then, would
  // show the file shorter than it is (and the kernel would cut its pages).
  Status FreshKernelStat(const std::function<Result<Attr>()>& fetch, struct stat* out,
                         Attr* attr = nullptr);
  // A write through this mount grew the file: the kernel knows.
  void KernelSizeGrew(InodeId id, uint64_t end);
  // True if the kernel may still trust a size below `size` (the committed
  // size at an open): another client grew the file within attr_timeout. The
  // kernel cuts page-cache reads at the size it caches, so such an open
  // makes it forget the attributes (ForgetKernelAttr).
  bool KernelSizeStale(InodeId id, uint64_t size);
  // Tells the kernel to drop its cached attributes of `ino` (it asks again
  // at the next stat, or read past the size it had).
  void ForgetKernelAttr(fuse_ino_t ino);
  // Whether a first read of a file with attributes `a` updates its atime.
  bool AtimeDue(Attr a);
  void ReplyEntry(fuse_req_t req, const Attr& a);
  // The same with the attributes already made for the kernel (KernelStat).
  void ReplyEntry(fuse_req_t req, const Attr& a, const struct stat& st);
  void ReplyStatus(fuse_req_t req, const Status& s);
  // The calling process's identity (uid, gid, groups) on a root mount, for
  // Client::ActingAs around creates: the metaserver then makes the new node
  // that user's (the group of a setgid directory included) and checks that
  // user's rights. nullopt on a mount run by a user (it acts as that user).
  std::optional<Caller> CallerOf(fuse_req_t req) const;
  // Who creates a node, with the umask of the calling process (the kernel
  // leaves it to the file system: FUSE_CAP_DONT_MASK, for POSIX ACLs): the
  // caller on a root mount, else the mount's own identity.
  Caller CreatorOf(fuse_req_t req) const;

  // Extended attributes known to be absent, for attr_timeout: the kernel
  // asks for security.capability before every write (to drop it) and ls -l
  // for security.selinux of every file. Filled by ENODATA answers of the
  // metaserver, by creates and by attributes that say the inode has none
  // (`all_until`). A setxattr or removexattr through this mount forgets the
  // inode and, for as long as an answer read before it could still arrive
  // (`changed_until`: io_timeout and then some), takes no note of it.
  // Another client's setxattr may go unseen for attr_timeout, like its
  // chmod.
  struct AbsentXattrs {
    std::chrono::steady_clock::time_point all_until{};
    std::chrono::steady_clock::time_point changed_until{};
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> names;
  };
  static constexpr size_t kMaxAbsent = 1 << 16;
  bool KnownAbsent(InodeId id, std::string_view name);
  void NoteAbsent(InodeId id, std::string_view name);  // "": every name
  void ForgetAbsent(InodeId id);
  // What an Attr says: none (every name absent) or some (forgets "none").
  void NoteXattrsOf(const Attr& a);

  std::shared_ptr<OpenInode> Acquire(InodeId id);
  std::shared_ptr<OpenInode> Find(InodeId id);
  void ReleaseInode(const std::shared_ptr<OpenInode>& st);
  // Runs `remove`, an unlink or rename that may take the last name of
  // (parent, name). When files are open here, it gets them as a KeepOpen
  // (else null): the metaserver keeps such a file as an orphan of the
  // mount's session, released at its last close (ReleaseInode).
  Status RemoveName(InodeId parent, std::string_view name,
                    const std::function<Result<InodeId>(const KeepOpen*)>& remove);
  // The inodes open here to name in a KeepOpen: all of them, or, when more
  // than kMaxKeepOpen are, the one (parent, name) points at if it is open.
  std::vector<InodeId> OpenInodesFor(InodeId parent, std::string_view name);
  static constexpr size_t kMaxKeepOpen = 1024;
  // The metaserver kept `inode` as an orphan of `session`: released at the
  // last close, or now if that close came first.
  void Orphaned(InodeId inode, int64_t session);
  // Clears setuid/setgid before a write by a user other than root through a
  // direct_io handle (the kernel does it for the others).
  Status DropSetIdForWrite(fuse_req_t req, InodeId id);
  // Writes through the shared writer (opened if need be) for handle `h`,
  // and notes what was written (st->mu held). `kernel_end`: the end of the
  // write as the kernel placed it, when the mount moved it (O_APPEND).
  Status WriteLocked(OpenInode* st, Handle* h, uint64_t off, std::span<const char> data,
                     std::optional<uint64_t> kernel_end = std::nullopt);
  // Writer errors reach every handle that wrote since its last flush.
  void FailWriters(OpenInode* st, const Status& s, Handle* except);
  // Commits the shared writer (st->mu held).
  Status FlushLocked(OpenInode* st, Handle* h);
  // Syncs (if data is unsynced) and closes the shared writer (st->mu held).
  Status RetireWriterLocked(OpenInode* st, Handle* h);
  // The background thread that commits idle writers (started by Init,
  // after a detaching mount forked; stopped by Destroy).
  void StartCommitter();
  void StopCommitter();
  void CommitIdleWriters();

  Client* client_;
  TagViews views_;  // .tags/, .query/ and the user.ddbfs.* attributes
  const InodeId root_;
  const MountOptions options_;
  const bool root_mount_;
  // FUSE_CAP_DONT_MASK was granted (Init): creates carry the caller's umask.
  std::atomic<bool> dont_mask_{false};

  std::mutex open_mu_;
  std::map<InodeId, std::shared_ptr<OpenInode>> open_;

  // Writers closed (last writable descriptor) with data committed but never
  // fdatasynced, oldest first: an fsync through any later descriptor of the
  // file makes it durable (SyncClosedWriters). At most kMaxClosedUnsynced;
  // the oldest is synced by the closing thread to make room, and a failure
  // then is reported by the file's next fsync.
  static constexpr size_t kMaxClosedUnsynced = 16384;
  struct ClosedWriter {
    InodeId inode = 0;
    std::unique_ptr<FileWriter> writer;
  };
  void KeepClosedUnsynced(InodeId inode, std::unique_ptr<FileWriter> writer);
  Status SyncClosedWriters(InodeId inode);
  std::mutex closed_mu_;
  std::deque<ClosedWriter> closed_unsynced_;
  std::map<InodeId, Status> closed_sync_errors_;
  // The metaserver refused an atime update as a change to a read-only
  // mount: no more are tried.
  std::atomic<bool> atime_refused_{false};
  // atime updates of reads, sent after the fact by the committer thread in
  // batches (docs/fuse.md, "atime"): inode -> time of the read, waiting,
  // being sent, and sent (kept for kAtimeSentKeep, for attributes read
  // before the metaserver had it). Attributes the mount gives the kernel,
  // and its relatime decisions, take them into account. A setattr of atime
  // waits for a batch being sent and drops the file's notes
  // (atime_flush_mu_).
  std::mutex atime_flush_mu_;  // held by FlushAtimes; before atime_mu_
  std::mutex atime_mu_;        // guards what follows
  std::unordered_map<InodeId, int64_t> atime_waiting_;
  std::unordered_map<InodeId, int64_t> atime_sending_;
  struct SentAtime {
    int64_t atime_ns = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<InodeId, SentAtime> atime_sent_;
  static constexpr size_t kMaxWaitingAtimes = 4096;
  static constexpr std::chrono::seconds kAtimeSentKeep{5};
  void NoteRead(InodeId id);
  void FlushAtimes();
  int64_t NotedAtime(InodeId id);  // the latest noted read of `id`; 0: none
  void DropAtimeNotes(InodeId id);
  // The mount's client session (opened by Init unless read-only, closed by
  // Destroy); null without one.
  std::unique_ptr<MountSession> session_;

  struct KernelSize {
    uint64_t size = 0;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex kernel_mu_;  // guards what follows
  // Regular files whose size the kernel may still cache (expired entries
  // are swept when the map has doubled since the last sweep).
  std::unordered_map<InodeId, KernelSize> kernel_sizes_;
  std::atomic<fuse_session*> fuse_session_{nullptr};
  // Bumped after every commit or close of a writer, before its written end
  // is dropped (FreshKernelStat).
  std::atomic<uint64_t> commit_seq_{0};
  size_t kernel_sweep_at_ = 4096;

  // A directory's attributes as the metaserver sent them with a change of
  // its entries made here (mkdir, create, unlink, rmdir): the kernel drops
  // its copy after such a change and asks again at once (to check
  // permissions for the next one), which these answer without a request,
  // once, within attr_timeout of their arrival. Every change through this
  // mount of a directory's entries or attributes forgets them at its start;
  // what arrives while another change of the directory is in flight is not
  // kept.
  struct DirAttr {
    Attr attr;
    std::chrono::steady_clock::time_point expires;
  };
  static constexpr size_t kMaxDirAttrs = 4096;
  void BeginDirChange(InodeId dir);
  // `after`: what the metaserver sent for `dir` (Client::TakeDirAttr).
  void EndDirChange(InodeId dir, std::optional<Attr> after);
  // The attributes kept for `dir` (taken), and for how many more seconds
  // the kernel may cache them.
  std::optional<Attr> TakeDirAttr(InodeId dir, double* ttl);
  std::mutex dir_mu_;  // guards what follows
  std::unordered_map<InodeId, DirAttr> dir_attrs_;
  std::unordered_map<InodeId, int> dir_changes_;  // changes in flight

  // What the file looked like (committed size, mtime, ctime) at its last
  // open for reading on this mount. An open that finds the same keeps the
  // kernel's cached pages (keep_cache): every change of a file's data
  // commits a new ctime (the metaserver's clock), so the same stamp means
  // the same bytes. Cleared when it grows past kMaxOpenStamps.
  struct OpenStamp {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const OpenStamp&) const = default;
  };
  static constexpr size_t kMaxOpenStamps = 65536;
  // Records `now` for `inode`; true if the last open saw the same.
  bool SameAsLastOpen(InodeId inode, const OpenStamp& now);
  void ForgetOpenStamp(InodeId inode);
  std::mutex stamp_mu_;  // guards open_stamps_
  std::unordered_map<InodeId, OpenStamp> open_stamps_;

  std::mutex absent_mu_;  // guards absent_
  std::unordered_map<InodeId, AbsentXattrs> absent_;

  std::mutex committer_mu_;  // guards committer_stop_
  std::condition_variable committer_cv_;
  bool committer_stop_ = false;
  std::thread committer_;
};

}  // namespace ddbfs::fuse
