#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

bool IsDir(const Attr& a) { return a.type == FileType::kDirectory; }

// Moving directory `dir` into `new_parent` must not put it inside itself.
Status CheckNoLoop(store::Tx& tx, const Attr& dir, InodeId new_parent) {
  ASSIGN_OR_RETURN(bool inside, store::IsInSubtree(tx, new_parent, dir.inode));
  if (inside) {
    return InvalidArgument("cannot move directory " + std::to_string(dir.inode) +
                           " into its own subtree");
  }
  return Status();
}

// Updates the parents' times and link counts after a move.
Status TouchParents(store::Tx& tx, InodeId parent, int parent_delta, InodeId new_parent,
                    int new_parent_delta, int64_t now) {
  if (parent == new_parent)
    return store::TouchDir(tx, parent, parent_delta + new_parent_delta, now);
  RETURN_IF_ERROR(store::TouchDir(tx, parent, parent_delta, now));
  return store::TouchDir(tx, new_parent, new_parent_delta, now);
}

Status Exchange(store::Tx& tx, InodeId parent, const std::string& name, const Attr& src,
                InodeId new_parent, const std::string& new_name, const Attr& dst) {
  if (parent != new_parent) {
    if (IsDir(src)) RETURN_IF_ERROR(CheckNoLoop(tx, src, new_parent));
    if (IsDir(dst)) RETURN_IF_ERROR(CheckNoLoop(tx, dst, parent));
  }
  const int64_t now = NowNs();
  RETURN_IF_ERROR(store::PointEntry(tx, parent, name, dst.inode));
  RETURN_IF_ERROR(store::PointEntry(tx, new_parent, new_name, src.inode));
  // A directory that changes parent moves its ".." link along.
  int delta = 0;
  if (parent != new_parent) delta = (IsDir(dst) ? 1 : 0) - (IsDir(src) ? 1 : 0);
  RETURN_IF_ERROR(TouchParents(tx, parent, delta, new_parent, -delta, now));
  RETURN_IF_ERROR(store::TouchCtime(tx, src.inode, now));
  return store::TouchCtime(tx, dst.inode, now);
}

// Linux's checks of rename(2) (may_delete / may_create in vfs_rename), once
// both entries are known: w+x on the source's directory and the sticky rule
// for the source; for the target w+x on its directory and, if it exists (it
// is replaced, or exchanged), the sticky rule for it; a directory that
// changes parent needs w on itself (its ".." changes).
Status CheckRenamePermissions(const Caller& caller, const store::EntryLookup& from,
                              const store::EntryLookup& to, bool exchange,
                              const std::string& what) {
  const Attr& src = *from.entry;
  RETURN_IF_ERROR(CheckAccess(from.parent, caller, kMayWrite | kMayExec, what));
  RETURN_IF_ERROR(CheckSticky(from.parent, src, caller, what));
  RETURN_IF_ERROR(CheckAccess(to.parent, caller, kMayWrite | kMayExec, what));
  if (to.entry) RETURN_IF_ERROR(CheckSticky(to.parent, *to.entry, caller, what));
  if (from.parent.inode != to.parent.inode) {
    if (IsDir(src)) RETURN_IF_ERROR(CheckAccess(src, caller, kMayWrite, what));
    if (exchange && IsDir(*to.entry)) {
      RETURN_IF_ERROR(CheckAccess(*to.entry, caller, kMayWrite, what));
    }
  }
  return Status();
}

// Rename; with a holder, keeps a replaced open file as its orphan (returns
// its inode).
Result<InodeId> DoRename(OpContext& ctx, const Caller& caller, InodeId parent,
                         std::string_view name, InodeId new_parent, std::string_view new_name,
                         int flags, const OrphanHolder* holder) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateInode(new_parent, "new parent"));
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(ValidateName(new_name));
  if (flags != 0 && flags != kRenameNoReplace && flags != kRenameExchange) {
    return InvalidArgument("rename flags " + std::to_string(flags) +
                           " are not 0, NOREPLACE or EXCHANGE");
  }
  if (holder) RETURN_IF_ERROR(ValidateHolder(*holder));
  const std::string n(name);
  const std::string nn(new_name);
  InodeId orphaned = 0;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    orphaned = 0;
    if (holder) RETURN_IF_ERROR(CheckHolder(tx, *holder));
    const std::string what = "rename '" + n + "' to '" + nn + "'";
    ASSIGN_OR_RETURN(store::EntryLookup from, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckLookup(from, parent, n, caller, what));
    ASSIGN_OR_RETURN(store::EntryLookup to, store::LookupEntry(tx, new_parent, nn));
    RETURN_IF_ERROR(CheckParentDir(to, new_parent));
    RETURN_IF_ERROR(CheckAccess(to.parent, caller, kMayExec, what));
    const Attr& src = *from.entry;
    if (parent == new_parent && n == nn) {
      // Renaming an entry to itself changes nothing (NOREPLACE: it exists).
      if (flags == kRenameNoReplace) return AlreadyExists("'" + nn + "' already exists");
      return Status();
    }
    if (flags == kRenameExchange) {
      if (!to.entry) return NotFound("no such file or directory: '" + nn + "' (exchange)");
      if (to.entry->inode == src.inode) return Status();
      RETURN_IF_ERROR(CheckRenamePermissions(caller, from, to, /*exchange=*/true, what));
      return Exchange(tx, parent, n, src, new_parent, nn, *to.entry);
    }
    if (to.entry) {
      if (flags == kRenameNoReplace) {
        return AlreadyExists("'" + nn + "' already exists in directory " +
                             std::to_string(new_parent));
      }
      // Two names of one file: POSIX says do nothing.
      if (to.entry->inode == src.inode) return Status();
    }
    RETURN_IF_ERROR(CheckRenamePermissions(caller, from, to, /*exchange=*/false, what));
    int parent_delta = 0;
    int new_parent_delta = 0;
    if (to.entry) {
      const Attr& dst = *to.entry;
      if (IsDir(src) && !IsDir(dst)) {
        return Status(ErrorCode::kNotDir,
                      "cannot replace non-directory '" + nn + "' with a directory");
      }
      if (!IsDir(src) && IsDir(dst)) {
        return Status(ErrorCode::kIsDir, "cannot replace directory '" + nn + "' with a file");
      }
      if (IsDir(dst)) {
        ASSIGN_OR_RETURN(bool has_entries, store::HasEntries(tx, dst.inode));
        if (has_entries) {
          return Status(ErrorCode::kNotEmpty, "directory '" + nn + "' is not empty");
        }
      }
    }
    if (IsDir(src) && parent != new_parent) RETURN_IF_ERROR(CheckNoLoop(tx, src, new_parent));

    const int64_t now = NowNs();
    if (to.entry) {
      const Attr& dst = *to.entry;
      RETURN_IF_ERROR(store::PointEntry(tx, new_parent, nn, src.inode));
      RETURN_IF_ERROR(store::RemoveEntry(tx, parent, n));
      if (IsDir(dst)) {
        RETURN_IF_ERROR(store::DeleteInode(tx, dst.inode));
        new_parent_delta -= 1;
      } else {
        ASSIGN_OR_RETURN(bool kept, DropLinkOrKeep(ctx, tx, dst, new_parent, now, holder));
        if (kept) orphaned = dst.inode;
      }
    } else {
      RETURN_IF_ERROR(store::MoveEntry(tx, parent, n, new_parent, nn));
    }
    if (IsDir(src) && parent != new_parent) {
      parent_delta -= 1;
      new_parent_delta += 1;
    }
    RETURN_IF_ERROR(TouchParents(tx, parent, parent_delta, new_parent, new_parent_delta, now));
    return store::TouchCtime(tx, src.inode, now);
  }));
  return orphaned;
}

}  // namespace

Status Rename(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
              InodeId new_parent, std::string_view new_name, int flags) {
  return DoRename(ctx, caller, parent, name, new_parent, new_name, flags, nullptr).status();
}

Result<InodeId> RenameKeepingOpen(OpContext& ctx, const Caller& caller, InodeId parent,
                                  std::string_view name, InodeId new_parent,
                                  std::string_view new_name, int flags,
                                  const OrphanHolder& holder) {
  return DoRename(ctx, caller, parent, name, new_parent, new_name, flags, &holder);
}

}  // namespace ddbfs::meta
