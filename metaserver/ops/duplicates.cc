// FindDuplicates (ddbfs dupes): documents that share their content, found
// in (size, hash, inode) order over the index of known hashes, each page
// bounded in the documents it looks at and the bytes it answers.
// docs/content_hash.md, "ddbfs dupes".

#include <map>

#include "metaserver/ops/content_hash.h"
#include "metaserver/ops/permissions.h"
#include "metaserver/ops/validate.h"
#include "metaserver/store/content_hash_store.h"
#include "metaserver/store/inode_store.h"
#include "metaserver/store/query_store.h"
#include "metaserver/store/read_pool.h"

namespace ddbfs::meta {

namespace {

struct Seen {
  std::string path;
  Attr attr;
};

// The documents of `ids` that `caller` may count: reachable by path below
// `under` (search permission on every directory of the way, as a query's
// results) and readable (their content is what is compared).
Result<std::map<InodeId, Seen>> Visible(store::Tx& tx, const std::vector<InodeId>& ids,
                                        const Caller& caller, InodeId under) {
  std::map<InodeId, Seen> out;
  if (ids.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<Attr> attrs, store::GetInodes(tx, ids));
  ASSIGN_OR_RETURN(auto ways, store::WaysUpOf(tx, ids));
  for (Attr& a : attrs) {
    const store::WayUp& way = ways[a.inode];
    if (!way.named || a.type != FileType::kRegular) continue;
    if (!CheckAccess(a, caller, kMayRead, "read").ok()) continue;
    bool inside = under == kRootInode;
    bool searchable = true;
    std::string path;
    for (const store::PathStep& s : way.steps) {
      searchable = searchable && CheckAccess(s.parent, caller, kMayExec, "search").ok();
      inside = inside || s.parent.inode == under;
      path.insert(0, "/" + s.name);
    }
    if (searchable && inside) out.emplace(a.inode, Seen{std::move(path), std::move(a)});
  }
  return out;
}

}  // namespace

Result<DuplicatesPage> FindDuplicates(OpContext& ctx, const Caller& caller, InodeId under,
                                      bool empty, const DuplicatesCursor& from, int limit) {
  RETURN_IF_ERROR(ValidateInode(under));
  if (limit <= 0 || limit > kMaxDuplicatesExamined) limit = kMaxDuplicatesExamined;
  const uint64_t min_size = empty ? 0 : 1;
  DuplicatesPage page;
  RETURN_IF_ERROR(ctx.reader.Run([&](store::Tx& tx) -> Status {
    page = DuplicatesPage();
    ASSIGN_OR_RETURN(std::optional<Attr> dir, store::GetInode(tx, under));
    if (!dir) return NotFound("no inode " + std::to_string(under));
    if (dir->type != FileType::kDirectory) {
      return Status(ErrorCode::kNotDir, "inode " + std::to_string(under) + " is not a directory");
    }
    DuplicatesCursor cur = from;
    int budget = limit;
    bool done = false;
    if (!cur.counting_stale) {
      ASSIGN_OR_RETURN(
          std::vector<store::HashedDocument> rows,
          store::HashedDocuments(tx, min_size, cur.size, cur.sha256, cur.inode, budget));
      const bool window_full = static_cast<int>(rows.size()) == budget;
      budget -= static_cast<int>(rows.size());
      auto same = [](const store::HashedDocument& a, const store::HashedDocument& b) {
        return a.size == b.size && a.sha256 == b.sha256;
      };
      const bool continues = cur.size >= 0 && !rows.empty() &&
                             rows[0].size == static_cast<uint64_t>(cur.size) &&
                             rows[0].sha256 == cur.sha256;
      // Only rows that can be in a group of two need a look up their way: a
      // row alone with its key in this window, and not on its edges, cannot.
      std::vector<InodeId> check;
      if (continues && cur.pending != 0) check.push_back(cur.pending);
      for (size_t k = 0; k < rows.size(); ++k) {
        const bool first_continues = k == 0 && continues;
        const bool last_cut = k + 1 == rows.size() && window_full;
        const bool prev = k > 0 && same(rows[k - 1], rows[k]);
        const bool next = k + 1 < rows.size() && same(rows[k], rows[k + 1]);
        if (first_continues || last_cut || prev || next) check.push_back(rows[k].id);
      }
      ASSIGN_OR_RETURN(auto visible, Visible(tx, check, caller, under));
      if (!continues || !visible.count(cur.pending)) cur.pending = 0;
      size_t bytes = 0;
      bool stopped = false;
      for (const store::HashedDocument& row : rows) {
        const bool same_group = cur.size >= 0 && row.size == static_cast<uint64_t>(cur.size) &&
                                row.sha256 == cur.sha256;
        if (!same_group) {
          cur.pending = 0;
          cur.shown = false;
        }
        auto it = visible.find(row.id);
        if (it != visible.end() && (cur.shown || cur.pending != 0)) {
          // This row shows the group (and the member held back, if any).
          std::vector<InodeId> show;
          if (!cur.shown) show.push_back(cur.pending);
          show.push_back(row.id);
          size_t need = 0;
          for (InodeId id : show) need += visible[id].path.size() + 128;
          if (!page.entries.empty() && bytes + need > kMaxDuplicatesBytes) {
            stopped = true;  // the next page starts at this row
            break;
          }
          for (InodeId id : show) {
            const Seen& s = visible[id];
            page.entries.push_back(DuplicateHit{s.path, s.attr, row.sha256});
          }
          bytes += need;
          cur.pending = 0;
          cur.shown = true;
        } else if (it != visible.end()) {
          cur.pending = row.id;  // the first member seen: shown with a second
        }
        cur.size = static_cast<int64_t>(row.size);
        cur.sha256 = row.sha256;
        cur.inode = row.id;
      }
      if (!stopped && !window_full) {
        cur = DuplicatesCursor();
        cur.counting_stale = true;
      }
      if (stopped) budget = 0;
    }
    if (cur.counting_stale && budget > 0) {
      ASSIGN_OR_RETURN(std::vector<InodeId> ids,
                       store::UnhashedDocuments(tx, min_size, cur.stale_after, budget));
      ASSIGN_OR_RETURN(auto visible, Visible(tx, ids, caller, under));
      page.stale = static_cast<int64_t>(visible.size());
      if (!ids.empty()) cur.stale_after = ids.back();
      done = static_cast<int>(ids.size()) < budget;
    }
    if (!done) page.next = cur;
    return Status();
  }));
  return page;
}

}  // namespace ddbfs::meta
