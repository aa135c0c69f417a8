#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<bool> UpdateAtime(OpContext& ctx, const Caller& caller, InodeId inode, bool relatime) {
  RETURN_IF_ERROR(ValidateInode(inode));
  bool updated = false;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> node, store::GetInode(tx, inode));
    if (!node) return NotFound("no inode " + std::to_string(inode));
    if (node->type == FileType::kDirectory) {
      return Status(ErrorCode::kIsDir, "inode " + std::to_string(inode) + " is a directory");
    }
    if (node->type != FileType::kRegular) {
      return InvalidArgument("inode " + std::to_string(inode) + " is not a regular file");
    }
    RETURN_IF_ERROR(CheckAccess(*node, caller, kMayRead, "read"));
    ASSIGN_OR_RETURN(updated,
                     store::UpdateAtime(tx, inode, NowNs(), relatime ? kRelatimeWindowNs : 0));
    return Status();
  }));
  return updated;
}

}  // namespace ddbfs::meta
