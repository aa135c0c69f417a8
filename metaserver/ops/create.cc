#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

Result<Attr> Create(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                    uint32_t mode, std::optional<int> goal, std::optional<int64_t> mtime_ns) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  if (goal && (*goal < 1 || *goal > 9)) {
    return InvalidArgument("goal " + std::to_string(*goal) + " is not between 1 and 9");
  }
  const std::string n(name);
  Attr out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckNewEntry(e, parent, n));
    store::NewInode file;
    file.type = FileType::kRegular;
    file.mode = mode & 07777;
    file.uid = caller.uid;
    file.gid = caller.gid;
    file.atime_ns = file.ctime_ns = NowNs();
    file.mtime_ns = mtime_ns.value_or(file.ctime_ns);
    file.nlink = 1;
    file.goal = goal.value_or(e.parent_goal);
    ASSIGN_OR_RETURN(out, store::CreateEntry(tx, parent, n, file, 0));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
