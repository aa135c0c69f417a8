#include "metaserver/ops/op_util.h"

#include "metaserver/ops/permissions.h"
#include "metaserver/store/inode_store.h"

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

}  // namespace ddbfs::meta
