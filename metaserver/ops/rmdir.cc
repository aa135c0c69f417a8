#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Status Rmdir(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
             Attr* dir_after) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  const std::string n(name);
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckRemove(e, parent, n, caller, "rmdir '" + n + "'"));
    if (e.entry->type != FileType::kDirectory) {
      return Status(ErrorCode::kNotDir, "'" + n + "' is not a directory");
    }
    ASSIGN_OR_RETURN(bool has_entries, store::HasEntries(tx, e.entry->inode));
    if (has_entries) return Status(ErrorCode::kNotEmpty, "directory '" + n + "' is not empty");
    RETURN_IF_ERROR(store::RemoveEntry(tx, parent, n));
    RETURN_IF_ERROR(store::DeleteInode(tx, e.entry->inode));
    // The removed directory's ".." no longer links the parent.
    const int64_t now = NowNs();
    NoteDirAfter(e.parent, now, -1, dir_after);
    return store::TouchDir(tx, parent, -1, now);
  });
}

}  // namespace ddbfs::meta
