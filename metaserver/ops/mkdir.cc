#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/posix_acl.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<Attr> Mkdir(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                   uint32_t mode, Attr* dir_after) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  const std::string n(name);
  Attr out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckCreate(e, parent, n, caller, "mkdir '" + n + "'"));
    const NewOwnership own = OwnershipOfNew(e.parent, caller, FileType::kDirectory, mode);
    store::NewInode dir;
    dir.type = FileType::kDirectory;
    dir.mode = own.mode;
    RETURN_IF_ERROR(InheritAcls(e.parent, caller, FileType::kDirectory, &dir.mode, &dir.acl_access,
                                &dir.acl_default));
    dir.uid = own.uid;
    dir.gid = own.gid;
    dir.atime_ns = dir.mtime_ns = dir.ctime_ns = NowNs();
    dir.nlink = 2;
    dir.goal = e.parent_goal;
    // The new directory's ".." is one more link of the parent.
    ASSIGN_OR_RETURN(out, store::CreateEntry(tx, parent, n, dir, 1));
    NoteDirAfter(e.parent, dir.ctime_ns, 1, dir_after);
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
