#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<Attr> Link(OpContext& ctx, const Caller& caller, InodeId inode, InodeId new_parent,
                  std::string_view new_name) {
  RETURN_IF_ERROR(ValidateInode(inode));
  RETURN_IF_ERROR(ValidateInode(new_parent, "new parent"));
  RETURN_IF_ERROR(ValidateName(new_name));
  const std::string n(new_name);
  Attr out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> target, store::GetInode(tx, inode));
    if (!target) return NotFound("no inode " + std::to_string(inode));
    // An orphan (unlinked, still open somewhere) gets no name back: Linux's
    // linkat of an unlinked file is ENOENT too.
    if (target->nlink == 0) {
      return NotFound("inode " + std::to_string(inode) + " has been unlinked");
    }
    if (target->type == FileType::kDirectory) {
      return Status(ErrorCode::kIsDir,
                    "cannot make a hard link to directory " + std::to_string(inode));
    }
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, new_parent, n));
    RETURN_IF_ERROR(CheckCreate(e, new_parent, n, caller, "link '" + n + "'"));
    const int64_t now = NowNs();
    RETURN_IF_ERROR(store::AddEntry(tx, new_parent, n, inode));
    RETURN_IF_ERROR(store::TouchDir(tx, new_parent, 0, now));
    ASSIGN_OR_RETURN(out, store::ChangeNlink(tx, inode, 1, now));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
