#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"

namespace ddbfs::meta {

Result<Attr> Lookup(OpContext& ctx, InodeId parent, std::string_view name) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  const std::string n(name);
  Attr out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckEntryExists(e, parent, n));
    out = *e.entry;
    return Status();
  }));
  return out;
}

Result<Attr> GetAttr(OpContext& ctx, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  Attr out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> a, store::GetInode(tx, inode));
    if (!a) return NotFound("no inode " + std::to_string(inode));
    out = *a;
    return Status();
  }));
  return out;
}

Result<Attr> ResolvePath(OpContext& ctx, std::string_view path) {
  ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitPath(path));
  Attr out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::vector<Attr> steps, store::WalkPath(tx, parts));
    if (steps.empty()) return Internal("the root directory (inode 1) is missing");
    if (steps.size() == parts.size() + 1) {
      out = steps.back();
      return Status();
    }
    // steps.size() - 1 components resolved; the next one failed.
    std::string prefix;
    for (size_t i = 0; i < steps.size(); ++i) prefix += "/" + parts[i];
    if (steps.back().type != FileType::kDirectory) {
      std::string dir = prefix.substr(0, prefix.rfind('/'));
      return Status(ErrorCode::kNotDir, "not a directory: " + dir);
    }
    return NotFound("no such file or directory: " + prefix);
  }));
  return out;
}

}  // namespace ddbfs::meta
