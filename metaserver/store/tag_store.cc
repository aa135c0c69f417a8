#include "metaserver/store/tag_store.h"

#include "metaserver/store/row_util.h"

namespace ddbfs::meta::store {

namespace {

// The name's row comes from the INSERT when it is new, else from the table
// (a data-modifying WITH does not see its own inserts).
constexpr Statement kAddTag{
    "tag_add",
    "WITH n AS (SELECT normalize($2::text, NFC) AS name),"
    " ins AS (INSERT INTO ddbfs.tags (name, created_ns) SELECT name, $7 FROM n"
    "  ON CONFLICT (name) DO NOTHING RETURNING id),"
    " g AS (SELECT id FROM ins UNION ALL SELECT t.id FROM ddbfs.tags t, n WHERE t.name = n.name)"
    " INSERT INTO ddbfs.doc_tags (inode, tag_id, has_value, value, value_num, value_ns)"
    " SELECT $1, g.id, $3, normalize($4::text, NFC), $5::float8, $6::bigint FROM g"
    " ON CONFLICT DO NOTHING",
    true};

constexpr Statement kRemoveTag{
    "tag_remove",
    "DELETE FROM ddbfs.doc_tags d USING ddbfs.tags t"
    " WHERE d.inode = $1 AND d.tag_id = t.id AND t.name = normalize($2::text, NFC)"
    " AND (NOT $3::boolean OR (d.has_value AND d.value = normalize($4::text, NFC)))",
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

}  // namespace

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

Status AddTag(Tx& tx, InodeId inode, const TagRow& tag, int64_t now_ns) {
  return Guard(tx, [&]() -> Status {
    std::string num_buf;
    std::string ns_buf;
    const std::string value = tag.value.value_or("");
    tx.Exec(kAddTag, inode, tag.name, tag.value.has_value(), value,
            OptionalParam(tag.value_num, &num_buf), OptionalParam(tag.value_ns, &ns_buf), now_ns);
    return Status();
  });
}

Result<int> RemoveTag(Tx& tx, InodeId inode, const std::string& name,
                      const std::optional<std::string>& value) {
  return Guard(tx, [&]() -> Result<int> {
    return static_cast<int>(
        tx.Exec(kRemoveTag, inode, name, value.has_value(), value.value_or("")).affected_rows());
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
