#include "metaserver/store/tag_store.h"

#include <cstdio>
#include <set>
#include <type_traits>

#include "metaserver/store/bulk_writer.h"
#include "metaserver/store/row_util.h"
#include "metaserver/store/tag_index.h"

namespace ddbfs::meta::store {

namespace {

// The name's row comes from the INSERT when it is new, else from the table
// (a data-modifying WITH does not see its own inserts).
// Puts several tags on one inode (names created when new) in one statement
// (a create with its tags: one round trip, not one per tag).
constexpr Statement kAddTags{
    "tag_add_several",
    "WITH n AS (SELECT normalize(x.name, NFC) AS name, x.has_value, normalize(x.value, NFC) AS "
    "value,"
    "  x.num, x.ns FROM unnest($2::text[], $3::boolean[], $4::text[], $5::float8[], $6::bigint[])"
    "  AS x(name, has_value, value, num, ns)),"
    " names AS (SELECT DISTINCT name FROM n),"
    " ins AS (INSERT INTO ddbfs.tags (name, created_ns) SELECT name, $7 FROM names"
    "  ON CONFLICT (name) DO NOTHING RETURNING id, name),"
    " g AS (SELECT id, name FROM ins"
    "  UNION ALL SELECT t.id, t.name FROM ddbfs.tags t JOIN names ON t.name = names.name),"
    " added AS (INSERT INTO ddbfs.doc_tags (inode, tag_id, has_value, value, value_num, value_ns)"
    "  SELECT $1, g.id, n.has_value, n.value, n.num, n.ns FROM n JOIN g ON g.name = n.name"
    "  ON CONFLICT DO NOTHING RETURNING inode, tag_id, has_value, value, value_num, value_ns)"
    " SELECT a.inode, a.tag_id, a.has_value, a.value, a.value_num, a.value_ns, g.name"
    " FROM added a JOIN g ON g.id = a.tag_id",
    true};

// One tag on many inodes at once; returns the inodes that got the tag.
constexpr Statement kAddTagMany{
    "tag_add_many",
    "WITH n AS (SELECT normalize($2::text, NFC) AS name),"
    " ins AS (INSERT INTO ddbfs.tags (name, created_ns) SELECT name, $7 FROM n"
    "  ON CONFLICT (name) DO NOTHING RETURNING id),"
    " g AS (SELECT id FROM ins UNION ALL SELECT t.id FROM ddbfs.tags t, n WHERE t.name = n.name)"
    " , added AS (INSERT INTO ddbfs.doc_tags (inode, tag_id, has_value, value, value_num, value_ns)"
    "  SELECT x.inode, g.id, $3, normalize($4::text, NFC), $5::float8, $6::bigint"
    "  FROM g, unnest($1::bigint[]) AS x(inode)"
    "  ON CONFLICT DO NOTHING RETURNING inode, tag_id, has_value, value, value_num, value_ns)"
    " SELECT a.inode, a.tag_id, a.has_value, a.value, a.value_num, a.value_ns, n.name"
    " FROM added a, n",
    true};

constexpr Statement kRemoveTagMany{
    "tag_remove_many",
    "DELETE FROM ddbfs.doc_tags d USING ddbfs.tags t"
    " WHERE d.inode = ANY($1::bigint[]) AND d.tag_id = t.id AND t.name = normalize($2::text, NFC)"
    " AND (NOT $3::boolean OR (d.has_value AND d.value = normalize($4::text, NFC)))"
    " RETURNING d.inode, d.tag_id, d.has_value, d.value",
    true};

constexpr Statement kOverTagLimit{"tag_over_limit",
                                  "SELECT inode FROM ddbfs.doc_tags WHERE inode = ANY($1::bigint[])"
                                  " GROUP BY inode HAVING count(*) > $2 ORDER BY inode",
                                  false};

constexpr Statement kTagId{
    "tag_id", "SELECT id FROM ddbfs.tags WHERE name = normalize($1::text, NFC)", false};
constexpr Statement kCreateTagName{
    "tag_create",
    "INSERT INTO ddbfs.tags (name, created_ns) VALUES (normalize($1::text, NFC), $2)"
    " ON CONFLICT (name) DO NOTHING RETURNING id, name",
    true};
constexpr Statement kRenameTagName{
    "tag_rename",
    "UPDATE ddbfs.tags SET name = normalize($2::text, NFC) WHERE id = $1 RETURNING name", true};
constexpr Statement kTagNames{
    "tag_names", "SELECT name FROM ddbfs.tags ORDER BY name OFFSET $1 LIMIT $2", false};
constexpr Statement kMergeDocTags{
    "tag_merge_docs",
    "INSERT INTO ddbfs.doc_tags (inode, tag_id, has_value, value, value_num, value_ns)"
    " SELECT inode, $2, has_value, value, value_num, value_ns FROM ddbfs.doc_tags"
    " WHERE tag_id = $1 ON CONFLICT DO NOTHING",
    true};
constexpr Statement kMergeRules{"tag_merge_rules",
                                "INSERT INTO ddbfs.tag_implies (tag_id, implied_id)"
                                " SELECT CASE WHEN tag_id = $1 THEN $2 ELSE tag_id END,"
                                "        CASE WHEN implied_id = $1 THEN $2 ELSE implied_id END"
                                " FROM ddbfs.tag_implies WHERE (tag_id = $1 OR implied_id = $1)"
                                "  AND tag_id <> $2 AND implied_id <> $2"
                                " ON CONFLICT DO NOTHING",
                                true};
constexpr Statement kDocumentsOfTag{
    "tag_documents", "SELECT count(DISTINCT inode) FROM ddbfs.doc_tags WHERE tag_id = $1", false};
constexpr Statement kDeleteTagName{"tag_delete", "DELETE FROM ddbfs.tags WHERE id = $1", true};
constexpr Statement kTagInUse{
    "tag_in_use",
    "SELECT EXISTS (SELECT 1 FROM ddbfs.doc_tags WHERE tag_id = $1)"
    " OR EXISTS (SELECT 1 FROM ddbfs.tag_implies WHERE tag_id = $1 OR implied_id = $1)",
    false};
// The depth bound keeps a corrupt rule set from recursing for ever.
constexpr Statement kImplies{
    "tag_implies_path",
    "WITH RECURSIVE r(id, depth) AS (SELECT implied_id, 1 FROM ddbfs.tag_implies WHERE tag_id = $1"
    " UNION SELECT t.implied_id, r.depth + 1 FROM r JOIN ddbfs.tag_implies t ON t.tag_id = r.id"
    "  WHERE r.depth < 10000)"
    " SELECT EXISTS (SELECT 1 FROM r WHERE id = $2)",
    false};
constexpr Statement kAddImplication{
    "tag_imply", "INSERT INTO ddbfs.tag_implies VALUES ($1, $2) ON CONFLICT DO NOTHING", true};
constexpr Statement kRemoveImplication{
    "tag_unimply", "DELETE FROM ddbfs.tag_implies WHERE tag_id = $1 AND implied_id = $2", true};
constexpr Statement kImplicationCycle{
    "tag_imply_cycle",
    "WITH RECURSIVE r(start, id, depth) AS (SELECT tag_id, implied_id, 1 FROM ddbfs.tag_implies"
    " UNION SELECT r.start, t.implied_id, r.depth + 1 FROM r"
    "  JOIN ddbfs.tag_implies t ON t.tag_id = r.id WHERE r.depth < 10000)"
    " SELECT EXISTS (SELECT 1 FROM r WHERE start = id)",
    false};
constexpr Statement kListRules{"tag_rules",
                               "SELECT a.name, b.name FROM ddbfs.tag_implies r"
                               " JOIN ddbfs.tags a ON a.id = r.tag_id"
                               " JOIN ddbfs.tags b ON b.id = r.implied_id ORDER BY a.name, b.name",
                               false};
constexpr Statement kAnyRules{"tag_any_rules", "SELECT EXISTS (SELECT 1 FROM ddbfs.tag_implies)",
                              false};

constexpr Statement kRemoveTag{
    "tag_remove",
    "DELETE FROM ddbfs.doc_tags d USING ddbfs.tags t"
    " WHERE d.inode = $1 AND d.tag_id = t.id AND t.name = normalize($2::text, NFC)"
    " AND (NOT $3::boolean OR (d.has_value AND d.value = normalize($4::text, NFC)))"
    " RETURNING d.inode, d.tag_id, d.has_value, d.value",
    true};

constexpr Statement kGetTags{"tag_get",
                             "SELECT t.name, d.has_value, d.value FROM ddbfs.doc_tags d"
                             " JOIN ddbfs.tags t ON t.id = d.tag_id WHERE d.inode = $1"
                             " ORDER BY t.name, d.has_value, d.value",
                             false};

constexpr Statement kCountTags{"tag_count", "SELECT count(*) FROM ddbfs.doc_tags WHERE inode = $1",
                               false};

constexpr Statement kGetSavedQuery{
    "sq_get", "SELECT name, expr, owner_uid FROM ddbfs.saved_queries WHERE name = $1", false};
constexpr Statement kPutSavedQuery{
    "sq_put",
    "INSERT INTO ddbfs.saved_queries (name, expr, owner_uid, created_ns) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (name) DO UPDATE SET expr = EXCLUDED.expr",
    true};
constexpr Statement kDeleteSavedQuery{"sq_delete",
                                      "DELETE FROM ddbfs.saved_queries WHERE name = $1", true};
constexpr Statement kListSavedQueries{
    "sq_list", "SELECT name, expr, owner_uid FROM ddbfs.saved_queries ORDER BY name", false};

SavedQuery SavedQueryOf(const pqxx::row& row) {
  return SavedQuery{row[0].as<std::string>(), row[1].as<std::string>(),
                    static_cast<uint32_t>(row[2].as<int64_t>())};
}

// The rows a statement returned (inode, tag_id, has_value, value and, when
// `typed`, value_num, value_ns, the tag's name), for the index of tags.
std::vector<TagIndex::Row> IndexRows(const pqxx::result& r, bool typed) {
  std::vector<TagIndex::Row> rows;
  rows.reserve(r.size());
  for (const auto& row : r) {
    TagIndex::Row x;
    x.inode = row[0].as<int64_t>();
    x.tag = row[1].as<int64_t>();
    x.has_value = row[2].as<bool>();
    x.value = row[3].as<std::string>();
    if (typed && !row[4].is_null()) x.num = row[4].as<double>();
    if (typed && !row[5].is_null()) x.ns = row[5].as<int64_t>();
    if (typed) x.name = row[6].as<std::string>();
    rows.push_back(std::move(x));
  }
  return rows;
}

// Tells the index, after the commit, what `r` added or removed.
void Follow(Tx& tx, const pqxx::result& r, bool added) {
  TagIndex* index = tx.tag_index();
  if (index == nullptr || r.empty()) return;
  auto rows = std::make_shared<std::vector<TagIndex::Row>>(IndexRows(r, added));
  tx.AfterCommit([index, rows, added] {
    if (added) {
      index->Added(*rows);
    } else {
      index->Removed(*rows);
    }
  });
}

// A change the index does not follow row by row: it loads everything again.
void Reload(Tx& tx) {
  if (TagIndex* index = tx.tag_index()) tx.AfterCommit([index] { index->Invalidate(); });
}

// A condition that `caller` may search directory `a` (permissions.cc's
// CheckAccess for kMayExec on a directory), with placeholders `u` (uid) and
// `g` (bigint[] of the caller's groups).
std::string Searchable(const std::string& a, const std::string& u, const std::string& g) {
  return "(" + u + "::bigint = 0 OR CASE WHEN " + a + ".uid = " + u + "::bigint THEN (" + a +
         ".mode & 64) <> 0 WHEN " + a + ".gid = ANY(" + g + "::bigint[]) THEN (" + a +
         ".mode & 8) <> 0 ELSE (" + a + ".mode & 1) <> 0 END)";
}

}  // namespace

Result<std::vector<TagCountRow>> CountTagsBy(Tx& tx, const TagCountSpec& spec) {
  return Guard(tx, [&]() -> Result<std::vector<TagCountRow>> {
    std::vector<std::string> params = spec.params;
    auto param = [&](std::string v) {
      params.push_back(std::move(v));
      return "$" + std::to_string(params.size());
    };
    const std::string where = spec.where.empty() ? "true" : "(" + spec.where + ")";
    std::vector<std::string> with;
    std::string reach;
    if (spec.reach_as) {
      std::vector<int64_t> groups{spec.reach_as->gid};
      for (uint32_t g : spec.reach_as->groups) groups.push_back(g);
      const std::string u = param(std::to_string(spec.reach_as->uid));
      const std::string g = param(PgArray(groups));
      const std::string c = param(std::to_string(spec.confine));
      // Directories the caller can enter from `confine` down, then what is
      // named in them (and `confine` itself).
      with.push_back("reach(id) AS (SELECT i.id FROM ddbfs.inodes i WHERE i.id = " + c +
                     "::bigint AND " + Searchable("i", u, g) +
                     " UNION SELECT c.id FROM reach r JOIN ddbfs.dentries e ON e.parent = r.id"
                     " JOIN ddbfs.inodes c ON c.id = e.inode WHERE c.type = 2 AND " +
                     Searchable("c", u, g) + ")");
      with.push_back(
          "seen(id) AS (SELECT e.inode FROM ddbfs.dentries e JOIN reach r"
          " ON r.id = e.parent UNION SELECT " +
          c + "::bigint)");
      reach = " AND i.id IN (SELECT id FROM seen)";
    }
    std::string sql;
    if (spec.name) {
      const std::string n = param(*spec.name);
      sql =
          "SELECT d.value, count(*), coalesce(sum(i.size) FILTER (WHERE i.type = 1), 0)"
          " FROM ddbfs.doc_tags d JOIN ddbfs.inodes i ON i.id = d.inode"
          " WHERE d.tag_id = (SELECT id FROM ddbfs.tags WHERE name = normalize(" +
          n + "::text, NFC)) AND d.has_value AND i.nlink > 0 AND " + where + reach +
          " GROUP BY d.value, d.value_num, d.value_ns"
          " ORDER BY d.value_num IS NULL, d.value_num, d.value_ns IS NULL, d.value_ns, d.value";
    } else {
      std::string eff = "SELECT DISTINCT inode, tag_id FROM ddbfs.doc_tags";
      if (tx.Exec(kAnyRules).at(0)[0].as<bool>()) {
        with.push_back(
            "imp(tag_id, implied_id) AS (SELECT tag_id, implied_id FROM ddbfs.tag_implies"
            " UNION SELECT p.tag_id, r.implied_id FROM imp p"
            " JOIN ddbfs.tag_implies r ON r.tag_id = p.implied_id)");
        eff =
            "SELECT inode, tag_id FROM ddbfs.doc_tags UNION SELECT d.inode, m.implied_id"
            " FROM ddbfs.doc_tags d JOIN imp m ON m.tag_id = d.tag_id";
      }
      const std::string counts =
          "SELECT x.tag_id, count(*) AS documents,"
          " coalesce(sum(i.size) FILTER (WHERE i.type = 1), 0) AS bytes FROM (" +
          eff + ") x JOIN ddbfs.inodes i ON i.id = x.inode WHERE i.nlink > 0 AND " + where + reach +
          " GROUP BY x.tag_id";
      // Every name when nothing narrows the documents; else those present.
      const bool all_names = spec.where.empty();
      sql = "SELECT t.name, coalesce(c.documents, 0), coalesce(c.bytes, 0) FROM ddbfs.tags t " +
            std::string(all_names ? "LEFT " : "") + "JOIN (" + counts +
            ") c ON c.tag_id = t.id ORDER BY t.name";
    }
    if (!with.empty()) {
      std::string w = "WITH RECURSIVE ";
      for (size_t k = 0; k < with.size(); ++k) w += (k ? ", " : "") + with[k];
      sql = w + " " + sql;
    }
    sql += " OFFSET " + param(std::to_string(spec.offset)) + "::integer LIMIT " +
           param(std::to_string(spec.limit)) + "::integer";
    pqxx::result r = tx.ExecRead(sql, params);
    std::vector<TagCountRow> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      TagCountRow c;
      if (spec.name) {
        c.name = *spec.name;
        c.value = row[0].as<std::string>();
      } else {
        c.name = row[0].as<std::string>();
      }
      c.documents = row[1].as<int64_t>();
      c.bytes = row[2].as<int64_t>();
      out.push_back(std::move(c));
    }
    return out;
  });
}

Status RemoveTagMany(Tx& tx, const std::vector<InodeId>& inodes, const std::string& name,
                     const std::optional<std::string>& value, std::set<InodeId>* changed) {
  RETURN_IF_ERROR(DeferToBulk(tx, inodes));
  return Guard(tx, [&]() -> Status {
    pqxx::result r =
        tx.Exec(kRemoveTagMany, PgArray(inodes), name, value.has_value(), value.value_or(""));
    for (const auto& row : r) changed->insert(row[0].as<int64_t>());
    Follow(tx, r, false);
    return Status();
  });
}

Result<std::vector<InodeId>> OverTagLimit(Tx& tx, const std::vector<InodeId>& inodes, int64_t max) {
  return Guard(tx, [&]() -> Result<std::vector<InodeId>> {
    pqxx::result r = tx.Exec(kOverTagLimit, PgArray(inodes), max);
    std::vector<InodeId> out;
    for (const auto& row : r) out.push_back(row[0].as<int64_t>());
    return out;
  });
}

Result<std::vector<std::string>> TagNames(Tx& tx, int offset, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<std::string>> {
    pqxx::result r = tx.Exec(kTagNames, offset, limit);
    std::vector<std::string> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(row[0].as<std::string>());
    return out;
  });
}

Result<std::optional<int64_t>> TagId(Tx& tx, const std::string& name) {
  return Guard(tx, [&]() -> Result<std::optional<int64_t>> {
    pqxx::result r = tx.Exec(kTagId, name);
    if (r.empty()) return std::optional<int64_t>();
    return std::optional<int64_t>(r[0][0].as<int64_t>());
  });
}

Result<bool> CreateTagName(Tx& tx, const std::string& name, int64_t now_ns) {
  RETURN_IF_ERROR(DeferToBulkName(tx, name));
  return Guard(tx, [&]() -> Result<bool> {
    pqxx::result r = tx.Exec(kCreateTagName, name, now_ns);
    if (r.empty()) return false;
    if (TagIndex* index = tx.tag_index()) {
      const int64_t id = r[0][0].as<int64_t>();
      const std::string stored = r[0][1].as<std::string>();
      tx.AfterCommit([index, id, stored] { index->NameAdded(id, stored); });
    }
    return true;
  });
}

Status RenameTagName(Tx& tx, int64_t id, const std::string& new_name) {
  return Guard(tx, [&]() -> Status {
    pqxx::result r = tx.Exec(kRenameTagName, id, new_name);
    if (TagIndex* index = tx.tag_index(); index != nullptr && !r.empty()) {
      const std::string stored = r[0][0].as<std::string>();
      tx.AfterCommit([index, id, stored] { index->Renamed(id, stored); });
    }
    return Status();
  });
}

Result<int64_t> MergeTagInto(Tx& tx, int64_t from, int64_t into) {
  return Guard(tx, [&]() -> Result<int64_t> {
    const int64_t documents = tx.Exec(kDocumentsOfTag, from).at(0)[0].as<int64_t>();
    tx.Exec(kMergeDocTags, from, into);
    tx.Exec(kMergeRules, from, into);
    tx.Exec(kDeleteTagName, from);
    Reload(tx);
    return documents;
  });
}

Result<int64_t> DeleteTagName(Tx& tx, int64_t id) {
  return Guard(tx, [&]() -> Result<int64_t> {
    const int64_t documents = tx.Exec(kDocumentsOfTag, id).at(0)[0].as<int64_t>();
    tx.Exec(kDeleteTagName, id);
    Reload(tx);
    return documents;
  });
}

Result<bool> TagInUse(Tx& tx, int64_t id) {
  return Guard(tx, [&]() -> Result<bool> { return tx.Exec(kTagInUse, id).at(0)[0].as<bool>(); });
}

Result<bool> Implies(Tx& tx, int64_t from, int64_t to) {
  return Guard(tx,
               [&]() -> Result<bool> { return tx.Exec(kImplies, from, to).at(0)[0].as<bool>(); });
}

Result<bool> AddImplication(Tx& tx, int64_t tag, int64_t implied) {
  return Guard(tx, [&]() -> Result<bool> {
    Reload(tx);
    return tx.Exec(kAddImplication, tag, implied).affected_rows() == 1;
  });
}

Result<bool> RemoveImplication(Tx& tx, int64_t tag, int64_t implied) {
  return Guard(tx, [&]() -> Result<bool> {
    Reload(tx);
    return tx.Exec(kRemoveImplication, tag, implied).affected_rows() == 1;
  });
}

Result<bool> ImplicationCycle(Tx& tx) {
  return Guard(tx,
               [&]() -> Result<bool> { return tx.Exec(kImplicationCycle).at(0)[0].as<bool>(); });
}

Result<std::vector<std::pair<std::string, std::string>>> ListImplicationRules(Tx& tx) {
  return Guard(tx, [&]() -> Result<std::vector<std::pair<std::string, std::string>>> {
    pqxx::result r = tx.Exec(kListRules);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& row : r) out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
    return out;
  });
}

Result<std::optional<SavedQuery>> GetSavedQuery(Tx& tx, const std::string& name) {
  return Guard(tx, [&]() -> Result<std::optional<SavedQuery>> {
    pqxx::result r = tx.Exec(kGetSavedQuery, name);
    if (r.empty()) return std::optional<SavedQuery>();
    return std::optional<SavedQuery>(SavedQueryOf(r[0]));
  });
}

Status PutSavedQuery(Tx& tx, const SavedQuery& q, int64_t now_ns) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kPutSavedQuery, q.name, q.expr, static_cast<int64_t>(q.owner_uid), now_ns);
    return Status();
  });
}

Status DeleteSavedQuery(Tx& tx, const std::string& name) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kDeleteSavedQuery, name);
    return Status();
  });
}

Result<std::vector<SavedQuery>> ListSavedQueries(Tx& tx) {
  return Guard(tx, [&]() -> Result<std::vector<SavedQuery>> {
    pqxx::result r = tx.Exec(kListSavedQueries);
    std::vector<SavedQuery> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(SavedQueryOf(row));
    return out;
  });
}

namespace {
// A PostgreSQL array literal of optional numbers (NULL where none).
template <typename T>
std::string OptionalArray(const std::vector<TagRow>& tags, std::optional<T> TagRow::*field) {
  std::string out = "{";
  char buf[40];
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ',';
    const std::optional<T>& v = tags[i].*field;
    if (!v) {
      out += "NULL";
    } else if constexpr (std::is_floating_point_v<T>) {
      std::snprintf(buf, sizeof buf, "%.17g", *v);
      out += buf;
    } else {
      out += std::to_string(*v);
    }
  }
  return out + "}";
}
}  // namespace

Status AddTags(Tx& tx, InodeId inode, const std::vector<TagRow>& tags, int64_t now_ns) {
  if (tags.empty()) return Status();
  RETURN_IF_ERROR(DeferToBulk(tx, inode));
  for (const TagRow& t : tags) RETURN_IF_ERROR(DeferToBulkName(tx, t.name));
  return Guard(tx, [&]() -> Status {
    std::vector<std::string> names;
    std::vector<std::string> values;
    std::string has = "{";
    for (const TagRow& t : tags) {
      names.push_back(t.name);
      values.push_back(t.value.value_or(""));
      if (has.size() > 1) has += ',';
      has += t.value ? "t" : "f";
    }
    has += "}";
    pqxx::result r = tx.Exec(kAddTags, inode, PgTextArray(names), has, PgTextArray(values),
                             OptionalArray(tags, &TagRow::value_num),
                             OptionalArray(tags, &TagRow::value_ns), now_ns);
    Follow(tx, r, true);
    return Status();
  });
}

Status AddTagMany(Tx& tx, const std::vector<InodeId>& inodes, const TagRow& tag, int64_t now_ns,
                  std::set<InodeId>* changed) {
  RETURN_IF_ERROR(DeferToBulk(tx, inodes));
  RETURN_IF_ERROR(DeferToBulkName(tx, tag.name));
  return Guard(tx, [&]() -> Status {
    std::string num_buf;
    std::string ns_buf;
    pqxx::result r = tx.Exec(kAddTagMany, PgArray(inodes), tag.name, tag.value.has_value(),
                             tag.value.value_or(""), OptionalParam(tag.value_num, &num_buf),
                             OptionalParam(tag.value_ns, &ns_buf), now_ns);
    for (const auto& row : r) changed->insert(row[0].as<int64_t>());
    Follow(tx, r, true);
    return Status();
  });
}

Result<int> RemoveTag(Tx& tx, InodeId inode, const std::string& name,
                      const std::optional<std::string>& value) {
  RETURN_IF_ERROR(DeferToBulk(tx, inode));
  return Guard(tx, [&]() -> Result<int> {
    pqxx::result r = tx.Exec(kRemoveTag, inode, name, value.has_value(), value.value_or(""));
    Follow(tx, r, false);
    return static_cast<int>(r.size());
  });
}

Result<std::vector<Tag>> GetTags(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::vector<Tag>> {
    pqxx::result r = tx.Exec(kGetTags, inode);
    std::vector<Tag> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      Tag t;
      t.name = row[0].as<std::string>();
      if (row[1].as<bool>()) t.value = row[2].as<std::string>();
      out.push_back(std::move(t));
    }
    return out;
  });
}

Result<int64_t> CountTags(Tx& tx, InodeId inode) {
  return Guard(
      tx, [&]() -> Result<int64_t> { return tx.Exec(kCountTags, inode).at(0)[0].as<int64_t>(); });
}

}  // namespace ddbfs::meta::store
