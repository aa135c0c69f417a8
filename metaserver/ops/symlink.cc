#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<Attr> Symlink(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                     std::string_view target) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  if (target.empty()) return InvalidArgument("empty symlink target");
  if (target.size() > kMaxPathLength) {
    return Status(ErrorCode::kNameTooLong,
                  "symlink target is longer than " + std::to_string(kMaxPathLength) + " bytes");
  }
  RETURN_IF_ERROR(ValidateText(target, "symlink target"));
  const std::string n(name);
  const std::string t(target);
  Attr out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckCreate(e, parent, n, caller, "symlink '" + n + "'"));
    const NewOwnership own = OwnershipOfNew(e.parent, caller, FileType::kSymlink, 0777);
    store::NewInode link;
    link.type = FileType::kSymlink;
    link.mode = own.mode;
    link.uid = own.uid;
    link.gid = own.gid;
    link.size = t.size();
    link.atime_ns = link.mtime_ns = link.ctime_ns = NowNs();
    link.nlink = 1;
    link.goal = e.parent_goal;
    link.symlink_target = t;
    ASSIGN_OR_RETURN(out, store::CreateEntry(tx, parent, n, link, 0));
    return Status();
  }));
  return out;
}

Result<std::string> Readlink(OpContext& ctx, const Caller&, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  std::string out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::SymlinkRecord r, store::GetSymlink(tx, inode));
    if (r.type != FileType::kSymlink || !r.target) {
      return InvalidArgument("inode " + std::to_string(inode) + " is not a symbolic link");
    }
    out = *r.target;
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
