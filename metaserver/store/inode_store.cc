#include "metaserver/store/inode_store.h"

#include <cstdlib>

#include "ddbfs/auth.h"
#include "ddbfs/log.h"
#include "metaserver/store/bulk_writer.h"
#include "metaserver/store/meta_cache.h"
#include "metaserver/store/row_util.h"
#include "metaserver/store/tag_index.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kGetInode{
    "ino_get", "SELECT " DDBFS_ATTR_COLUMNS("") " FROM ddbfs.inodes WHERE id = $1", false};

constexpr Statement kGetSymlink{
    "ino_get_symlink", "SELECT type, symlink_target FROM ddbfs.inodes WHERE id = $1", false};

constexpr Statement kLookupEntry{
    "ino_lookup_entry",
    "SELECT " DDBFS_ATTR_COLUMNS("p.") ", " DDBFS_ATTR_COLUMNS("i.") " FROM ddbfs.inodes p"
    " LEFT JOIN ddbfs.dentries d ON d.parent = p.id AND d.name = $2"
    " LEFT JOIN ddbfs.inodes i ON i.id = d.inode"
    " WHERE p.id = $1",
    false};

// One round trip for a whole path: walk the dentries component by component.
constexpr Statement kWalkPath{
    "ino_walk_path",
    "WITH RECURSIVE walk(depth, inode) AS ("
    "  SELECT 0, 1::bigint"
    "  UNION ALL"
    "  SELECT w.depth + 1, d.inode FROM walk w"
    "  JOIN ddbfs.dentries d ON d.parent = w.inode AND d.name = ($1::text[])[w.depth + 1]"
    "  WHERE w.depth < cardinality($1::text[]))"
    " SELECT " DDBFS_ATTR_COLUMNS("i.") " FROM walk w JOIN ddbfs.inodes i ON i.id = w.inode"
    " ORDER BY w.depth",
    false};

// The directory's own attributes and a page of entries with theirs.
constexpr Statement kListDir{
    "ino_list_dir",
    "SELECT " DDBFS_ATTR_COLUMNS("p.") ", e.name, " DDBFS_ATTR_COLUMNS("e.") " FROM ddbfs.inodes p"
    " LEFT JOIN LATERAL ("
    "   SELECT d.name, i.* FROM ddbfs.dentries d"
    "   JOIN ddbfs.inodes i ON i.id = d.inode"
    "   WHERE d.parent = p.id AND d.name > $2::text COLLATE \"C\""
    "   ORDER BY d.name LIMIT $3) e ON true"
    " WHERE p.id = $1 ORDER BY e.name",
    false};

constexpr Statement kCreateEntry{
    "ino_create_entry",
    "WITH ino AS ("
    "  INSERT INTO ddbfs.inodes (id, type, mode, uid, gid, size, atime_ns, mtime_ns, ctime_ns,"
    "                           nlink, goal, symlink_target, rdev, acl_access, acl_default)"
    "  VALUES (nextval('ddbfs.inode_ids'), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15,"
    "          decode($16, 'hex'), decode($17, 'hex'))"
    "  RETURNING *),"
    " ent AS (INSERT INTO ddbfs.dentries (parent, name, inode) SELECT $1, $2, id FROM ino),"
    " par AS (UPDATE ddbfs.inodes SET mtime_ns = $10, ctime_ns = $10, nlink = nlink + $14"
    "         WHERE id = $1 RETURNING *)"
    " SELECT " DDBFS_ATTR_COLUMNS("ino.") ", " DDBFS_ATTR_COLUMNS("par.") " FROM ino, par",
    true};

constexpr Statement kAddEntry{
    "ino_add_entry", "INSERT INTO ddbfs.dentries (parent, name, inode) VALUES ($1, $2, $3)", true};

constexpr Statement kRemoveEntry{
    "ino_remove_entry", "DELETE FROM ddbfs.dentries WHERE parent = $1 AND name = $2", true};

constexpr Statement kPointEntry{
    "ino_point_entry", "UPDATE ddbfs.dentries SET inode = $3 WHERE parent = $1 AND name = $2",
    true};

constexpr Statement kMoveEntry{
    "ino_move_entry",
    "UPDATE ddbfs.dentries SET parent = $3, name = $4 WHERE parent = $1 AND name = $2"
    " RETURNING inode",
    true};

constexpr Statement kTouchDir{
    "ino_touch_dir",
    "UPDATE ddbfs.inodes SET mtime_ns = $3, ctime_ns = $3, nlink = nlink + $2 WHERE id = $1"
    " RETURNING " DDBFS_ATTR_COLUMNS(""),
    true};

constexpr Statement kChangeNlink{
    "ino_change_nlink",
    "UPDATE ddbfs.inodes SET nlink = nlink + $2, ctime_ns = $3 WHERE id = $1"
    " RETURNING " DDBFS_ATTR_COLUMNS(""),
    true};

// An access ACL with the mode it implies, or a default ACL; $2 NULL
// removes it (docs/metadata.md, "POSIX ACLs").
constexpr Statement kSetAccessAcl{
    "ino_set_access_acl",
    "UPDATE ddbfs.inodes SET acl_access = decode($2, 'hex'), mode = $3, ctime_ns = $4"
    " WHERE id = $1 RETURNING " DDBFS_ATTR_COLUMNS(""),
    true};

constexpr Statement kSetDefaultAcl{
    "ino_set_default_acl",
    "UPDATE ddbfs.inodes SET acl_default = decode($2, 'hex'), ctime_ns = $3"
    " WHERE id = $1 RETURNING " DDBFS_ATTR_COLUMNS(""),
    true};

constexpr Statement kTouchCtime{
    "ino_touch_ctime",
    "UPDATE ddbfs.inodes SET ctime_ns = $2 WHERE id = $1 RETURNING " DDBFS_ATTR_COLUMNS(""), true};

constexpr Statement kGetInodes{
    "ino_get_many",
    "SELECT " DDBFS_ATTR_COLUMNS("") " FROM ddbfs.inodes WHERE id = ANY($1::bigint[])", false};

constexpr Statement kUpdateAtimes{
    "ino_update_atimes",
    "UPDATE ddbfs.inodes i SET atime_ns = u.t"
    " FROM unnest($1::bigint[], $2::bigint[]) AS u(id, t)"
    " WHERE i.id = u.id AND i.atime_ns < u.t AND ($3::bigint <= 0"
    " OR i.atime_ns <= i.mtime_ns OR i.atime_ns <= i.ctime_ns OR i.atime_ns <= u.t - $3::bigint)",
    true};

constexpr Statement kHasEntries{
    "ino_has_entries", "SELECT EXISTS (SELECT 1 FROM ddbfs.dentries WHERE parent = $1)", false};

// Walks up from $1 through directory entries; UNION stops on a cycle.
constexpr Statement kIsInSubtree{
    "ino_is_in_subtree",
    "WITH RECURSIVE up(id) AS ("
    "  SELECT $1::bigint"
    "  UNION"
    "  SELECT d.parent FROM up JOIN ddbfs.dentries d ON d.inode = up.id)"
    " SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
    false};

// The same for many inodes at once: those of $1 with no way up to $2 (at
// most $3 of them).
constexpr Statement kNotInSubtree{
    "ino_not_in_subtree",
    "WITH RECURSIVE up(start, id) AS ("
    "  SELECT x, x FROM unnest($1::bigint[]) AS x"
    "  UNION"
    "  SELECT up.start, d.parent FROM up JOIN ddbfs.dentries d ON d.inode = up.id"
    "  WHERE up.id <> $2)"
    " SELECT x FROM unnest($1::bigint[]) AS x EXCEPT SELECT start FROM up WHERE id = $2"
    " ORDER BY 1 LIMIT $3",
    false};

// The index of tags adds up the sizes of documents (TagIndex::SizeIs).
void FollowSize(Tx& tx, const Attr& a) {
  TagIndex* index = tx.tag_index();
  if (index == nullptr || a.type != FileType::kRegular) return;
  const InodeId inode = a.inode;
  const uint64_t size = a.size;
  tx.AfterCommit([index, inode, size] { index->SizeIs(inode, size); });
}

// The chunks' replicas are queued for deletion, held for the retention
// (docs/backup.md) when the chunk was written. Every part of the statement
// sees the chunks as they were before it.
constexpr Statement kDeleteInode{
    "ino_delete",
    "WITH gone AS (DELETE FROM ddbfs.replicas"
    "              WHERE chunk_id IN (SELECT id FROM ddbfs.chunks WHERE inode = $1)"
    "              RETURNING server_id, chunk_id),"
    " gc AS (INSERT INTO ddbfs.gc_queue (server_id, chunk_id, held, bytes)"
    "        SELECT g.server_id, g.chunk_id, c.version > 0, c.length"
    "        FROM gone g JOIN ddbfs.chunks c ON c.id = g.chunk_id ON CONFLICT DO NOTHING),"
    " ch AS (DELETE FROM ddbfs.chunks WHERE inode = $1)"
    " DELETE FROM ddbfs.inodes WHERE id = $1",
    true};

constexpr Statement kUpdateAttr{
    "ino_update_attr",
    "UPDATE ddbfs.inodes SET mode = COALESCE($2::integer, mode), uid = COALESCE($3::bigint, uid),"
    " gid = COALESCE($4::bigint, gid), size = COALESCE($5::bigint, size),"
    " atime_ns = COALESCE($6::bigint, atime_ns), mtime_ns = COALESCE($7::bigint, mtime_ns),"
    " goal = COALESCE($8::smallint, goal), ctime_ns = $9"
    " WHERE id = $1 RETURNING " DDBFS_ATTR_COLUMNS(""),
    true};

constexpr Statement kSetSizeAndTimes{
    "ino_set_size_times",
    "UPDATE ddbfs.inodes SET size = $2, mtime_ns = $3, ctime_ns = $4,"
    " sha256 = decode($5::text, 'hex') WHERE id = $1"
    " RETURNING " DDBFS_ATTR_COLUMNS(""),
    true};

// The namespace cache (store/meta_cache.h). What the transaction itself
// changed counts first: a row it changed to something unknown is read again.
std::optional<Attr> CachedInode(Tx& tx, InodeId inode) {
  if (tx.cache() == nullptr) return std::nullopt;
  const auto& changed = tx.changes().inodes;
  if (auto it = changed.find(inode); it != changed.end()) return it->second;
  return tx.cache()->Inode(inode);
}

std::optional<InodeId> CachedEntry(Tx& tx, InodeId parent, const std::string& name) {
  if (tx.cache() == nullptr) return std::nullopt;
  const auto& changed = tx.changes().entries;
  if (auto it = changed.find(std::make_pair(parent, name)); it != changed.end()) return it->second;
  return tx.cache()->Entry(parent, name);
}

// LookupEntry from memory: nullopt unless the directory, the name and the
// inode it names are all known (inode_of, entry_of: as CachedInode and
// CachedEntry).
template <typename InodeOf, typename EntryOf>
std::optional<EntryLookup> LookupFrom(InodeId parent, const std::string& name, InodeOf inode_of,
                                      EntryOf entry_of) {
  std::optional<Attr> dir = inode_of(parent);
  if (!dir || dir->type != FileType::kDirectory) return std::nullopt;
  std::optional<InodeId> named = entry_of(parent, name);
  if (!named) return std::nullopt;
  EntryLookup out;
  out.parent_exists = true;
  out.parent = *dir;
  out.parent_type = dir->type;
  out.parent_goal = dir->goal;
  if (*named != 0) {
    out.entry = inode_of(*named);
    if (!out.entry) return std::nullopt;
  }
  return out;
}

std::optional<EntryLookup> CachedLookup(Tx& tx, InodeId parent, const std::string& name) {
  return LookupFrom(
      parent, name, [&](InodeId i) { return CachedInode(tx, i); },
      [&](InodeId p, const std::string& n) { return CachedEntry(tx, p, n); });
}

// What a read from PostgreSQL found: a row this transaction changed is now
// known again; any other goes into the cache (unless a commit moved the
// epoch since `epoch`).
void Learn(Tx& tx, uint64_t epoch, const Attr& a) {
  if (tx.changes().inodes.count(a.inode) != 0) {
    tx.Changed(a);
  } else {
    tx.cache()->FillInode(epoch, a);
  }
}

void LearnEntry(Tx& tx, uint64_t epoch, InodeId parent, const std::string& name, InodeId inode) {
  if (tx.changes().entries.count(std::make_pair(parent, name)) != 0) {
    tx.ChangedEntry(parent, name, inode);
  } else {
    tx.cache()->FillEntry(epoch, parent, name, inode);
  }
}

// --meta-cache-verify: a hit of the writer was read from PostgreSQL too.
// Only the writer's view is exact (a read-pool read may see a commit the
// cache learns a moment later), so only the writer's hits are compared.
void CheckHit(Tx& tx, const std::optional<Attr>& cached, const std::optional<Attr>& read,
              const std::string& what) {
  if (!tx.writer()) return;
  const bool same =
      cached.has_value() == read.has_value() && (!cached.has_value() || SameAttr(*cached, *read));
  if (same) return;
  auto show = [](const std::optional<Attr>& a) {
    if (!a) return std::string("none");
    return "inode " + std::to_string(a->inode) + " size " + std::to_string(a->size) + " nlink " +
           std::to_string(a->nlink) + " mtime " + std::to_string(a->mtime_ns) + " ctime " +
           std::to_string(a->ctime_ns) + " atime " + std::to_string(a->atime_ns) + " mode " +
           std::to_string(a->mode) + " allocated " + std::to_string(a->allocated) + " xattrs " +
           std::to_string(a->has_xattrs) + " goal " + std::to_string(a->goal);
  };
  LOG(kError) << "namespace cache out of date for " << what << ": cached " << show(cached)
              << ", database " << show(read);
  std::abort();
}

}  // namespace

std::optional<Attr> GetInodeCached(MetaCache* cache, InodeId inode) {
  if (cache == nullptr) return std::nullopt;
  std::optional<Attr> a = cache->Inode(inode);
  if (a) cache->CountHit();
  return a;
}

std::optional<EntryLookup> LookupEntryCached(MetaCache* cache, InodeId parent,
                                             const std::string& name) {
  if (cache == nullptr) return std::nullopt;
  std::optional<EntryLookup> out = LookupFrom(
      parent, name, [&](InodeId i) { return cache->Inode(i); },
      [&](InodeId p, const std::string& n) { return cache->Entry(p, n); });
  if (out) cache->CountHit();
  return out;
}

Result<std::optional<Attr>> GetInode(Tx& tx, InodeId inode) {
  MetaCache* cache = tx.cache();
  std::optional<Attr> hit = CachedInode(tx, inode);
  if (hit) cache->CountHit();
  // --meta-cache-verify checks the writer's hits against the database.
  if (hit && (!cache->verify() || !tx.writer())) return hit;
  const uint64_t epoch = cache != nullptr ? cache->epoch() : 0;
  return Guard(tx, [&]() -> Result<std::optional<Attr>> {
    pqxx::result r = tx.Exec(kGetInode, inode);
    std::optional<Attr> out;
    if (!r.empty()) out = ParseAttr(r[0], 0);
    if (hit) {
      CheckHit(tx, hit, out, "inode " + std::to_string(inode));
    } else if (cache != nullptr) {
      cache->CountMiss();
      if (out) Learn(tx, epoch, *out);
    }
    return out;
  });
}

Result<SymlinkRecord> GetSymlink(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<SymlinkRecord> {
    pqxx::result r = tx.Exec(kGetSymlink, inode);
    if (r.empty()) return NotFound("no inode " + std::to_string(inode));
    SymlinkRecord out;
    out.type = static_cast<FileType>(r[0][0].as<int>());
    if (!r[0][1].is_null()) out.target = r[0][1].as<std::string>();
    return out;
  });
}

Result<EntryLookup> LookupEntry(Tx& tx, InodeId parent, const std::string& name) {
  MetaCache* cache = tx.cache();
  std::optional<EntryLookup> hit = CachedLookup(tx, parent, name);
  if (hit) cache->CountHit();
  if (hit && (!cache->verify() || !tx.writer())) return *hit;
  const uint64_t epoch = cache != nullptr ? cache->epoch() : 0;
  return Guard(tx, [&]() -> Result<EntryLookup> {
    pqxx::result r = tx.Exec(kLookupEntry, parent, name);
    EntryLookup out;
    if (!r.empty()) {
      out.parent_exists = true;
      out.parent = ParseAttr(r[0], 0);
      out.parent_type = out.parent.type;
      out.parent_goal = out.parent.goal;
      if (!r[0][kAttrColumnCount].is_null()) out.entry = ParseAttr(r[0], kAttrColumnCount);
    }
    if (hit) {
      CheckHit(tx, hit->parent, out.parent, "directory " + std::to_string(parent));
      CheckHit(tx, hit->entry, out.entry, "entry '" + name + "' of " + std::to_string(parent));
    } else if (cache != nullptr) {
      cache->CountMiss();
      if (out.parent_exists && out.parent_type == FileType::kDirectory) {
        Learn(tx, epoch, out.parent);
        LearnEntry(tx, epoch, parent, name, out.entry ? out.entry->inode : 0);
        if (out.entry) Learn(tx, epoch, *out.entry);
      }
    }
    return out;
  });
}

Result<std::vector<Attr>> WalkPath(Tx& tx, const std::vector<std::string>& components) {
  return Guard(tx, [&]() -> Result<std::vector<Attr>> {
    pqxx::result r = tx.Exec(kWalkPath, PgTextArray(components));
    std::vector<Attr> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(ParseAttr(row, 0));
    return out;
  });
}

Result<DirListing> ListDir(Tx& tx, InodeId dir, const std::string& after, int limit) {
  return Guard(tx, [&]() -> Result<DirListing> {
    pqxx::result r = tx.Exec(kListDir, dir, after, limit);
    DirListing out;
    if (r.empty()) return out;
    out.exists = true;
    out.dir = ParseAttr(r[0], 0);
    out.type = out.dir.type;
    out.entries.reserve(r.size());
    constexpr int kName = kAttrColumnCount;
    for (const auto& row : r) {
      if (row[kName].is_null()) continue;  // a directory without (more) entries
      out.entries.push_back(DirEntry{row[kName].as<std::string>(), ParseAttr(row, kName + 1)});
    }
    return out;
  });
}

Result<Attr> CreateEntry(Tx& tx, InodeId parent, const std::string& name, const NewInode& n,
                         int parent_nlink_delta) {
  return Guard(tx, [&]() -> Result<Attr> {
    const char* target = n.symlink_target ? n.symlink_target->c_str() : nullptr;
    const std::string access_hex = ToHex(n.acl_access);
    const std::string default_hex = ToHex(n.acl_default);
    pqxx::result r =
        tx.Exec(kCreateEntry, parent, name, static_cast<int>(n.type), static_cast<int64_t>(n.mode),
                static_cast<int64_t>(n.uid), static_cast<int64_t>(n.gid),
                static_cast<int64_t>(n.size), n.atime_ns, n.mtime_ns, n.ctime_ns,
                static_cast<int64_t>(n.nlink), n.goal, target, parent_nlink_delta,
                static_cast<int64_t>(n.rdev), n.acl_access.empty() ? nullptr : access_hex.c_str(),
                n.acl_default.empty() ? nullptr : default_hex.c_str());
    Attr a = ParseAttr(r.at(0), 0);
    tx.Changed(a);
    tx.Changed(ParseAttr(r.at(0), kAttrColumnCount));
    tx.ChangedEntry(parent, name, a.inode);
    if (a.type == FileType::kDirectory) tx.CreatedDir(a.inode);
    return a;
  });
}

Result<Attr> SetAccessAcl(Tx& tx, InodeId inode, const std::string& acl, uint32_t mode,
                          int64_t ctime_ns) {
  return Guard(tx, [&]() -> Result<Attr> {
    const std::string hex = ToHex(acl);
    pqxx::result r = tx.Exec(kSetAccessAcl, inode, acl.empty() ? nullptr : hex.c_str(),
                             static_cast<int64_t>(mode), ctime_ns);
    if (r.empty()) return NotFound("no inode " + std::to_string(inode));
    Attr a = ParseAttr(r[0], 0);
    tx.Changed(a);
    return a;
  });
}

Result<Attr> SetDefaultAcl(Tx& tx, InodeId inode, const std::string& acl, int64_t ctime_ns) {
  return Guard(tx, [&]() -> Result<Attr> {
    const std::string hex = ToHex(acl);
    pqxx::result r = tx.Exec(kSetDefaultAcl, inode, acl.empty() ? nullptr : hex.c_str(), ctime_ns);
    if (r.empty()) return NotFound("no inode " + std::to_string(inode));
    Attr a = ParseAttr(r[0], 0);
    tx.Changed(a);
    return a;
  });
}

Status AddEntry(Tx& tx, InodeId parent, const std::string& name, InodeId inode) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kAddEntry, parent, name, inode);
    tx.ChangedEntry(parent, name, inode);
    return Status();
  });
}

Status RemoveEntry(Tx& tx, InodeId parent, const std::string& name) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kRemoveEntry, parent, name);
    tx.ChangedEntry(parent, name, 0);
    return Status();
  });
}

Status PointEntry(Tx& tx, InodeId parent, const std::string& name, InodeId inode) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kPointEntry, parent, name, inode);
    tx.ChangedEntry(parent, name, inode);
    return Status();
  });
}

Status MoveEntry(Tx& tx, InodeId parent, const std::string& name, InodeId new_parent,
                 const std::string& new_name) {
  return Guard(tx, [&]() -> Status {
    pqxx::result r = tx.Exec(kMoveEntry, parent, name, new_parent, new_name);
    tx.ChangedEntry(parent, name, 0);
    tx.ChangedEntry(new_parent, new_name,
                    r.empty() ? std::nullopt : std::optional<InodeId>(r[0][0].as<int64_t>()));
    return Status();
  });
}

Status TouchDir(Tx& tx, InodeId dir, int nlink_delta, int64_t now_ns) {
  return Guard(tx, [&]() -> Status {
    pqxx::result r = tx.Exec(kTouchDir, dir, nlink_delta, now_ns);
    if (r.empty()) {
      tx.ChangedInode(dir);
    } else {
      tx.Changed(ParseAttr(r[0], 0));
    }
    return Status();
  });
}

Result<Attr> ChangeNlink(Tx& tx, InodeId inode, int delta, int64_t now_ns) {
  return Guard(tx, [&]() -> Result<Attr> {
    pqxx::result r = tx.Exec(kChangeNlink, inode, delta, now_ns);
    Attr a = ParseAttr(r.at(0), 0);
    tx.Changed(a);
    return a;
  });
}

Status TouchCtime(Tx& tx, InodeId inode, int64_t now_ns) {
  return Guard(tx, [&]() -> Status {
    pqxx::result r = tx.Exec(kTouchCtime, inode, now_ns);
    if (r.empty()) {
      tx.ChangedInode(inode);
    } else {
      tx.Changed(ParseAttr(r[0], 0));
    }
    return Status();
  });
}

Result<std::vector<Attr>> GetInodes(Tx& tx, const std::vector<InodeId>& ids) {
  MetaCache* cache = tx.cache();
  std::vector<Attr> out;
  std::vector<InodeId> missed;
  // The writer under --meta-cache-verify reads them all from the database.
  const bool use_cache = cache != nullptr && !(cache->verify() && tx.writer());
  if (use_cache) {
    for (InodeId id : ids) {
      if (std::optional<Attr> a = CachedInode(tx, id)) {
        out.push_back(*a);
      } else {
        missed.push_back(id);
      }
    }
    if (missed.empty()) return out;
  }
  const uint64_t epoch = cache != nullptr ? cache->epoch() : 0;
  return Guard(tx, [&]() -> Result<std::vector<Attr>> {
    pqxx::result r = tx.Exec(kGetInodes, PgArray(use_cache ? missed : ids));
    out.reserve(out.size() + r.size());
    for (const auto& row : r) {
      out.push_back(ParseAttr(row, 0));
      if (cache != nullptr) Learn(tx, epoch, out.back());
    }
    return out;
  });
}

Result<int> UpdateAtimes(Tx& tx, const std::vector<InodeId>& ids, const std::vector<int64_t>& times,
                         int64_t window_ns) {
  return Guard(tx, [&]() -> Result<int> {
    const int changed = static_cast<int>(
        tx.Exec(kUpdateAtimes, PgArray(ids), PgArray(times), window_ns).affected_rows());
    for (InodeId id : ids) tx.ChangedInode(id);
    return changed;
  });
}

Result<bool> HasEntries(Tx& tx, InodeId dir) {
  return Guard(tx, [&]() -> Result<bool> { return tx.Exec(kHasEntries, dir).at(0)[0].as<bool>(); });
}

Result<bool> IsInSubtree(Tx& tx, InodeId dir, InodeId root) {
  return Guard(
      tx, [&]() -> Result<bool> { return tx.Exec(kIsInSubtree, dir, root).at(0)[0].as<bool>(); });
}

Result<std::vector<InodeId>> NotInSubtree(Tx& tx, const std::vector<InodeId>& inodes, InodeId root,
                                          int limit) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    pqxx::result r = tx.Exec(kNotInSubtree, PgArray(inodes), root, limit);
    std::vector<InodeId> out;
    for (const auto& row : r) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

Status DeleteInode(Tx& tx, InodeId inode) {
  RETURN_IF_ERROR(DeferToBulk(tx, inode));  // its tags go with it
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDeleteInode, inode);
    tx.ChangedInode(inode);
    if (TagIndex* index = tx.tag_index()) {
      tx.AfterCommit([index, inode] { index->DocumentGone(inode); });
    }
    return Status();
  });
}

Result<Attr> UpdateAttr(Tx& tx, InodeId inode, const AttrChanges& c, int64_t ctime_ns) {
  return Guard(tx, [&]() -> Result<Attr> {
    std::string mode, uid, gid, size, atime, mtime, goal;
    std::optional<uint64_t> size_value = c.size;
    pqxx::result r =
        tx.Exec(kUpdateAttr, inode, OptionalParam(c.mode, &mode), OptionalParam(c.uid, &uid),
                OptionalParam(c.gid, &gid), OptionalParam(size_value, &size),
                OptionalParam(c.atime_ns, &atime), OptionalParam(c.mtime_ns, &mtime),
                OptionalParam(c.goal, &goal), ctime_ns);
    Attr a = ParseAttr(r.at(0), 0);
    tx.Changed(a);
    if (c.size) FollowSize(tx, a);
    return a;
  });
}

Result<Attr> SetSizeAndTimes(Tx& tx, InodeId inode, uint64_t size, int64_t mtime_ns,
                             int64_t ctime_ns, const std::optional<std::string>& sha256) {
  return Guard(tx, [&]() -> Result<Attr> {
    pqxx::result r = tx.Exec(kSetSizeAndTimes, inode, static_cast<int64_t>(size), mtime_ns,
                             ctime_ns, sha256 ? ToHex(*sha256).c_str() : nullptr);
    Attr a = ParseAttr(r.at(0), 0);
    tx.Changed(a);
    FollowSize(tx, a);
    return a;
  });
}

}  // namespace ddbfs::meta::store
