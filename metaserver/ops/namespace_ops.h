#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/ops/query_compile.h"
#include "metaserver/ops/session_ops.h"

namespace ddbfs::meta {

namespace store {
class Tx;
}

// Namespace operations (POSIX-like; docs/metadata.md lists every error).
// Each validates its arguments, then runs as one read on the read pool or
// one op of the writer's group commit. An operation that fails has changed
// nothing. Thread-safe: called concurrently by the RPC threads.
//
// Every operation runs as `caller` and makes the POSIX permission checks of
// Linux for it (permissions.h; docs/metadata.md, "Permissions"):
// kPermissionDenied (EACCES) for a missing r/w/x bit, kNotPermitted (EPERM)
// for what only an owner or root may do. Root is uid 0.

// lookup.cc. Lookup needs search (x) on the parent; GetAttr checks nothing
// (the inode was reached by a path already).
Result<Attr> Lookup(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name);
Result<Attr> GetAttr(OpContext& ctx, const Caller& caller, InodeId inode);
// An absolute normalized path ("/", "/a/b") in one query; symlinks are not
// followed; a non-directory in the middle is kNotDir. Needs search on every
// directory walked, in order (kPermissionDenied even if a later name is
// missing).
Result<Attr> ResolvePath(OpContext& ctx, const Caller& caller, std::string_view path);

// The operations that add or remove an entry store the parent directory's
// attributes after the change in `*dir_after` when it is given (a mount
// keeps them instead of asking again).

// mkdir.cc
Result<Attr> Mkdir(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                   uint32_t mode, Attr* dir_after = nullptr);

// create.cc. goal: nullopt inherits the parent's; mtime_ns: nullopt is now.
// tags: set on the new file in the same transaction (checked as SetTags
// checks them; no permission check: the creator may tag what it creates).
Result<Attr> Create(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                    uint32_t mode, std::optional<int> goal, std::optional<int64_t> mtime_ns,
                    Attr* dir_after = nullptr, const std::vector<Tag>& tags = {});

struct CreateOutcome {
  Attr attr;
  // Chunk 0, placed by PlaceNewChunk; nullopt when placement failed (no
  // server alive or with room): the file exists all the same.
  std::optional<WritePlan> first_chunk;
};
// Create, and chunk 0 placed in the same transaction (one commit instead of
// two for a new file's first write).
Result<CreateOutcome> CreateForWrite(OpContext& ctx, const Caller& caller, InodeId parent,
                                     std::string_view name, uint32_t mode, std::optional<int> goal,
                                     std::optional<int64_t> mtime_ns, Attr* dir_after = nullptr,
                                     const std::vector<Tag>& tags = {});

// mknod.cc: a FIFO, socket or device node (docs/metadata.md, "Special
// files"); devices need root (kNotPermitted), rdev only for devices.
Result<Attr> Mknod(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                   FileType type, uint32_t mode, uint64_t rdev);

// symlink.cc
Result<Attr> Symlink(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                     std::string_view target);
// No check (like GetAttr).
Result<std::string> Readlink(OpContext& ctx, const Caller& caller, InodeId inode);

// link.cc: a new name for a regular file or symlink.
Result<Attr> Link(OpContext& ctx, const Caller& caller, InodeId inode, InodeId new_parent,
                  std::string_view new_name);

// unlink.cc: the last name of an inode deletes it, its chunks, and queues
// every replica for garbage collection.
Status Unlink(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
              Attr* dir_after = nullptr);
// The same, except that a regular file of holder.open_inodes losing its last
// name is kept as an orphan of holder.session (session_ops.h); returns its
// inode then, else 0. The session is checked first (CheckHolder).
Result<InodeId> UnlinkKeepingOpen(OpContext& ctx, const Caller& caller, InodeId parent,
                                  std::string_view name, const OrphanHolder& holder,
                                  Attr* dir_after = nullptr);

// rmdir.cc
Status Rmdir(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
             Attr* dir_after = nullptr);

// rename.cc. flags: 0, kRenameNoReplace or kRenameExchange.
inline constexpr int kRenameNoReplace = 1;
inline constexpr int kRenameExchange = 2;
Status Rename(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
              InodeId new_parent, std::string_view new_name, int flags);
// Rename, keeping a replaced target as UnlinkKeepingOpen keeps an unlinked
// file; returns its inode when kept, else 0.
Result<InodeId> RenameKeepingOpen(OpContext& ctx, const Caller& caller, InodeId parent,
                                  std::string_view name, InodeId new_parent,
                                  std::string_view new_name, int flags, const OrphanHolder& holder);

// readdir.cc: entries after `after` (bytewise order); limit 0 means 1000,
// capped at 10000. Needs read on the directory.
inline constexpr int kDefaultReadDirLimit = 1000;
inline constexpr int kMaxReadDirLimit = 10000;
Result<DirPage> ReadDir(OpContext& ctx, const Caller& caller, InodeId dir, std::string_view after,
                        int limit);

// setattr.cc: only the fields that are set change; a smaller size drops the
// chunks beyond the new end (queued for GC) and shortens the last one.
Result<Attr> SetAttr(OpContext& ctx, const Caller& caller, InodeId inode,
                     const AttrChanges& changes);

// atime.cc: reads of regular files, recorded after the fact: each file's
// atime becomes the time of its read, clamped to [now - kAtimeMaxAgeNs,
// now], never moving back; with relatime only if atime is not after mtime
// or ctime or is more than 24 hours older than the read
// (kRelatimeWindowNs). ctime stays. A file that is gone, is not regular or
// that the caller may not read is skipped. At most kMaxAtimeReads
// (validate.h).
inline constexpr int64_t kRelatimeWindowNs = 24LL * 3600 * 1000000000;
inline constexpr int64_t kAtimeMaxAgeNs = 60LL * 1000000000;
struct AtimeRead {
  InodeId inode = 0;
  int64_t atime_ns = 0;
};
struct AtimeResult {
  int updated = 0;
  int skipped = 0;
};
Result<AtimeResult> UpdateAtimes(OpContext& ctx, const Caller& caller,
                                 const std::vector<AtimeRead>& reads, bool relatime);

// tags.cc (docs/tags.md): SetTags takes `remove` off first (a name alone
// with all its values), then puts `add` on; needs write permission on the
// inode (any kind); returns its tags after. GetTags needs read permission.
// At most kMaxTagsPerCall in each list (kInvalidArgument), at most
// kMaxTagsPerDocument on one inode (kNoSpace).
inline constexpr size_t kMaxTagsPerCall = 256;
inline constexpr int64_t kMaxTagsPerDocument = 1000;
Result<std::vector<Tag>> SetTags(OpContext& ctx, const Caller& caller, InodeId inode,
                                 const std::vector<Tag>& add, const std::vector<Tag>& remove);
Result<std::vector<Tag>> GetTags(OpContext& ctx, const Caller& caller, InodeId inode);
// query.cc: a page of the documents (any inode with a name) that `expr`
// (docs/query_language.md) selects and that `caller` could reach by path -
// search permission on every directory of the way up along the document's
// first name, and inside the subtree of `confine` - in inode order after
// `after`, with their paths and attributes. `limit` 0 means
// kDefaultQueryLimit, capped at kMaxQueryLimit; at most kMaxQueryExamined
// candidates are looked at per call, so a page may come back short with
// `more` set. A syntax error is kInvalidArgument "column N: ...".
inline constexpr int kDefaultQueryLimit = 1000;
inline constexpr int kMaxQueryLimit = 10000;
inline constexpr int kMaxQueryExamined = 20000;
struct QueryEntry {
  std::string path;
  Attr attr;
};
struct QueryPage {
  std::vector<QueryEntry> entries;
  InodeId next_after = 0;  // continue after this inode
  bool more = false;       // call again: candidates may follow
};
Result<QueryPage> QueryDocuments(OpContext& ctx, const Caller& caller, std::string_view expr,
                                 InodeId after, int limit, InodeId confine);
// `expr` parsed and compiled (query_compile.h), its @path terms resolved
// as `caller` resolves paths; placeholders from `first_param`.
Result<CompiledQuery> CompileQueryText(OpContext& ctx, const Caller& caller, std::string_view expr,
                                       int first_param = 1);

// Saved queries (query.cc): a name of 1..255 bytes of UTF-8 without '/' or
// control characters, not "." or ".." (it names a folder under .query/),
// and an expression that parses. Saving over a name or removing it needs
// its owner or root (kNotPermitted); anyone may list them.
Status SaveQuery(OpContext& ctx, const Caller& caller, const std::string& name,
                 const std::string& expr);
Status DeleteQuery(OpContext& ctx, const Caller& caller, const std::string& name);
Result<std::vector<SavedQuery>> ListQueries(OpContext& ctx, const Caller& caller);

// Tag counts (tags.cc): every tag name with how many documents carry it
// (implied tags counted as if present) and the bytes of the regular files
// among them, over the documents `caller` could reach by path from
// `confine` down (search permission on every directory of some way).
// `within`: only among the documents that query selects. `name`: the values
// of that tag instead (numbers, then times, then text). `offset` skipped,
// at most `limit` (0: kDefaultTagListLimit, capped at kMaxTagListLimit).
inline constexpr int kDefaultTagListLimit = 1000;
inline constexpr int kMaxTagListLimit = 100000;
struct TagCount {
  std::string name;
  std::optional<std::string> value;
  int64_t documents = 0;
  int64_t bytes = 0;
};
struct TagList {
  std::vector<TagCount> tags;
  bool more = false;
};
Result<TagList> ListTags(OpContext& ctx, const Caller& caller, InodeId confine,
                         const std::optional<std::string>& within,
                         const std::optional<std::string>& name, int offset, int limit);

// Every tag name, by name, without counts (ListTags' names_only).
Result<TagList> ListTagNames(OpContext& ctx, int offset, int limit);

// TagMany (tags.cc): SetTags on up to kMaxTagManyInodes inodes in one
// transaction, all or nothing; returns how many documents changed. Up to
// OpContext::bulk_threshold documents go through the group commit; more
// run as one bulk change beside it (store/bulk_writer.h, docs/tags.md
// "Bulk changes"). Without a BulkWriter, at most kMaxTagManyInGroupCommit.
inline constexpr size_t kMaxTagManyInodes = 1000000;
inline constexpr size_t kMaxTagManyInGroupCommit = 1000;
Result<int> TagMany(OpContext& ctx, const Caller& caller, const std::vector<InodeId>& inodes,
                    const std::vector<Tag>& add, const std::vector<Tag>& remove);

// Tag names themselves (tags.cc, common/ddbfs.thrift TagAdmin). `admin`:
// the request comes from an admin identity acting as root; needed by all
// but kCreate and the deletion of a tag that nothing uses. Returns how many
// documents' tags changed.
enum class TagAdminOp { kCreate, kRename, kMerge, kDelete, kImply, kUnimply };
Result<int64_t> TagAdmin(OpContext& ctx, bool admin, TagAdminOp op, const std::string& name,
                         const std::string& other);
// Every implication rule (tag, implied), by tag then implied.
Result<std::vector<std::pair<std::string, std::string>>> ListImplications(OpContext& ctx);

// For Create: the checks of SetTags' `add`, and the tags' rows put on a new
// inode inside the caller's transaction.
Status ValidateTagsToAdd(const std::vector<Tag>& tags);
Status AddTagsInTx(store::Tx& tx, InodeId inode, const std::vector<Tag>& tags);

// xattr.cc: extended attributes (docs/metadata.md, "Extended attributes").
// user.* needs read/write permission on a file or directory (in a sticky
// directory only its owner or root may write); trusted.* is root's only
// (others see none); security.* is readable by all, writable by root.
// system.* and other namespaces are kNotSupported (no POSIX ACLs). A
// missing attribute is kNoData. Set and remove change the ctime.
inline constexpr size_t kMaxXattrName = 255;
inline constexpr size_t kMaxXattrValue = 65536;
inline constexpr int64_t kMaxXattrsPerNode = 128;
inline constexpr int64_t kMaxXattrBytesPerNode = 256 << 10;
inline constexpr int kXattrCreate = 1;   // XATTR_CREATE: kExists if it exists
inline constexpr int kXattrReplace = 2;  // XATTR_REPLACE: kNoData if it does not
Result<std::string> GetXattr(OpContext& ctx, const Caller& caller, InodeId inode,
                             std::string_view name);
Result<std::vector<std::string>> ListXattr(OpContext& ctx, const Caller& caller, InodeId inode);
Status SetXattr(OpContext& ctx, const Caller& caller, InodeId inode, std::string_view name,
                std::string_view value, int flags);
Status RemoveXattr(OpContext& ctx, const Caller& caller, InodeId inode, std::string_view name);

}  // namespace ddbfs::meta
