// Tags of one document (docs/tags.md): set and read.

#include "ddbfs/query.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/tag_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

Status ValidateTags(const std::vector<Tag>& tags, const char* what) {
  if (tags.size() > kMaxTagsPerCall) {
    return InvalidArgument(std::to_string(tags.size()) + " tags to " + what +
                           " in one call (at most " + std::to_string(kMaxTagsPerCall) + ")");
  }
  for (const Tag& t : tags) {
    RETURN_IF_ERROR(query::ValidateTagName(t.name));
    if (t.value) RETURN_IF_ERROR(query::ValidateTagValue(*t.value));
  }
  return Status();
}

store::TagRow RowOf(const Tag& t) {
  store::TagRow row{t.name, t.value, std::nullopt, std::nullopt};
  if (!t.value) return row;
  const query::Value v = query::Classify(*t.value);
  if (v.kind == query::ValueKind::kNumber) row.value_num = v.number;
  if (v.kind == query::ValueKind::kTime) row.value_ns = v.time_ns;
  return row;
}

Result<Attr> NodeOf(store::Tx& tx, InodeId inode) {
  ASSIGN_OR_RETURN(std::optional<Attr> node, store::GetInode(tx, inode));
  if (!node) return NotFound("no inode " + std::to_string(inode));
  return *node;
}

}  // namespace

Result<std::vector<Tag>> SetTags(OpContext& ctx, const Caller& caller, InodeId inode,
                                 const std::vector<Tag>& add, const std::vector<Tag>& remove) {
  RETURN_IF_ERROR(ValidateInode(inode));
  RETURN_IF_ERROR(ValidateTags(add, "add"));
  RETURN_IF_ERROR(ValidateTags(remove, "remove"));
  std::vector<Tag> out;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Attr node, NodeOf(tx, inode));
    RETURN_IF_ERROR(CheckAccess(node, caller, kMayWrite, "tag"));
    for (const Tag& t : remove)
      RETURN_IF_ERROR(store::RemoveTag(tx, inode, t.name, t.value).status());
    RETURN_IF_ERROR(AddTagsInTx(tx, inode, add));
    if (!add.empty()) {
      ASSIGN_OR_RETURN(int64_t count, store::CountTags(tx, inode));
      if (count > kMaxTagsPerDocument) {
        return Status(ErrorCode::kNoSpace, "a document carries at most " +
                                               std::to_string(kMaxTagsPerDocument) + " tags");
      }
    }
    ASSIGN_OR_RETURN(out, store::GetTags(tx, inode));
    return Status();
  }));
  return out;
}

Status ValidateTagsToAdd(const std::vector<Tag>& tags) { return ValidateTags(tags, "add"); }

Status AddTagsInTx(store::Tx& tx, InodeId inode, const std::vector<Tag>& tags) {
  const int64_t now = NowNs();
  for (const Tag& t : tags) RETURN_IF_ERROR(store::AddTag(tx, inode, RowOf(t), now));
  return Status();
}

Result<std::vector<Tag>> GetTags(OpContext& ctx, const Caller& caller, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  std::vector<Tag> out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Attr node, NodeOf(tx, inode));
    RETURN_IF_ERROR(CheckAccess(node, caller, kMayRead, "read the tags of"));
    ASSIGN_OR_RETURN(out, store::GetTags(tx, inode));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
