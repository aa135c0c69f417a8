#include "metaserver/ops/op_util.h"

#include <algorithm>

#include "metaserver/ops/open_files.h"
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

Result<bool> DropLinkOrKeep(OpContext& ctx, store::Tx& tx, const Attr& inode, InodeId parent,
                            int64_t now_ns, const OrphanHolder* holder) {
  if (inode.nlink > 1 || inode.type != FileType::kRegular) {
    RETURN_IF_ERROR(DropLink(tx, inode, now_ns));
    return false;
  }
  // Every session that has it open keeps it (docs/metadata.md, "Open files
  // of client sessions"), the caller's among them when it names the file.
  std::vector<int64_t> sessions;
  if (ctx.open_files != nullptr) sessions = ctx.open_files->Holders(inode.inode);
  const bool caller_keeps =
      holder != nullptr && std::find(holder->open_inodes.begin(), holder->open_inodes.end(),
                                     inode.inode) != holder->open_inodes.end();
  if (caller_keeps &&
      std::find(sessions.begin(), sessions.end(), holder->session) == sessions.end()) {
    sessions.push_back(holder->session);
  }
  if (sessions.empty()) {
    RETURN_IF_ERROR(DropLink(tx, inode, now_ns));
    return false;
  }
  RETURN_IF_ERROR(
      store::ChangeNlink(tx, inode.inode, -static_cast<int>(inode.nlink), now_ns).status());
  RETURN_IF_ERROR(store::InsertOrphans(tx, inode.inode, sessions, parent, now_ns / 1000000));
  if (ctx.open_files != nullptr) ctx.open_files->MarkHeld(sessions, inode.inode);
  return holder != nullptr &&
         std::find(sessions.begin(), sessions.end(), holder->session) != sessions.end();
}

}  // namespace ddbfs::meta
