// Queries over documents (docs/query_language.md, docs/tags.md): a page of
// the documents a query selects that the caller could reach by path.

#include <map>

#include "ddbfs/constants.h"
#include "ddbfs/query.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/query_compile.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/query_store.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/tag_index.h"
#include "metaserver/store/tag_store.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

namespace {

// The document's path when `caller` may search every directory on the way
// to it (and the way passes through `confine`), else nullopt.
std::optional<std::string> ReachablePath(const store::WayUp& way, const Caller& caller,
                                         InodeId inode, InodeId confine) {
  if (!way.named) return std::nullopt;
  bool inside = confine == kRootInode || inode == confine;
  std::string path;
  for (const store::PathStep& s : way.steps) {
    if (!CheckAccess(s.parent, caller, kMayExec, "search").ok()) return std::nullopt;
    inside = inside || s.parent.inode == confine;
    path.insert(0, "/" + s.name);
  }
  if (!inside) return std::nullopt;
  return path.empty() ? "/" : path;
}

}  // namespace

Result<CompiledQuery> CompileQueryText(OpContext& ctx, const Caller& caller, std::string_view expr,
                                       int first_param) {
  ASSIGN_OR_RETURN(std::unique_ptr<query::Node> tree, query::Parse(expr));
  auto resolve = [&](const std::string& path) -> Result<std::optional<InodeId>> {
    Result<Attr> a = ResolvePath(ctx, caller, path);
    if (a.ok()) return std::optional<InodeId>(a->inode);
    const ErrorCode code = a.status().code();
    if (code == ErrorCode::kNotFound || code == ErrorCode::kNotDir ||
        code == ErrorCode::kPermissionDenied) {
      return std::optional<InodeId>();  // @path matches nothing
    }
    return a.status();  // e.g. a path with "..": said, not an empty answer
  };
  return CompileQuery(*tree, resolve, first_param);
}

Result<QueryPage> QueryDocuments(OpContext& ctx, const Caller& caller, std::string_view expr,
                                 InodeId after, int limit, InodeId confine) {
  if (after < 0) return InvalidArgument("negative inode to continue after");
  if (limit <= 0) limit = kDefaultQueryLimit;
  limit = std::min(limit, kMaxQueryLimit);
  ASSIGN_OR_RETURN(CompiledQuery q, CompileQueryText(ctx, caller, expr));
  // The index narrows the candidates to documents with the query's tags
  // (a superset: SQL decides each one).
  std::optional<store::TagIndex::Narrowed> candidates;
  if (ctx.tag_index != nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<query::Node> tree, query::Parse(expr));
    candidates = ctx.tag_index->Candidates(*tree);
  }
  QueryPage page;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    page = QueryPage();
    // Candidates in id order; those the caller cannot reach are skipped.
    // At most kMaxQueryExamined per call, so that a selective permission
    // filter cannot make one call run long: the caller goes on after
    // next_after.
    InodeId from = after;
    int examined = 0;
    bool exhausted = false;
    while (!exhausted && static_cast<int>(page.entries.size()) < limit &&
           examined < kMaxQueryExamined) {
      const int want = std::min(limit, kMaxQueryExamined - examined);
      std::vector<InodeId> ids;
      InodeId scanned_to = from;  // looked at up to here once ids are done
      bool last = false;          // nothing after scanned_to
      if (candidates) {
        std::vector<InodeId> batch;
        const store::TagIndex::Bitmap& docs = candidates->docs;
        if (from < 0xffffffffLL) {
          auto it = docs.begin();
          it.equalorlarger(static_cast<uint32_t>(from + 1));
          for (; it != docs.end() && static_cast<int>(batch.size()) < want; ++it) {
            batch.push_back(*it);
          }
        }
        examined += static_cast<int>(batch.size());
        if (!batch.empty()) scanned_to = batch.back();
        last = static_cast<int>(batch.size()) < want;
        if (candidates->exact) {
          ids = std::move(batch);  // gone meanwhile: GetInodes says so
        } else {
          ASSIGN_OR_RETURN(ids, store::MatchingAmong(tx, q.where, q.params, batch));
        }
      } else {
        ASSIGN_OR_RETURN(ids, store::MatchingInodes(tx, q.where, q.params, from, want));
        examined += static_cast<int>(ids.size());
        if (!ids.empty()) scanned_to = ids.back();
        last = static_cast<int>(ids.size()) < want;
      }
      ASSIGN_OR_RETURN(std::vector<Attr> attrs, store::GetInodes(tx, ids));
      ASSIGN_OR_RETURN(auto ways, store::WaysUpOf(tx, ids));
      std::map<InodeId, Attr> by_id;
      for (Attr& a : attrs) by_id.emplace(a.inode, std::move(a));
      size_t k = 0;
      for (; k < ids.size() && static_cast<int>(page.entries.size()) < limit; ++k) {
        const InodeId id = ids[k];
        from = id;
        auto it = by_id.find(id);
        if (it == by_id.end()) continue;
        std::optional<std::string> path = ReachablePath(ways[id], caller, id, confine);
        if (path) page.entries.push_back(QueryEntry{std::move(*path), it->second});
      }
      if (k == ids.size()) {
        from = std::max(from, scanned_to);
        exhausted = last;
      }
    }
    page.next_after = from;
    page.more = !exhausted;
    return Status();
  }));
  return page;
}

namespace {

Status ValidateQueryName(const std::string& name) {
  if (name.empty() || name.size() > 255) {
    return InvalidArgument("a saved query's name is 1 to 255 bytes");
  }
  if (name == "." || name == "..") return InvalidArgument("a saved query cannot be named " + name);
  for (char c : name) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("a saved query's name cannot contain \"/\" or control characters");
    }
  }
  return ValidateName(name);  // valid UTF-8, as a file name
}

// The owner of `existing` or root.
Status CheckOwner(const SavedQuery& existing, const Caller& caller, const char* what) {
  if (caller.uid == 0 || caller.uid == existing.owner_uid) return Status();
  return Status(ErrorCode::kNotPermitted, std::string(what) + " saved query '" + existing.name +
                                              "': it belongs to uid " +
                                              std::to_string(existing.owner_uid));
}

}  // namespace

Status SaveQuery(OpContext& ctx, const Caller& caller, const std::string& name,
                 const std::string& expr) {
  RETURN_IF_ERROR(ValidateQueryName(name));
  RETURN_IF_ERROR(query::Parse(expr).status());
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<SavedQuery> old, store::GetSavedQuery(tx, name));
    if (old) RETURN_IF_ERROR(CheckOwner(*old, caller, "replace"));
    return store::PutSavedQuery(tx, SavedQuery{name, expr, caller.uid}, NowNs());
  });
}

Status DeleteQuery(OpContext& ctx, const Caller& caller, const std::string& name) {
  RETURN_IF_ERROR(ValidateQueryName(name));
  return ctx.writer.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(std::optional<SavedQuery> old, store::GetSavedQuery(tx, name));
    if (!old) return NotFound("no saved query '" + name + "'");
    RETURN_IF_ERROR(CheckOwner(*old, caller, "remove"));
    return store::DeleteSavedQuery(tx, name);
  });
}

Result<std::vector<SavedQuery>> ListQueries(OpContext& ctx, const Caller& caller) {
  (void)caller;  // every client sees them
  std::vector<SavedQuery> out;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    ASSIGN_OR_RETURN(out, store::ListSavedQueries(tx));
    return Status();
  }));
  return out;
}

}  // namespace ddbfs::meta
