#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

// Unlink; with a holder, keeps an open file as its orphan (returns its inode).
Result<InodeId> DoUnlink(OpContext& ctx, const Caller& caller, InodeId parent,
                         std::string_view name, const OrphanHolder* holder, Attr* dir_after) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  if (holder) RETURN_IF_ERROR(ValidateHolder(*holder));
  const std::string n(name);
  InodeId orphaned = 0;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    orphaned = 0;
    if (holder) RETURN_IF_ERROR(CheckHolder(tx, *holder));
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckRemove(e, parent, n, caller, "unlink '" + n + "'"));
    if (e.entry->type == FileType::kDirectory) {
      return Status(ErrorCode::kIsDir, "'" + n + "' is a directory (use rmdir)");
    }
    const int64_t now = NowNs();
    RETURN_IF_ERROR(store::RemoveEntry(tx, parent, n));
    RETURN_IF_ERROR(store::TouchDir(tx, parent, 0, now));
    NoteDirAfter(e.parent, now, 0, dir_after);
    ASSIGN_OR_RETURN(bool kept, DropLinkOrKeep(ctx, tx, *e.entry, parent, now, holder));
    if (kept) orphaned = e.entry->inode;
    return Status();
  }));
  return orphaned;
}

}  // namespace

Status Unlink(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
              Attr* dir_after) {
  return DoUnlink(ctx, caller, parent, name, nullptr, dir_after).status();
}

Result<InodeId> UnlinkKeepingOpen(OpContext& ctx, const Caller& caller, InodeId parent,
                                  std::string_view name, const OrphanHolder& holder,
                                  Attr* dir_after) {
  return DoUnlink(ctx, caller, parent, name, &holder, dir_after);
}

}  // namespace ddbfs::meta
