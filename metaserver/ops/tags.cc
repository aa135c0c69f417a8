// Tags of one document (docs/tags.md): set and read.

#include <algorithm>
#include <set>

#include "ddbfs/query.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/bulk_writer.h"
#include "metaserver/store/goal_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/tag_index.h"
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
  // A tag with a goal rule changes the document's goal (docs/repair.md).
  MarkRepairTagsChanged(ctx);
  return out;
}

Status ValidateTagsToAdd(const std::vector<Tag>& tags) { return ValidateTags(tags, "add"); }

Status AddTagsInTx(store::Tx& tx, InodeId inode, const std::vector<Tag>& tags) {
  std::vector<store::TagRow> rows;
  rows.reserve(tags.size());
  for (const Tag& t : tags) rows.push_back(RowOf(t));
  return store::AddTags(tx, inode, rows, NowNs());
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

Result<TagList> ListTags(OpContext& ctx, const Caller& caller, InodeId confine,
                         const std::optional<std::string>& within,
                         const std::optional<std::string>& name, int offset, int limit) {
  if (offset < 0) return InvalidArgument("negative offset");
  if (limit <= 0) limit = kDefaultTagListLimit;
  limit = std::min(limit, kMaxTagListLimit);
  if (name) RETURN_IF_ERROR(query::ValidateTagName(*name));
  // A caller who sees everything is answered from the index when it can.
  if (ctx.tag_index != nullptr && IsRoot(caller) && confine == kRootInode) {
    std::unique_ptr<query::Node> tree;
    if (within) {
      ASSIGN_OR_RETURN(tree, query::Parse(*within));
    }
    std::optional<std::vector<store::TagIndex::Count>> counts =
        ctx.tag_index->Counts(tree.get(), name);
    if (counts) {
      TagList out;
      for (size_t k = static_cast<size_t>(offset); k < counts->size(); ++k) {
        if (static_cast<int>(out.tags.size()) == limit) {
          out.more = true;
          break;
        }
        store::TagIndex::Count& c = (*counts)[k];
        out.tags.push_back(TagCount{std::move(c.name), std::move(c.value), c.documents, c.bytes});
      }
      return out;
    }
  }
  store::TagCountSpec spec;
  if (within) {
    ASSIGN_OR_RETURN(CompiledQuery q, CompileQueryText(ctx, caller, *within));
    spec.where = std::move(q.where);
    spec.params = std::move(q.params);
  }
  if (!IsRoot(caller) || confine != kRootInode) spec.reach_as = caller;
  spec.confine = confine;
  spec.name = name;
  spec.offset = offset;
  spec.limit = limit + 1;
  TagList out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::vector<store::TagCountRow> rows, store::CountTagsBy(tx, spec));
    out = TagList();
    out.more = static_cast<int>(rows.size()) > limit;
    if (out.more) rows.resize(limit);
    out.tags.reserve(rows.size());
    for (store::TagCountRow& r : rows) {
      out.tags.push_back(TagCount{std::move(r.name), std::move(r.value), r.documents, r.bytes});
    }
    return Status();
  }));
  return out;
}

Result<TagList> ListTagNames(OpContext& ctx, int offset, int limit) {
  if (offset < 0) return InvalidArgument("negative offset");
  if (limit <= 0) limit = kDefaultTagListLimit;
  limit = std::min(limit, kMaxTagListLimit);
  TagList out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::vector<std::string> names, store::TagNames(tx, offset, limit + 1));
    out = TagList();
    out.more = static_cast<int>(names.size()) > limit;
    if (out.more) names.resize(static_cast<size_t>(limit));
    for (std::string& n : names) out.tags.push_back(TagCount{std::move(n), std::nullopt, 0, 0});
    return Status();
  }));
  return out;
}

Result<int> TagMany(OpContext& ctx, const Caller& caller, const std::vector<InodeId>& inodes,
                    const std::vector<Tag>& add, const std::vector<Tag>& remove) {
  if (inodes.size() > kMaxTagManyInodes) {
    return InvalidArgument(std::to_string(inodes.size()) + " documents in one call (at most " +
                           std::to_string(kMaxTagManyInodes) + ")");
  }
  for (InodeId inode : inodes) RETURN_IF_ERROR(ValidateInode(inode));
  RETURN_IF_ERROR(ValidateTags(add, "add"));
  RETURN_IF_ERROR(ValidateTags(remove, "remove"));
  std::vector<InodeId> ids(inodes);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  int changed_count = 0;
  // The whole change, in whichever transaction runs it; statements over at
  // most kSlice documents each, so that what one holds in memory stays
  // bounded (a document lies in one slice only, so the changed ones add up).
  constexpr size_t kSlice = 10000;
  auto change = [&](store::Tx& tx) -> Status {
    changed_count = 0;
    for (size_t from = 0; from < ids.size(); from += kSlice) {
      const std::vector<InodeId> slice(
          ids.begin() + static_cast<ptrdiff_t>(from),
          ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), from + kSlice)));
      ASSIGN_OR_RETURN(std::vector<Attr> nodes, store::GetInodes(tx, slice));
      if (nodes.size() != slice.size()) {
        std::set<InodeId> found;
        for (const Attr& a : nodes) found.insert(a.inode);
        for (InodeId id : slice) {
          if (!found.count(id)) return NotFound("no inode " + std::to_string(id));
        }
      }
      for (const Attr& node : nodes) RETURN_IF_ERROR(CheckAccess(node, caller, kMayWrite, "tag"));
    }
    const int64_t now = NowNs();
    for (size_t from = 0; from < ids.size(); from += kSlice) {
      const std::vector<InodeId> slice(
          ids.begin() + static_cast<ptrdiff_t>(from),
          ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), from + kSlice)));
      std::set<InodeId> changed;
      for (const Tag& t : remove) {
        RETURN_IF_ERROR(store::RemoveTagMany(tx, slice, t.name, t.value, &changed));
      }
      for (const Tag& t : add) {
        RETURN_IF_ERROR(store::AddTagMany(tx, slice, RowOf(t), now, &changed));
      }
      if (!add.empty()) {
        ASSIGN_OR_RETURN(std::vector<InodeId> over,
                         store::OverTagLimit(tx, slice, kMaxTagsPerDocument));
        if (!over.empty()) {
          return Status(ErrorCode::kNoSpace, "inode " + std::to_string(over.front()) +
                                                 " would carry more than " +
                                                 std::to_string(kMaxTagsPerDocument) + " tags");
        }
      }
      changed_count += static_cast<int>(changed.size());
    }
    return Status();
  };
  if (ids.size() <= ctx.bulk_threshold || ctx.bulk == nullptr) {
    if (ids.size() > kMaxTagManyInGroupCommit) {
      return InvalidArgument(std::to_string(ids.size()) + " documents in one call (at most " +
                             std::to_string(kMaxTagManyInGroupCommit) + " here)");
    }
    RETURN_IF_ERROR(ctx.writer.Run(change));
    MarkRepairTagsChanged(ctx);
    return changed_count;
  }
  // Many documents: one transaction beside the group commit
  // (store/bulk_writer.h), so that it is all or nothing and does not hold
  // up other clients.
  std::set<std::string> names;
  for (const Tag& t : add) names.insert(t.name);
  for (const Tag& t : remove) names.insert(t.name);
  RETURN_IF_ERROR(ctx.bulk->Run(ids, std::move(names), change));
  MarkRepairTagsChanged(ctx);
  return changed_count;
}

namespace {

const char* AdminOpText(TagAdminOp op) {
  switch (op) {
    case TagAdminOp::kCreate:
      return "create";
    case TagAdminOp::kRename:
      return "rename";
    case TagAdminOp::kMerge:
      return "merge";
    case TagAdminOp::kDelete:
      return "delete";
    case TagAdminOp::kImply:
      return "imply";
    case TagAdminOp::kUnimply:
      return "unimply";
  }
  return "?";
}

Status NeedAdmin(bool admin, TagAdminOp op) {
  if (admin) return Status();
  return Status(ErrorCode::kNotPermitted,
                std::string("tag ") + AdminOpText(op) +
                    " needs an admin acting as root — run it as root on the metaserver's host, "
                    "or with an admin key whose root maps to 0 (docs/security.md)");
}

Result<int64_t> ExistingTag(store::Tx& tx, const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<int64_t> id, store::TagId(tx, name));
  if (!id) return NotFound("no tag '" + name + "' — `ddbfs tags --names` lists them");
  return *id;
}

// The id of `name`, created when new.
Result<int64_t> TagIdCreating(store::Tx& tx, const std::string& name) {
  RETURN_IF_ERROR(store::CreateTagName(tx, name, NowNs()).status());
  return ExistingTag(tx, name);
}

Result<int64_t> RunTagAdmin(store::Tx& tx, bool admin, TagAdminOp op, const std::string& name,
                            const std::string& other) {
  switch (op) {
    case TagAdminOp::kCreate: {
      ASSIGN_OR_RETURN(bool created, store::CreateTagName(tx, name, NowNs()));
      if (!created) {
        return Status(ErrorCode::kExists,
                      "tag '" + name + "' exists — `ddbfs tags` shows it with its documents");
      }
      return 0;
    }
    case TagAdminOp::kRename: {
      RETURN_IF_ERROR(NeedAdmin(admin, op));
      ASSIGN_OR_RETURN(int64_t id, ExistingTag(tx, name));
      ASSIGN_OR_RETURN(std::optional<int64_t> taken, store::TagId(tx, other));
      if (taken) {
        if (*taken == id) return 0;
        return Status(ErrorCode::kExists,
                      "tag '" + other + "' exists — to give its documents and those of '" + name +
                          "' one name, merge them: ddbfs tag merge " + name + " " + other);
      }
      RETURN_IF_ERROR(store::RenameTagName(tx, id, other));
      return 0;
    }
    case TagAdminOp::kMerge: {
      RETURN_IF_ERROR(NeedAdmin(admin, op));
      ASSIGN_OR_RETURN(int64_t from, ExistingTag(tx, name));
      ASSIGN_OR_RETURN(int64_t into, TagIdCreating(tx, other));
      if (from == into) return InvalidArgument("cannot merge tag '" + name + "' into itself");
      // Its goal rule goes with its documents (the higher goal if both have one).
      RETURN_IF_ERROR(store::MoveGoalRule(tx, from, into));
      ASSIGN_OR_RETURN(int64_t documents, store::MergeTagInto(tx, from, into));
      ASSIGN_OR_RETURN(bool cycle, store::ImplicationCycle(tx));
      if (cycle) {
        return InvalidArgument("merging '" + name + "' into '" + other +
                               "' would make the implication rules a cycle — see ddbfs tag "
                               "implies, and remove a rule with ddbfs tag unimply A B");
      }
      return documents;
    }
    case TagAdminOp::kDelete: {
      ASSIGN_OR_RETURN(int64_t id, ExistingTag(tx, name));
      ASSIGN_OR_RETURN(bool used, store::TagInUse(tx, id));
      if (used) RETURN_IF_ERROR(NeedAdmin(admin, op));
      return store::DeleteTagName(tx, id);
    }
    case TagAdminOp::kImply: {
      RETURN_IF_ERROR(NeedAdmin(admin, op));
      if (name == other) return InvalidArgument("a tag cannot imply itself");
      ASSIGN_OR_RETURN(int64_t tag, TagIdCreating(tx, name));
      ASSIGN_OR_RETURN(int64_t implied, TagIdCreating(tx, other));
      if (tag == implied) return InvalidArgument("a tag cannot imply itself");
      ASSIGN_OR_RETURN(bool back, store::Implies(tx, implied, tag));
      if (back) {
        return InvalidArgument("'" + other + "' already implies '" + name +
                               "' — the rule would make a cycle (ddbfs tag implies lists them)");
      }
      RETURN_IF_ERROR(store::AddImplication(tx, tag, implied).status());
      return 0;
    }
    case TagAdminOp::kUnimply: {
      RETURN_IF_ERROR(NeedAdmin(admin, op));
      ASSIGN_OR_RETURN(int64_t tag, ExistingTag(tx, name));
      ASSIGN_OR_RETURN(int64_t implied, ExistingTag(tx, other));
      ASSIGN_OR_RETURN(bool removed, store::RemoveImplication(tx, tag, implied));
      if (!removed) {
        return NotFound("no rule '" + name + "' implies '" + other +
                        "' — ddbfs tag implies lists them");
      }
      return 0;
    }
  }
  return InvalidArgument("unknown tag operation");
}

}  // namespace

Result<int64_t> TagAdmin(OpContext& ctx, bool admin, TagAdminOp op, const std::string& name,
                         const std::string& other) {
  RETURN_IF_ERROR(query::ValidateTagName(name));
  const bool two = op == TagAdminOp::kRename || op == TagAdminOp::kMerge ||
                   op == TagAdminOp::kImply || op == TagAdminOp::kUnimply;
  if (two) RETURN_IF_ERROR(query::ValidateTagName(other));
  int64_t documents = 0;
  RETURN_IF_ERROR(ctx.writer.Run([&](store::Tx& tx) -> Status {
    // A running bulk change that adds or removes either name goes first.
    RETURN_IF_ERROR(store::DeferToBulkName(tx, name));
    if (two) RETURN_IF_ERROR(store::DeferToBulkName(tx, other));
    ASSIGN_OR_RETURN(documents, RunTagAdmin(tx, admin, op, name, other));
    return Status();
  }));
  MarkRepairTagsChanged(ctx);
  return documents;
}

Result<std::vector<std::pair<std::string, std::string>>> ListImplications(OpContext& ctx) {
  std::vector<std::pair<std::string, std::string>> out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(out, store::ListImplicationRules(tx));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
