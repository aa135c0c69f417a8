#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/posix_acl.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<Attr> Mknod(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                   FileType type, uint32_t mode, uint64_t rdev) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  if (!IsSpecial(type) || static_cast<int>(type) > static_cast<int>(FileType::kBlockDevice)) {
    return InvalidArgument("mknod makes FIFOs, sockets and devices (type 4 to 7), not type " +
                           std::to_string(static_cast<int>(type)));
  }
  const bool device = type == FileType::kCharDevice || type == FileType::kBlockDevice;
  if (!device && rdev != 0) return InvalidArgument("only a device node has a device number");
  if (rdev > static_cast<uint64_t>(INT64_MAX)) return InvalidArgument("device number too large");
  // Linux wants CAP_MKNOD for device nodes.
  if (device && !IsRoot(caller)) {
    return Status(ErrorCode::kNotPermitted, "only root may make device nodes");
  }
  const std::string n(name);
  Attr out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckCreate(e, parent, n, caller, "mknod '" + n + "'"));
    const NewOwnership own = OwnershipOfNew(e.parent, caller, type, mode);
    store::NewInode node;
    node.type = type;
    node.mode = own.mode;
    RETURN_IF_ERROR(
        InheritAcls(e.parent, caller, type, &node.mode, &node.acl_access, &node.acl_default));
    node.uid = own.uid;
    node.gid = own.gid;
    node.atime_ns = node.mtime_ns = node.ctime_ns = NowNs();
    node.nlink = 1;
    node.goal = e.parent_goal;
    node.rdev = rdev;
    ASSIGN_OR_RETURN(out, store::CreateEntry(tx, parent, n, node, 0));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
