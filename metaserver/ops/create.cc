#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/posix_acl.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

// Create with, when first_chunk is set, chunk 0 placed in the same op.
Result<CreateOutcome> CreateFile(OpContext& ctx, const Caller& caller, InodeId parent,
                                 std::string_view name, uint32_t mode, std::optional<int> goal,
                                 std::optional<int64_t> mtime_ns, bool first_chunk, Attr* dir_after,
                                 const std::vector<Tag>& tags) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  if (goal && (*goal < 1 || *goal > 9)) {
    return InvalidArgument("goal " + std::to_string(*goal) + " is not between 1 and 9");
  }
  RETURN_IF_ERROR(ValidateTagsToAdd(tags));
  const std::string n(name);
  CreateOutcome out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    out = CreateOutcome();
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckCreate(e, parent, n, caller, "create '" + n + "'"));
    const NewOwnership own = OwnershipOfNew(e.parent, caller, FileType::kRegular, mode);
    store::NewInode file;
    file.type = FileType::kRegular;
    file.mode = own.mode;
    RETURN_IF_ERROR(InheritAcls(e.parent, caller, FileType::kRegular, &file.mode, &file.acl_access,
                                &file.acl_default));
    file.uid = own.uid;
    file.gid = own.gid;
    file.atime_ns = file.ctime_ns = NowNs();
    file.mtime_ns = mtime_ns.value_or(file.ctime_ns);
    file.nlink = 1;
    file.goal = goal.value_or(e.parent_goal);
    ASSIGN_OR_RETURN(out.attr, store::CreateEntry(tx, parent, n, file, 0));
    NoteDirAfter(e.parent, file.ctime_ns, 0, dir_after);
    RETURN_IF_ERROR(AddTagsInTx(tx, out.attr.inode, tags));
    if (!first_chunk) return Status();
    // A placement failure writes nothing (PlaceNewChunk's contract), so the
    // create still commits; the writer's PrepareWrite reports the error.
    Result<WritePlan> plan = PlaceNewChunk(ctx, tx, out.attr.inode, 0, out.attr.goal);
    if (plan.ok()) {
      out.first_chunk = std::move(*plan);
    } else if (plan.status().code() != ErrorCode::kNoSpace &&
               plan.status().code() != ErrorCode::kUnavailable) {
      return plan.status();
    }
    return Status();
  }));
  return out;
}

}  // namespace

Result<Attr> Create(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name,
                    uint32_t mode, std::optional<int> goal, std::optional<int64_t> mtime_ns,
                    Attr* dir_after, const std::vector<Tag>& tags) {
  ASSIGN_OR_RETURN(CreateOutcome f, CreateFile(ctx, caller, parent, name, mode, goal, mtime_ns,
                                               /*first_chunk=*/false, dir_after, tags));
  return f.attr;
}

Result<CreateOutcome> CreateForWrite(OpContext& ctx, const Caller& caller, InodeId parent,
                                     std::string_view name, uint32_t mode, std::optional<int> goal,
                                     std::optional<int64_t> mtime_ns, Attr* dir_after,
                                     const std::vector<Tag>& tags) {
  return CreateFile(ctx, caller, parent, name, mode, goal, mtime_ns, /*first_chunk=*/true,
                    dir_after, tags);
}

}  // namespace ddbfs::meta
