#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"

namespace ddbfs::meta {

Result<Attr> Lookup(OpContext& ctx, const Caller& caller, InodeId parent, std::string_view name) {
  RETURN_IF_ERROR(ValidateInode(parent, "parent"));
  RETURN_IF_ERROR(ValidateName(name));
  const std::string n(name);
  // What the namespace cache knows needs no database connection.
  if (std::optional<store::EntryLookup> e = store::LookupEntryCached(ctx.cache, parent, n)) {
    RETURN_IF_ERROR(CheckLookup(*e, parent, n, caller, "lookup '" + n + "'"));
    return *e->entry;
  }
  Attr out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(store::EntryLookup e, store::LookupEntry(tx, parent, n));
    RETURN_IF_ERROR(CheckLookup(e, parent, n, caller, "lookup '" + n + "'"));
    out = *e.entry;
    return Status();
  }));
  return out;
}

Result<Attr> GetAttr(OpContext& ctx, const Caller&, InodeId inode) {
  RETURN_IF_ERROR(ValidateInode(inode));
  if (std::optional<Attr> a = store::GetInodeCached(ctx.cache, inode)) return *a;
  Attr out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<Attr> a, store::GetInode(tx, inode));
    if (!a) return NotFound("no inode " + std::to_string(inode));
    out = *a;
    return Status();
  }));
  return out;
}

Result<Attr> ResolvePath(OpContext& ctx, const Caller& caller, std::string_view path) {
  ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitPath(path));
  Attr out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::vector<Attr> steps, store::WalkPath(tx, parts));
    if (steps.empty()) return Internal("the root directory (inode 1) is missing");
    // As the kernel walks: each directory we go through (steps[i], i <
    // parts.size()) must be one and be searchable, in order, before the
    // name in it counts as found or missing.
    std::string dir = "/";
    for (size_t i = 0; i < steps.size() && i < parts.size(); ++i) {
      if (steps[i].type != FileType::kDirectory) {
        return Status(ErrorCode::kNotDir, "not a directory: " + dir);
      }
      RETURN_IF_ERROR(CheckAccess(steps[i], caller, kMayExec,
                                  "resolve " + std::string(path) + ": search " + dir));
      dir += (i == 0 ? "" : "/") + parts[i];
    }
    if (steps.size() == parts.size() + 1) {
      out = steps.back();
      return Status();
    }
    // steps.size() - 1 components resolved; the next one (in a directory we
    // may search) does not exist.
    std::string prefix;
    for (size_t i = 0; i < steps.size(); ++i) prefix += "/" + parts[i];
    return NotFound("no such file or directory: " + prefix);
  }));
  return out;
}

}  // namespace ddbfs::meta
