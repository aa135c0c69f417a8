#include "metaserver/store/query_store.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "metaserver/store/meta_cache.h"
#include "metaserver/store/row_util.h"

namespace ddbfs::meta::store {

namespace {

// For each inode its first name (lowest parent, then name) at every level
// up to the root; the depth bound is ResolvePath's (paths of at most 4095
// bytes).
constexpr Statement kWaysUp{
    "query_ways_up",
    "WITH RECURSIVE up(doc, id, name, depth) AS ("
    "  SELECT x.doc, d.parent, d.name, 0 FROM unnest($1::bigint[]) AS x(doc) CROSS JOIN LATERAL"
    "   (SELECT parent, name FROM ddbfs.dentries WHERE inode = x.doc"
    "    ORDER BY parent, name LIMIT 1) d"
    "  UNION ALL"
    "  SELECT up.doc, e.parent, e.name, up.depth + 1 FROM up CROSS JOIN LATERAL"
    "   (SELECT parent, name FROM ddbfs.dentries WHERE inode = up.id"
    "    ORDER BY parent, name LIMIT 1) e WHERE up.depth < 2048)"
    " SELECT up.doc, up.name, " DDBFS_ATTR_COLUMNS(
        "p.") " FROM up JOIN ddbfs.inodes p ON p.id = up.id ORDER BY up.doc, up.depth",
    false};

// The first name (lowest parent, then name) of each inode.
constexpr Statement kFirstNames{"query_first_names",
                                "SELECT DISTINCT ON (inode) inode, parent, name FROM ddbfs.dentries"
                                " WHERE inode = ANY($1::bigint[]) ORDER BY inode, parent, name",
                                false};

constexpr Statement kParentAttrs{
    "query_parent_attrs",
    "SELECT " DDBFS_ATTR_COLUMNS("") " FROM ddbfs.inodes WHERE id = ANY($1::bigint[])", false};

}  // namespace

Result<std::vector<InodeId>> MatchingInodes(Tx& tx, const std::string& where,
                                            const std::vector<std::string>& params, InodeId after,
                                            int limit) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    std::vector<std::string> all = params;
    const std::string a = "$" + std::to_string(all.size() + 1);
    all.push_back(std::to_string(after));
    const std::string l = "$" + std::to_string(all.size() + 1);
    all.push_back(std::to_string(limit));
    pqxx::result r =
        tx.ExecRead("SELECT i.id FROM ddbfs.inodes i WHERE i.id > " + a + "::bigint AND (" + where +
                        ") ORDER BY i.id LIMIT " + l + "::integer",
                    all);
    std::vector<InodeId> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

Result<std::vector<InodeId>> MatchingAmong(Tx& tx, const std::string& where,
                                           const std::vector<std::string>& params,
                                           const std::vector<InodeId>& ids) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    std::vector<InodeId> out;
    if (ids.empty()) return out;
    std::vector<std::string> all = params;
    const std::string a = "$" + std::to_string(all.size() + 1);
    all.push_back(PgArray(ids));
    pqxx::result r = tx.ExecRead("SELECT i.id FROM ddbfs.inodes i WHERE i.id = ANY(" + a +
                                     "::bigint[]) AND (" + where + ") ORDER BY i.id",
                                 all);
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

// From PostgreSQL: three statements for all of `inodes`. What they read
// goes into the namespace cache (inodes and entries by the epoch rule, the
// names as hints) so that the next page's ways up come from memory.
// `learn` false: the cache is left as it is (--meta-cache-verify's reads).
Result<std::map<InodeId, WayUp>> WaysUpFromDb(Tx& tx, const std::vector<InodeId>& inodes,
                                              bool learn = true) {
  MetaCache* cache = tx.writer() || !learn ? nullptr : tx.cache();
  const uint64_t epoch = cache != nullptr ? cache->epoch() : 0;
  return Guard(tx, [&]() -> Result<std::map<InodeId, WayUp>> {
    // Each document's first name, then the ways up of the few folders they
    // are in (a page of documents is mostly in a handful of folders).
    pqxx::result names = tx.Exec(kFirstNames, PgArray(inodes));
    std::map<InodeId, std::pair<InodeId, std::string>> first;
    std::vector<InodeId> parents;
    for (const auto& row : names) {
      const InodeId parent = row[1].as<int64_t>();
      first[row[0].as<int64_t>()] = {parent, row[2].as<std::string>()};
      parents.push_back(parent);
    }
    std::sort(parents.begin(), parents.end());
    parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
    std::map<InodeId, WayUp> above;  // of each parent
    for (InodeId p : parents) above[p];
    if (!parents.empty()) {
      pqxx::result r = tx.Exec(kWaysUp, PgArray(parents));
      for (const auto& row : r) {
        above[row[0].as<int64_t>()].steps.push_back(
            PathStep{row[1].as<std::string>(), ParseAttr(row, 2)});
      }
    }
    std::map<InodeId, Attr> parent_attr;
    if (!parents.empty()) {
      pqxx::result r = tx.Exec(kParentAttrs, PgArray(parents));
      for (const auto& row : r) parent_attr.emplace(row[0].as<int64_t>(), ParseAttr(row, 0));
    }
    if (cache != nullptr) {
      for (const auto& [inode, name] : first) {
        cache->HintName(inode, name.first, name.second);
        cache->FillEntry(epoch, name.first, name.second, inode);
      }
      for (const auto& [id, a] : parent_attr) cache->FillInode(epoch, a);
      for (const auto& [below, way] : above) {
        InodeId node = below;  // step k names `node` in steps[k].parent
        for (const PathStep& step : way.steps) {
          cache->HintName(node, step.parent.inode, step.name);
          cache->FillEntry(epoch, step.parent.inode, step.name, node);
          cache->FillInode(epoch, step.parent);
          node = step.parent.inode;
        }
      }
    }
    std::map<InodeId, WayUp> out;
    for (InodeId id : inodes) {
      WayUp& way = out[id];
      auto f = first.find(id);
      auto pa = f == first.end() ? parent_attr.end() : parent_attr.find(f->second.first);
      if (f == first.end() || pa == parent_attr.end()) {
        way.named = id == kRootInode;
        continue;
      }
      way.steps.push_back(PathStep{f->second.second, pa->second});
      const WayUp& rest = above[f->second.first];
      way.steps.insert(way.steps.end(), rest.steps.begin(), rest.steps.end());
      way.named = way.steps.back().parent.inode == kRootInode;
    }
    return out;
  });
}

namespace {

// The way up of `inode` from the namespace cache alone, or nullopt when any
// step is not there. `folders` keeps the ways up of folders already walked.
std::optional<WayUp> WayUpCached(const MetaCache& cache, InodeId inode,
                                 std::map<InodeId, std::optional<WayUp>>* folders) {
  WayUp way;
  if (inode == kRootInode) {
    way.named = true;
    return way;
  }
  std::optional<std::pair<InodeId, std::string>> name = cache.OnlyName(inode);
  if (!name) return std::nullopt;
  std::optional<Attr> parent = cache.Inode(name->first);
  if (!parent) return std::nullopt;
  way.steps.push_back(PathStep{name->second, *parent});
  if (parent->inode == kRootInode) {
    way.named = true;
    return way;
  }
  auto known = folders->find(parent->inode);
  if (known == folders->end()) {
    // Marked first: a cycle (which the namespace cannot have) ends as a miss.
    (*folders)[parent->inode] = std::nullopt;
    std::optional<WayUp> up = WayUpCached(cache, parent->inode, folders);
    known = folders->insert_or_assign(parent->inode, std::move(up)).first;
  }
  if (!known->second || !known->second->named) return std::nullopt;
  way.steps.insert(way.steps.end(), known->second->steps.begin(), known->second->steps.end());
  way.named = true;
  return way;
}

bool SameWay(const WayUp& a, const WayUp& b) {
  if (a.named != b.named || a.steps.size() != b.steps.size()) return false;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    if (a.steps[i].name != b.steps[i].name || !SameAttr(a.steps[i].parent, b.steps[i].parent)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::map<InodeId, WayUp>> WaysUpOf(Tx& tx, const std::vector<InodeId>& inodes) {
  MetaCache* cache = tx.writer() ? nullptr : tx.cache();
  if (cache == nullptr) return WaysUpFromDb(tx, inodes);
  std::map<InodeId, WayUp> out;
  std::vector<InodeId> missed;
  std::map<InodeId, std::optional<WayUp>> folders;
  for (InodeId id : inodes) {
    std::optional<WayUp> way = WayUpCached(*cache, id, &folders);
    if (way) {
      out[id] = std::move(*way);
    } else {
      missed.push_back(id);
    }
  }
  if (!missed.empty()) {
    ASSIGN_OR_RETURN(auto read, WaysUpFromDb(tx, missed));
    for (auto& [id, way] : read) out[id] = std::move(way);
  }
  if (cache->verify() && missed.size() < inodes.size()) {
    // --meta-cache-verify: what came from memory must be what PostgreSQL
    // says. A commit between the two reads can tell them apart for a moment
    // (the cache learns a commit just after PostgreSQL made it visible), so
    // a difference must last through several reads to stop the process.
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(auto read, WaysUpFromDb(tx, inodes, /*learn=*/false));
      std::map<InodeId, std::optional<WayUp>> again;
      InodeId differs = 0;
      for (InodeId id : inodes) {
        std::optional<WayUp> way = WayUpCached(*cache, id, &again);
        if (way && !SameWay(*way, read[id])) differs = id;
      }
      if (differs == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (attempt == 20) {
        LOG(kError) << "namespace cache out of date for the way up of inode " << differs;
        std::abort();
      }
    }
  }
  return out;
}

}  // namespace ddbfs::meta::store
