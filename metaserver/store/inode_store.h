#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/records.h"

namespace ddbfs::meta::store {

class Tx;
class MetaCache;

// Queries on the namespace: ddbfs.inodes and ddbfs.dentries. One function per
// statement (one round trip each). They check nothing the caller must check
// (the ops layer validates first); database errors come back as a Status and
// mark the Tx failed.

// The inode's attributes, nullopt if there is no such inode.
Result<std::optional<Attr>> GetInode(Tx& tx, InodeId inode);

// Type and symlink target; kNotFound if there is no such inode.
Result<SymlinkRecord> GetSymlink(Tx& tx, InodeId inode);

// `parent` and the inode named `name` in it.
Result<EntryLookup> LookupEntry(Tx& tx, InodeId parent, const std::string& name);

// The same two from the namespace cache alone (no transaction, no
// connection): nullopt when it does not know them all.
std::optional<Attr> GetInodeCached(MetaCache* cache, InodeId inode);
std::optional<EntryLookup> LookupEntryCached(MetaCache* cache, InodeId parent,
                                             const std::string& name);

// Follows `components` from the root: element 0 is the root, element i the
// inode of components[i-1]. Stops early at the first component that does not
// exist (or whose parent is not a directory).
Result<std::vector<Attr>> WalkPath(Tx& tx, const std::vector<std::string>& components);

struct DirListing {
  bool exists = false;
  FileType type = FileType::kDirectory;
  Attr dir;                       // the directory's own attributes (when it exists)
  std::vector<DirEntry> entries;  // sorted bytewise, names > after
};
// Up to `limit` entries of `dir` after `after` with their attributes.
Result<DirListing> ListDir(Tx& tx, InodeId dir, const std::string& after, int limit);

// Inserts a new inode named `name` in `parent` and updates the parent
// (mtime = ctime = inode.ctime_ns, nlink += parent_nlink_delta).
// Sets (acl non-empty) or removes the access ACL of `inode` together with
// the mode it implies, and ctime; returns the new attributes.
Result<Attr> SetAccessAcl(Tx& tx, InodeId inode, const std::string& acl, uint32_t mode,
                          int64_t ctime_ns);
// Sets (non-empty) or removes the default ACL of directory `inode`, and ctime.
Result<Attr> SetDefaultAcl(Tx& tx, InodeId inode, const std::string& acl, int64_t ctime_ns);

Result<Attr> CreateEntry(Tx& tx, InodeId parent, const std::string& name, const NewInode& inode,
                         int parent_nlink_delta);

// Adds the name `name` in `parent` for an existing inode.
Status AddEntry(Tx& tx, InodeId parent, const std::string& name, InodeId inode);
// Removes the name (not the inode).
Status RemoveEntry(Tx& tx, InodeId parent, const std::string& name);
// Makes the existing name point at `inode`.
Status PointEntry(Tx& tx, InodeId parent, const std::string& name, InodeId inode);
// Renames an entry (the target name must be free).
Status MoveEntry(Tx& tx, InodeId parent, const std::string& name, InodeId new_parent,
                 const std::string& new_name);

// A directory's contents changed: mtime = ctime = now, nlink += delta.
Status TouchDir(Tx& tx, InodeId dir, int nlink_delta, int64_t now_ns);
// nlink += delta and ctime = now; returns the new attributes.
Result<Attr> ChangeNlink(Tx& tx, InodeId inode, int delta, int64_t now_ns);
// ctime = now.
Status TouchCtime(Tx& tx, InodeId inode, int64_t now_ns);
// The inodes that exist among `ids` (any order).
Result<std::vector<Attr>> GetInodes(Tx& tx, const std::vector<InodeId>& ids);
// For each (ids[i], times[i]): atime = max(atime, times[i]), unless
// `window_ns` > 0 and atime is after mtime and ctime and newer than
// times[i] - window_ns (relatime). Returns how many changed.
Result<int> UpdateAtimes(Tx& tx, const std::vector<InodeId>& ids, const std::vector<int64_t>& times,
                         int64_t window_ns);

// True if the directory has at least one entry.
Result<bool> HasEntries(Tx& tx, InodeId dir);
// True if `inode` is `root` or lies below it (by any of its names).
Result<bool> IsInSubtree(Tx& tx, InodeId inode, InodeId root);
// The inodes of `inodes` that are not `root` and do not lie below it, at
// most `limit`, in order.
Result<std::vector<InodeId>> NotInSubtree(Tx& tx, const std::vector<InodeId>& inodes, InodeId root,
                                          int limit);

// Deletes the inode, its chunks, and queues every replica of those chunks in
// ddbfs.gc_queue. The inode must have no directory entry left.
Status DeleteInode(Tx& tx, InodeId inode);

// Sets the fields of `changes` that are set (size only as a number: chunks
// are dropped by TruncateChunks) and ctime; returns the new attributes.
Result<Attr> UpdateAttr(Tx& tx, InodeId inode, const AttrChanges& changes, int64_t ctime_ns);

// After a write: size, mtime, ctime and the file's content hash (raw;
// nullopt: stale, docs/content_hash.md); returns the new attributes.
Result<Attr> SetSizeAndTimes(Tx& tx, InodeId inode, uint64_t size, int64_t mtime_ns,
                             int64_t ctime_ns, const std::optional<std::string>& sha256);

}  // namespace ddbfs::meta::store
