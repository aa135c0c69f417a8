#include "ddbfs/constants.h"
#include "metaserver/ops/content_hash.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/posix_acl.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<Attr> SetAttr(OpContext& ctx, const Caller& caller, InodeId inode,
                     const AttrChanges& changes) {
  RETURN_IF_ERROR(ValidateInode(inode));
  AttrChanges c = changes;
  if (c.mode) c.mode = *c.mode & 07777;
  if (c.uid && *c.uid == UINT32_MAX) return InvalidArgument("uid -1 is not a valid owner");
  if (c.gid && *c.gid == UINT32_MAX) return InvalidArgument("gid -1 is not a valid group");
  if (c.goal && (*c.goal < 1 || *c.goal > 9)) {
    return InvalidArgument("goal " + std::to_string(*c.goal) + " is not between 1 and 9");
  }
  if (c.size && *c.size > kMaxFileSize) {
    return InvalidArgument("size " + std::to_string(*c.size) + " is larger than the maximum " +
                           std::to_string(kMaxFileSize));
  }
  Attr out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> current, store::GetInode(tx, inode));
    if (!current) return NotFound("no inode " + std::to_string(inode));
    AttrChanges apply = c;
    // Who may (Linux's setattr_prepare; docs/metadata.md, "Permissions").
    ASSIGN_OR_RETURN(apply.mode, CheckOwnershipChange(*current, caller, c.uid, c.gid, c.mode));
    if (c.atime_ns || c.mtime_ns) RETURN_IF_ERROR(CheckOwner(*current, caller, "set times"));
    if (c.goal) RETURN_IF_ERROR(CheckOwner(*current, caller, "set goal"));
    const int64_t now = NowNs();
    if (apply.size) {
      if (current->type == FileType::kDirectory) {
        return Status(ErrorCode::kIsDir,
                      "cannot set the size of directory " + std::to_string(inode));
      }
      if (current->type == FileType::kSymlink || IsSpecial(current->type)) {
        return InvalidArgument("cannot set the size of inode " + std::to_string(inode) +
                               ": only a regular file has data");
      }
      RETURN_IF_ERROR(CheckAccess(*current, caller, kMayWrite, "truncate"));
      if (*apply.size == current->size) {
        apply.size.reset();
      } else if (!apply.mtime_ns) {
        apply.mtime_ns = now;  // truncate(2) changes mtime when the size changes
      }
    }
    if (apply.size && *apply.size < current->size) {
      const auto size = static_cast<int64_t>(*apply.size);
      const auto chunk = static_cast<int64_t>(kChunkSize);
      const int64_t first_dropped = (size + chunk - 1) / chunk;
      const int64_t last_index = first_dropped - 1;
      RETURN_IF_ERROR(
          store::TruncateChunks(tx, inode, first_dropped, last_index, size - last_index * chunk));
    }
    ASSIGN_OR_RETURN(out, store::UpdateAttr(tx, inode, apply, now));
    // chmod of a node with an access ACL: the ACL follows the new bits.
    if (apply.mode && !current->acl_access.empty()) {
      ASSIGN_OR_RETURN(Acl acl, ParseAcl(current->acl_access));
      ChmodAcl(&acl, *apply.mode);
      ASSIGN_OR_RETURN(out, store::SetAccessAcl(tx, inode, EncodeAcl(acl), out.mode, out.ctime_ns));
    }
    // The chunks' ranges moved with the size (docs/content_hash.md).
    if (apply.size) return RefreshDocumentHash(tx, out);
    return Status();
  }));
  if (c.goal) MarkRepairDirty(ctx);
  return out;
}

}  // namespace ddbfs::meta
