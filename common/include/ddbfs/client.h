#pragma once

// libddbfs: the client library every front end (CLI, FUSE mount, browser)
// uses. It hides RPC, chunking, replica choice and failover, and retries of
// transport errors. Paths are absolute ("/a/b"); inode ids come from Attr.
//
// Thread-safety: a Client may be used from many threads at once. A
// FileReader or FileWriter is used by one thread at a time and must not
// outlive the Client that opened it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ddbfs/auth.h"
#include "ddbfs/rpc.h"
#include "ddbfs/status.h"
#include "ddbfs/tag.h"

namespace ddbfs {

using InodeId = int64_t;

enum class FileType {
  kRegular = 1,
  kDirectory = 2,
  kSymlink = 3,
  kFifo = 4,
  kSocket = 5,
  kCharDevice = 6,
  kBlockDevice = 7,
};
// FIFOs, sockets and devices: nodes without data in DDBFS.
inline bool IsSpecial(FileType t) { return static_cast<int>(t) >= 4; }

struct Attr {
  InodeId inode = 0;
  FileType type = FileType::kRegular;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint32_t nlink = 0;
  int goal = 0;
  uint64_t rdev = 0;  // devices only
  // Bytes the file's chunks hold (one replica): holes take none. st_blocks.
  uint64_t allocated = 0;
  // False when the inode is known to have no extended attributes (a mount
  // answers getxattr with ENODATA itself); true when it has some or the
  // metaserver did not say.
  bool has_xattrs = true;
  // POSIX ACLs in their xattr form (docs/metadata.md, "POSIX ACLs"); empty:
  // none. Kept by the metaserver, which checks permissions with them; not
  // sent to clients (they read them as system.posix_acl_* attributes).
  std::string acl_access;
  std::string acl_default;
};

// "name" or "name=value" (Tag: ddbfs/tag.h).
std::string TagText(const Tag& t);
// Reads "name" or "name=value" (split at the first '='), checking both
// (query::ValidateTagName, query::ValidateTagValue).
Result<Tag> ParseTag(std::string_view text);

struct DirEntry {
  std::string name;
  Attr attr;
};

struct DirPage {
  std::vector<DirEntry> entries;
  bool more = false;  // call again with after = entries.back().name
};

// What SetAttr changes: only the fields that are set.
struct AttrChanges {
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;  // truncate / extend (zeros)
  std::optional<int64_t> atime_ns;
  std::optional<int64_t> mtime_ns;
  std::optional<int> goal;
};

// The identity a request runs as. The metaserver establishes it per
// connection (docs/security.md, "Principals"); uid/gid/groups sent by a
// client count only under a trusted export key.
struct Caller {
  Caller() = default;
  Caller(uint32_t u, uint32_t g, std::vector<uint32_t> gs = {})
      : uid(u), gid(g), groups(std::move(gs)) {}
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups (gid need not be repeated)
  // The creating process's umask, for create, mkdir and mknod: the metaserver
  // clears those bits of the mode unless the directory has a default ACL
  // (then the ACL decides, as POSIX says). Unset: the mode is used as sent.
  std::optional<uint32_t> umask;
};

struct ReplicaView {
  int server_id = 0;
  std::string address;  // host:port
  std::string label;    // host label
  int64_t version = 0;
  bool alive = false;
  bool current = false;  // version == the chunk's committed version
};

struct ChunkView {
  int64_t index = 0;
  int64_t chunk_id = 0;
  int64_t version = 0;
  uint64_t length = 0;
  std::vector<ReplicaView> replicas;
};

struct ServerView {
  int server_id = 0;
  std::string address;
  std::string label;
  std::string rack;  // "" when its chunk server was given no --rack
  bool alive = false;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  int64_t chunks = 0;
  int64_t last_heartbeat_ms_ago = 0;
  // ddbfs server drain (docs/repair.md, "Draining"): replicas left on it.
  bool draining = false;
  int64_t drain_chunks_left = 0;
};

struct ClusterView {
  std::vector<ServerView> servers;
  int64_t files = 0;
  int64_t directories = 0;
  int64_t chunks = 0;
  int64_t chunks_under_goal = 0;
  int64_t chunks_missing = 0;
  int64_t pending_deletions = 0;
  uint64_t logical_bytes = 0;
  // Repair (docs/repair.md): this metaserver process's figures since it
  // started.
  int64_t chunks_over_goal = 0;
  bool repair_enabled = false;
  int repair_copies_in_flight = 0;
  int64_t repair_chunks_copied = 0;
  int64_t repair_bytes_copied = 0;
  int64_t repair_bytes_per_s = 0;  // over the last 10 s
  int64_t repair_copies_failed = 0;
  int64_t repair_copies_discarded = 0;  // the chunk changed during the copy
  int64_t repair_replicas_trimmed = 0;
  int64_t repair_scans = 0;  // passes that scanned the chunk map
  // Deletion retention (docs/backup.md): replicas of deleted chunks still
  // kept on the chunk servers, their known bytes, and the retention.
  int64_t held_replicas = 0;
  int64_t held_bytes = 0;
  int64_t chunk_retention_s = 0;
  // Rebalancing (docs/repair.md, "Rebalancing"): the margin (0: off), the
  // usage gap now (percentage points), moves queued or copying, and the
  // moves recorded since the metaserver started.
  double rebalance_margin_pct = 0;
  double rebalance_gap_pct = 0;
  int rebalance_moves_in_flight = 0;
  int64_t rebalance_chunks_moved = 0;
  int64_t rebalance_bytes_moved = 0;
  int64_t rebalance_bytes_per_s = 0;  // over the last 10 s
};

// ddbfs goal get (docs/repair.md, "Goals").
struct GoalView {
  int goal = 0;      // effective: what the repair keeps
  int own_goal = 0;  // the node's own
  // "node", "directory" (source_path: the nearest directory above with a
  // goal set, "" none), "default", or "tag" (source_tag).
  std::string source;
  std::string source_path;
  std::string source_tag;
  int source_goal = 0;  // "directory": that directory's goal now
  int tag_goal = 0;     // highest goal of its tags' rules (0: none)
};

// One page of Client::SetGoalChildren.
struct GoalPage {
  int changed = 0;
  int denied = 0;                    // no write permission: skipped
  std::vector<InodeId> directories;  // the page's subdirectories
  std::string last_name;             // after_name of the next page
  bool more = false;
};

struct GoalRuleView {
  std::string tag;
  int goal = 0;
  int64_t documents = 0;
};

// ddbfs fsck (docs/repair.md, "fsck"): one window of chunk ids.
struct FsckReplicaView {
  int server_id = 0;
  std::string address;
  bool alive = false;
  int64_t row_version = -1;   // the chunk map's version of it; -1: no row
  int64_t disk_version = -1;  // on the server's disk; -1: nothing there
  int64_t disk_length = 0;
  bool corrupt = false;
  std::string state;  // good, corrupt, absent, stale, dead, unrecorded, newer, unchecked
};
struct FsckChunkView {
  int64_t chunk_id = 0;
  InodeId inode = 0;
  int64_t index = 0;
  int64_t version = 0;
  int64_t length = 0;
  int goal = 0;
  int good = 0;  // live replicas of the version, on disk and not corrupt
  std::vector<std::string> paths;
  std::vector<std::string> problems;  // missing, corrupt, stale, under_goal, over_goal
  std::vector<FsckReplicaView> replicas;
};
struct FsckOrphanView {
  int server_id = 0;
  int64_t chunk_id = 0;
  int64_t version = 0;
  int64_t length = 0;
  int64_t age_ms = 0;
  bool known_chunk = false;  // an unrecorded copy of a chunk that exists
  bool queued = false;       // its deletion is queued
  // ...but held for the retention: the chunk is not in the metadata, and a
  // restored backup may still need it (docs/backup.md).
  bool held = false;
};
struct FsckPageView {
  std::vector<FsckChunkView> chunks;  // chunks of the window with a problem
  std::vector<FsckOrphanView> orphans;
  int64_t chunks_checked = 0;
  int64_t orphans_not_listed = 0;
  std::vector<int> servers_not_checked;
  int64_t next_after_chunk_id = 0;
  bool more = false;
  int64_t repair_actions = 0;
};

struct ClientOptions {
  // host:port or unix:/path; several, comma-separated: the active
  // metaserver and its standbys, in any order (docs/ha.md).
  std::string meta_address = "127.0.0.1:9400";
  int rpc_timeout_ms = 30000;
  // How long calls keep retrying while the metaserver is unreachable (for
  // example while it restarts) before failing with kUnavailable.
  int meta_retry_ms = 20000;
  // How long a writer waits for another writer's lease on a chunk (kBusy
  // from the metaserver) before failing with kTimedOut, and how long a
  // reader waits for a chunk whose replicas are all in the middle of an
  // uncommitted write (docs/write_protocol.md).
  int lease_wait_ms = 60000;
  Caller caller;  // owner of new files; defaults to the process's uid/gid
  // The export key this client proves to the metaserver (docs/security.md).
  // Not needed over the metaserver's Unix socket ("unix:/path"), where the
  // client is known by its uid.
  std::optional<Credential> key;
  TlsOptions tls;  // TLS to the metaserver and the chunk servers
};

// An export key as an admin manages it (docs/security.md, "Export keys").
struct ExportKeyInfo {
  std::string key_id;  // chosen by the metaserver
  std::string name;
  std::vector<std::string> networks;  // CIDRs; empty: any address
  bool read_only = false;
  std::string subtree = "/";
  bool mapall = false;  // false: trusted (client-asserted uids, root mapped)
  uint32_t map_uid = 65534;
  uint32_t map_gid = 65534;
  uint32_t maproot_uid = 65534;
  uint32_t maproot_gid = 65534;
  bool admin = false;
  int64_t created_ms = 0;
  bool revoked = false;
};

// Who the metaserver takes this client for.
struct Identity {
  std::string principal;
  Caller caller;
  bool read_only = false;
  bool admin = false;
  std::string subtree;
};

// A client session (docs/metadata.md, "Client sessions and orphans"): the
// metaserver keeps the files its holder has open after their unlink, until
// the holder releases them, closes the session or stops renewing it.
struct ClientSession {
  int64_t id = 0;
  int timeout_ms = 0;  // renew well before this has passed
};

// What an Unlink or Rename may keep: an inode of `inodes` that loses its
// last name becomes an orphan of `session` (nlink 0, no name, its data
// readable and writable by inode id) instead of being deleted.
struct KeepOpen {
  int64_t session = 0;
  std::vector<InodeId> inodes;  // at most 1024
};

class FileReader;
class FileWriter;

// A new, empty file and a writer for it (Client::CreateForWrite).
struct CreatedFile {
  Attr attr;
  std::unique_ptr<FileWriter> writer;
};

class Client {
 public:
  // Runs the calls this thread makes, while it lives, as `caller` instead of
  // ClientOptions::caller: a file system serving many local users (the
  // mount) names each request's user. The metaserver believes it only from
  // a connection trusted to assert identities (root over the Unix socket,
  // the cluster key, a trusted export key with its root squash;
  // docs/security.md); others keep their own identity. Nests; not shared
  // with other threads (a writer's background work runs as the options').
  class ActingAs {
   public:
    explicit ActingAs(const Caller& caller);
    ~ActingAs();
    ActingAs(const ActingAs&) = delete;
    ActingAs& operator=(const ActingAs&) = delete;

   private:
    const Caller* previous_;
    Caller caller_;
  };

  // While alive, calls made by this thread retry an unreachable metaserver
  // for at most `ms` (instead of options.meta_retry_ms): for best-effort
  // calls, such as ending a session at unmount, that must not hold up an
  // exit.
  class RetryingFor {
   public:
    explicit RetryingFor(int ms);
    ~RetryingFor();
    RetryingFor(const RetryingFor&) = delete;
    RetryingFor& operator=(const RetryingFor&) = delete;

   private:
    int previous_;
  };

  // While alive, the GetChunks of an OpenReader and the Create of a
  // Create/CreateForWrite made by this thread declare the file open by
  // client session `session` (docs/metadata.md, "Open files of client
  // sessions"), in the same call. open_set_needed() says whether an answer
  // asked for the session's whole open set (UpdateOpenFiles with full_set).
  // Nests; not shared with other threads.
  class DeclaringOpen {
   public:
    explicit DeclaringOpen(int64_t session);
    ~DeclaringOpen();
    DeclaringOpen(const DeclaringOpen&) = delete;
    DeclaringOpen& operator=(const DeclaringOpen&) = delete;
    bool open_set_needed() const;

   private:
    int64_t previous_;
    bool previous_needed_;
  };

  // Checks the metaserver answers; kUnavailable with a clear message if not.
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  ~Client();

  const ClientOptions& options() const;

  // ---- namespace
  Result<Attr> ResolvePath(std::string_view path);
  Result<Attr> Lookup(InodeId parent, std::string_view name);
  Result<Attr> GetAttr(InodeId inode);
  // Tags (docs/tags.md): `remove` first (a name alone takes all its values
  // off), then `add`; returns the document's tags after. Needs write
  // permission on it.
  Result<std::vector<Tag>> SetTags(InodeId inode, const std::vector<Tag>& add,
                                   const std::vector<Tag>& remove);
  // The tags of a document, by name then value. Needs read permission.
  Result<std::vector<Tag>> GetTags(InodeId inode);
  // A page of the documents `expr` selects (docs/query_language.md) that
  // this client could reach by path, in inode order after `after`; limit 0
  // means 1000. Continue after `next_after` while `more`.
  struct QueryHit {
    std::string path;
    Attr attr;
  };
  struct QueryPage {
    std::vector<QueryHit> hits;
    InodeId next_after = 0;
    bool more = false;
  };
  Result<QueryPage> Query(std::string_view expr, InodeId after = 0, int limit = 0);
  // Saved queries (seen by every client; replaced or removed by their owner
  // or root).
  Status SaveQuery(std::string_view name, std::string_view expr);
  Status DeleteQuery(std::string_view name);
  Result<std::vector<SavedQuery>> ListQueries();
  // Tag names with their document counts and bytes (only documents this
  // client could reach by path). `within`: among the documents that query
  // selects; `name`: that tag's values instead. A page of at most `limit`
  // (0: 1000) after `offset`; `more` when there are more.
  struct TagListPage {
    std::vector<TagCount> tags;
    bool more = false;
  };
  Result<TagListPage> ListTags(const std::optional<std::string>& within = std::nullopt,
                               const std::optional<std::string>& name = std::nullopt,
                               int offset = 0, int limit = 0);
  // Every tag name (no counts), a page of at most `limit` (0: 1000).
  Result<TagListPage> ListTagNames(int offset = 0, int limit = 0);
  // SetTags on up to 1,000,000 documents at once, all or nothing (over
  // 1,000, one transaction beside the group commit: docs/tags.md, "Bulk
  // changes"); returns how many changed.
  static constexpr size_t kMaxTagManyInodes = 1000000;
  Result<int> TagMany(const std::vector<InodeId>& inodes, const std::vector<Tag>& add,
                      const std::vector<Tag>& remove);
  // Tag names (common/ddbfs.thrift TagAdmin): returns how many documents'
  // tags changed.
  enum class TagAdminOp { kCreate, kRename, kMerge, kDelete, kImply, kUnimply };
  Result<int64_t> TagAdmin(TagAdminOp op, std::string_view name, std::string_view other = "");
  // Every implication rule (tag, implied tag), by tag.
  Result<std::vector<std::pair<std::string, std::string>>> ListImplications();
  // Size changes shorten or extend the data on the chunk servers too.
  Result<Attr> SetAttr(InodeId inode, const AttrChanges& changes);
  // Records reads of regular files, after the fact: each (inode, time of
  // the read) sets atime to that time, with `relatime` only if atime is not
  // after mtime or ctime or is a day older; never back. ctime stays. Files
  // that are gone or not readable are skipped. At most 4096 per call.
  // Returns how many atimes changed.
  Result<int> UpdateAtimes(const std::vector<std::pair<InodeId, int64_t>>& reads, bool relatime);
  // The parent directory's attributes after the last Mkdir, Create,
  // CreateForWrite, Unlink or Rmdir of the calling thread, when it succeeded
  // and the metaserver sent them (else nullopt); taken once.
  static std::optional<Attr> TakeDirAttr();
  Result<Attr> Mkdir(InodeId parent, std::string_view name, uint32_t mode);
  // mtime_ns: initial mtime (nullopt: now). goal: nullopt inherits. tags:
  // set in the create's own transaction.
  Result<Attr> Create(InodeId parent, std::string_view name, uint32_t mode,
                      std::optional<int64_t> mtime_ns = std::nullopt,
                      std::optional<int> goal = std::nullopt, const std::vector<Tag>& tags = {});
  Result<Attr> Symlink(InodeId parent, std::string_view name, std::string_view target);
  // A FIFO, socket or device node (IsSpecial(type)); rdev for devices.
  Result<Attr> Mknod(InodeId parent, std::string_view name, FileType type, uint32_t mode,
                     uint64_t rdev = 0);
  Result<std::string> Readlink(InodeId inode);
  Result<Attr> Link(InodeId inode, InodeId new_parent, std::string_view new_name);
  // Extended attributes (docs/metadata.md, "Extended attributes"): a
  // missing one is kNoData; flags 0, kXattrCreate (kExists if it exists) or
  // kXattrReplace (kNoData if it does not).
  static constexpr int kXattrCreate = 1;
  static constexpr int kXattrReplace = 2;
  Result<std::string> GetXattr(InodeId inode, std::string_view name);
  Result<std::vector<std::string>> ListXattr(InodeId inode);
  Status SetXattr(InodeId inode, std::string_view name, std::string_view value, int flags = 0);
  Status RemoveXattr(InodeId inode, std::string_view name);
  Status Unlink(InodeId parent, std::string_view name);
  Status Rmdir(InodeId parent, std::string_view name);
  // flags: 0, kRenameNoReplace or kRenameExchange.
  static constexpr int kRenameNoReplace = 1;
  static constexpr int kRenameExchange = 2;
  Status Rename(InodeId parent, std::string_view name, InodeId new_parent,
                std::string_view new_name, int flags = 0);
  // Unlink and Rename keeping open files as orphans (KeepOpen); they return
  // the inode kept, or 0 when none was. kLeaseExpired: the session expired.
  Result<InodeId> Unlink(InodeId parent, std::string_view name, const KeepOpen& keep);
  Result<InodeId> Rename(InodeId parent, std::string_view name, InodeId new_parent,
                         std::string_view new_name, int flags, const KeepOpen& keep);
  Result<DirPage> ReadDir(InodeId dir, std::string_view after, int limit = 1000);
  // Removes everything inside the directory `dir` (`path` names it in
  // errors), like `rm -r` of its entries: a page of entries at a time, the
  // files `jobs` at a time, folders depth first; an entry that someone else
  // removed meanwhile is no error. The directory itself stays.
  Status RemoveContents(InodeId dir, const std::string& path, int jobs = 8);
  // Every entry of a directory (pages internally).
  Result<std::vector<DirEntry>> ListDir(InodeId dir);

  // ---- data
  Result<std::unique_ptr<FileReader>> OpenReader(InodeId inode);
  Result<std::unique_ptr<FileWriter>> OpenWriter(InodeId inode);
  // Create + OpenWriter in one metaserver round trip: the Create also places
  // chunk 0, so the writer neither asks for the file's size nor prepares
  // chunk 0 (other chunks are prepared as usual; if the metaserver could not
  // place chunk 0, the writer prepares it too and reports that error).
  // Arguments as for Create. For a file known to stay empty use Create: an
  // unwritten chunk 0 stays in the chunk map at version 0.
  Result<CreatedFile> CreateForWrite(InodeId parent, std::string_view name, uint32_t mode,
                                     std::optional<int64_t> mtime_ns = std::nullopt,
                                     std::optional<int> goal = std::nullopt,
                                     const std::vector<Tag>& tags = {});

  // ---- client sessions (docs/metadata.md, "Client sessions and orphans").
  // A session belongs to this client's principal (its uid over the Unix
  // socket, its key over TCP). Renew, close and release answer kLeaseExpired
  // for a session that expired; kPermissionDenied for another principal's.
  // `description` says who holds it, for the metaserver's logs.
  Result<ClientSession> OpenSession(std::string_view description);
  // Returns whether the metaserver asks for the session's whole open set
  // (it restarted: UpdateOpenFiles with full_set).
  Result<bool> RenewSession(int64_t session);
  // Deletes every orphan the session holds, then the session; returns how
  // many orphans.
  Result<int> CloseSession(int64_t session);
  // The last close of an orphan: the session no longer holds it; the
  // metaserver deletes it with its data unless another session holds it.
  Status ReleaseOrphan(int64_t session, InodeId inode);
  // Files the session opened (an open that sent no GetChunks or Create
  // under DeclaringOpen) and no longer has open; with full_set, `opened` is
  // the whole set. Returns whether the metaserver still asks for the whole
  // set. kTooManyOpen past the metaserver's limit.
  Result<bool> UpdateOpenFiles(int64_t session, const std::vector<InodeId>& opened,
                               const std::vector<InodeId>& released, bool full_set);

  // ---- inspection
  // Chunk map with every replica (current or stale, alive or dead).
  Result<std::vector<ChunkView>> Chunks(InodeId inode);
  // lseek(2)'s SEEK_DATA (`data`) and SEEK_HOLE at chunk granularity
  // (docs/fuse.md, "Holes"): the first offset at or after `offset` inside a
  // chunk that exists (data), or inside one that does not or at the end of
  // the file (hole). nullopt: `offset` is at or past the end, or no data
  // follows it (ENXIO). A hole inside a chunk reads as zeros but counts as
  // data; past 1 TiB of scanned holes the rest is called data (allowed: a
  // file system may treat any hole as data).
  Result<std::optional<uint64_t>> SeekDataOrHole(InodeId inode, uint64_t offset, bool data);
  Result<ClusterView> ClusterStatus();
  // One window of fsck (admins only): the chunks after `after_chunk_id`
  // (at most `limit`) under `path` ("" everything) compared with the chunk
  // servers' inventories; with `repair`, what can be fixed is set going.
  Result<FsckPageView> Fsck(const std::string& path, bool repair, int64_t after_chunk_id,
                            int limit);

  // ---- goals (docs/repair.md, "Goals")
  Result<GoalView> GetGoal(InodeId inode);
  // The node's own goal (1..9); returns whether it changed.
  Result<bool> SetGoal(InodeId inode, int goal);
  // The goal of the entries of directory `dir` after `after_name`, at most
  // `limit` (0: the server's page, 1000).
  Result<GoalPage> SetGoalChildren(InodeId dir, int goal, const std::string& after_name,
                                   int limit = 0);
  // Tag rules (admins acting as root): goal 1..9 sets, RemoveGoalRule
  // removes; both return the documents carrying the tag.
  Result<int64_t> SetGoalRule(const std::string& tag, int goal);
  Result<int64_t> RemoveGoalRule(const std::string& tag);
  Result<std::vector<GoalRuleView>> ListGoalRules();

  // ---- chunk servers (admins; docs/repair.md, "Draining"). Return the
  // replicas the server still holds.
  Result<int64_t> DrainServer(int server_id, bool drain);
  Status RemoveServer(int server_id);

  // ---- content hashes (docs/content_hash.md): SHA-256 over the SHA-256 of
  // each chunk's bytes, computed by the chunk servers. Needs read permission.
  struct ContentHash {
    std::optional<std::string> sha256;  // 32 raw bytes; nullopt while stale
    uint64_t size = 0;                  // the size it is for
    int64_t stale_chunks = 0;           // chunks being rehashed in the background
  };
  Result<ContentHash> GetContentHash(InodeId inode);
  // A page of the documents below directory `under` that share their
  // content (size and hash) with another one this client could reach and
  // read, by size, hash, then inode; consecutive entries with equal size and
  // hash are one group, which may go on in the next page. `empty`: empty
  // files count too. Pass `next` back while it is set.
  struct DuplicateEntry {
    std::string path;
    Attr attr;
    std::string sha256;  // raw
  };
  struct DuplicatesPage {
    std::vector<DuplicateEntry> entries;
    int64_t stale = 0;                // documents skipped in this page: hash stale
    std::optional<std::string> next;  // page token
  };
  Result<DuplicatesPage> FindDuplicates(InodeId under, bool empty,
                                        const std::optional<std::string>& token);

  // ---- trust boundary (docs/security.md)
  Result<Identity> WhoAmI();
  // Admin only. Returns the new key and its secret (raw bytes, shown once).
  Result<std::pair<ExportKeyInfo, std::string>> AddKey(const ExportKeyInfo& key);
  Result<std::vector<ExportKeyInfo>> ListKeys();
  Status RevokeKey(const std::string& key_id);

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a file. Caches the chunk map; picks a replica per chunk and fails
// over to the next on a transport error, a checksum error or a stale replica
// (reporting the bad replica to the metaserver). Holes read as zeros.
class FileReader {
 public:
  virtual ~FileReader() = default;
  // Reads up to out.size() bytes at offset; returns the count (0 at EOF).
  virtual Result<size_t> Read(uint64_t offset, std::span<char> out) = 0;
  virtual uint64_t size() const = 0;
  // The file's attributes when the reader opened it (or last loaded a
  // window of its chunk map).
  virtual const Attr& attr() const = 0;
};

// Writes a file. Buffers data per chunk and sends it to every replica of the
// chunk (chain replication); Flush() commits what was written so that other
// readers see it, Sync() also makes it durable on every replica.
class FileWriter {
 public:
  virtual ~FileWriter() = default;
  virtual Status Write(uint64_t offset, std::span<const char> data) = 0;
  virtual Status Flush() = 0;
  virtual Status Sync() = 0;
  // Flush() and release; returns the first error of the writer's life
  // (a write that failed earlier is reported here, like close(2)).
  virtual Status Close() = 0;
  virtual uint64_t size() const = 0;
  // The mtime that later commits record instead of "now" (`ddbfs add`
  // keeps the local file's mtime this way, without an extra SetAttr).
  virtual void SetMtime(int64_t mtime_ns) = 0;
  // After a successful Close(): whether data this writer committed was
  // never fdatasynced (it was closed without a Sync).
  virtual bool HasUnsynced() const = 0;
  // After Close(): makes that data durable on every live replica, as Sync()
  // would have before the close (an fsync through another descriptor of the
  // file, docs/fuse.md "Consistency model"). Uses the write capabilities of
  // the closed writer: a chunk whose capability has expired since
  // (--capability-ms, 10 minutes by default) is skipped. Before Close():
  // Sync().
  virtual Status SyncAfterClose() = 0;
};

}  // namespace ddbfs
