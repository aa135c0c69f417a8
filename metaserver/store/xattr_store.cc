#include "metaserver/store/xattr_store.h"

#include "ddbfs/auth.h"

namespace ddbfs::meta::store {

namespace {

// Values travel as hex text (bytea in and out without libpqxx binary
// parameters).
constexpr Statement kGetXattr{
    "xattr_get", "SELECT encode(value, 'hex') FROM ddbfs.xattrs WHERE inode = $1 AND name = $2",
    false};

constexpr Statement kListXattrs{
    "xattr_list", "SELECT name FROM ddbfs.xattrs WHERE inode = $1 ORDER BY name", false};

constexpr Statement kXattrUsage{
    "xattr_usage",
    "SELECT count(*) FILTER (WHERE name <> $2),"
    " COALESCE(sum(octet_length(name) + octet_length(value)) FILTER (WHERE name <> $2), 0),"
    " bool_or(name = $2)"
    " FROM ddbfs.xattrs WHERE inode = $1",
    false};

// Both keep inodes.has_xattrs (sql/010_has_xattrs.sql). The subquery of a
// data-modifying WITH sees the rows as they were before the DELETE, hence
// `name <> $2`.
constexpr Statement kPutXattr{
    "xattr_put",
    "WITH put AS (INSERT INTO ddbfs.xattrs (inode, name, value)"
    "  VALUES ($1, $2, decode($3, 'hex'))"
    "  ON CONFLICT (inode, name) DO UPDATE SET value = EXCLUDED.value RETURNING 1)"
    " UPDATE ddbfs.inodes SET has_xattrs = true"
    " WHERE id = $1 AND NOT has_xattrs AND EXISTS (SELECT 1 FROM put)",
    true};

constexpr Statement kDeleteXattr{
    "xattr_delete",
    "WITH del AS (DELETE FROM ddbfs.xattrs WHERE inode = $1 AND name = $2 RETURNING 1),"
    " flag AS (UPDATE ddbfs.inodes"
    "  SET has_xattrs = EXISTS (SELECT 1 FROM ddbfs.xattrs WHERE inode = $1 AND name <> $2)"
    "  WHERE id = $1 AND EXISTS (SELECT 1 FROM del))"
    " SELECT 1 FROM del",
    true};

}  // namespace

Result<std::optional<std::string>> GetXattr(Tx& tx, InodeId inode, const std::string& name) {
  return Guard(tx, [&]() -> Result<std::optional<std::string>> {
    pqxx::result r = tx.Exec(kGetXattr, inode, name);
    if (r.empty()) return std::optional<std::string>();
    ASSIGN_OR_RETURN(std::string value, FromHex(r[0][0].as<std::string>()));
    return std::optional<std::string>(std::move(value));
  });
}

Result<std::vector<std::string>> ListXattrs(Tx& tx, InodeId inode) {
  return Guard(tx, [&]() -> Result<std::vector<std::string>> {
    pqxx::result r = tx.Exec(kListXattrs, inode);
    std::vector<std::string> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(row[0].as<std::string>());
    return out;
  });
}

Result<XattrUsage> XattrUsageOf(Tx& tx, InodeId inode, const std::string& name) {
  return Guard(tx, [&]() -> Result<XattrUsage> {
    pqxx::result r = tx.Exec(kXattrUsage, inode, name);
    XattrUsage u;
    u.count = r[0][0].as<int64_t>();
    u.bytes = r[0][1].as<int64_t>();
    u.exists = !r[0][2].is_null() && r[0][2].as<bool>();
    return u;
  });
}

Status PutXattr(Tx& tx, InodeId inode, const std::string& name, const std::string& value) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kPutXattr, inode, name, ToHex(value));
    tx.ChangedInode(inode);  // has_xattrs
    return Status();
  });
}

Result<bool> DeleteXattr(Tx& tx, InodeId inode, const std::string& name) {
  return Guard(tx, [&]() -> Result<bool> {
    pqxx::result r = tx.Exec(kDeleteXattr, inode, name);
    tx.ChangedInode(inode);  // has_xattrs
    return !r.empty();
  });
}

}  // namespace ddbfs::meta::store
