#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Status Unlink(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  const std::string n(name);
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckRemove(e, parent, n, caller, "unlink '" + n + "'"));
    if (e.entry->type == FileType::kDirectory) {
      return Status(ErrorCode::kIsDir, "'" + n + "' is a directory (use rmdir)");
    }
    const int64_t now = NowNs();
    RETURN_IF_ERROR(store::RemoveEntry(tx, parent, n));
    RETURN_IF_ERROR(store::TouchDir(tx, parent, 0, now));
    return DropLink(tx, *e.entry, now);
  });
}

}  // namespace ddbfs::meta
