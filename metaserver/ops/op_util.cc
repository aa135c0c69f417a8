#include "metaserver/ops/op_util.h"

#include <algorithm>

#include "metaserver/ops/permissions.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/session_store.h"

namespace ddbfs::meta {

Status CheckParentDir(const store::EntryLookup& e, InodeId parent) {
  if (!e.parent_exists) return NotFound("no such directory: inode " + std::to_string(parent));
  if (e.parent_type != FileType::kDirectory) {
    return Status(ErrorCode::kNotDir, "inode " + std::to_string(parent) + " is not a directory");
  }
  return Status();
}

Status CheckNewEntry(const store::EntryLookup& e, InodeId parent, const std::string& name) {
  RETURN_IF_ERROR(CheckParentDir(e, parent));
  if (e.entry) {
    return AlreadyExists("'" + name + "' already exists in directory " + std::to_string(parent));
  }
  return Status();
}

Status CheckEntryExists(const store::EntryLookup& e, InodeId parent, const std::string& name) {
  RETURN_IF_ERROR(CheckParentDir(e, parent));
  if (!e.entry) {
    return NotFound("no such file or directory: '" + name + "' in directory " +
                    std::to_string(parent));
  }
  return Status();
}

Status CheckLookup(const store::EntryLookup& e, InodeId parent, const std::string& name,
                   const Caller& caller, std::string_view what) {
  RETURN_IF_ERROR(CheckParentDir(e, parent));
  RETURN_IF_ERROR(CheckAccess(e.parent, caller, kMayExec, what));
  return CheckEntryExists(e, parent, name);
}

Status CheckCreate(const store::EntryLookup& e, InodeId parent, const std::string& name,
                   const Caller& caller, std::string_view what) {
  RETURN_IF_ERROR(CheckParentDir(e, parent));
  RETURN_IF_ERROR(CheckAccess(e.parent, caller, kMayExec, what));
  RETURN_IF_ERROR(CheckNewEntry(e, parent, name));
  return CheckAccess(e.parent, caller, kMayWrite | kMayExec, what);
}

Status CheckRemove(const store::EntryLookup& e, InodeId parent, const std::string& name,
                   const Caller& caller, std::string_view what) {
  RETURN_IF_ERROR(CheckLookup(e, parent, name, caller, what));
  RETURN_IF_ERROR(CheckAccess(e.parent, caller, kMayWrite | kMayExec, what));
  return CheckSticky(e.parent, *e.entry, caller, what);
}

Status DropLink(store::Tx& tx, const Attr& inode, int64_t now_ns) {
  if (inode.nlink <= 1) return store::DeleteInode(tx, inode.inode);
  return store::ChangeNlink(tx, inode.inode, -1, now_ns).status();
}

Status ValidateHolder(const OrphanHolder& holder) {
  if (holder.session <= 0) {
    return InvalidArgument("bad client session id " + std::to_string(holder.session));
  }
  if (holder.open_inodes.size() > kMaxOpenInodes) {
    return InvalidArgument("more than " + std::to_string(kMaxOpenInodes) +
                           " open inodes in one request");
  }
  for (InodeId i : holder.open_inodes) {
    if (i <= 0) return InvalidArgument("bad open inode " + std::to_string(i));
  }
  return Status();
}

Status CheckHolder(store::Tx& tx, const OrphanHolder& holder) {
  ASSIGN_OR_RETURN(std::optional<store::ClientSessionRecord> s,
                   store::GetClientSession(tx, holder.session));
  if (!s || s->expires_ms < NowMs()) {
    return Status(ErrorCode::kLeaseExpired, "client session " + std::to_string(holder.session) +
                                                " has expired or was closed; open a new one");
  }
  if (s->principal != holder.owner) {
    return Status(ErrorCode::kPermissionDenied, "client session " + std::to_string(holder.session) +
                                                    " belongs to another principal");
  }
  return Status();
}

Result<bool> DropLinkOrKeep(store::Tx& tx, const Attr& inode, InodeId parent, int64_t now_ns,
                            const OrphanHolder* holder) {
  const bool keep = holder != nullptr && inode.nlink <= 1 && inode.type == FileType::kRegular &&
                    std::find(holder->open_inodes.begin(), holder->open_inodes.end(),
                              inode.inode) != holder->open_inodes.end();
  if (!keep) {
    RETURN_IF_ERROR(DropLink(tx, inode, now_ns));
    return false;
  }
  RETURN_IF_ERROR(
      store::ChangeNlink(tx, inode.inode, -static_cast<int>(inode.nlink), now_ns).status());
  RETURN_IF_ERROR(store::InsertOrphan(tx, inode.inode, holder->session, parent, now_ns / 1000000));
  return true;
}

}  // namespace ddbfs::meta
