#include "metaserver/store/key_store.h"

#include "ddbfs/auth.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

constexpr Statement kInsertKey{
    "key_insert",
    "INSERT INTO ddbfs_secret.export_keys (key_id, name, secret_hex, networks, read_only,"
    " subtree, identity, map_uid, map_gid, maproot_uid, maproot_gid, admin, created_ms)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    true};

constexpr Statement kLoadKeys{
    "key_load",
    "SELECT key_id, name, secret_hex, networks, read_only, subtree, identity, map_uid, map_gid,"
    " maproot_uid, maproot_gid, admin, created_ms, revoked_ms"
    " FROM ddbfs_secret.export_keys ORDER BY key_id",
    false};

constexpr Statement kRevokeKey{
    "key_revoke",
    "UPDATE ddbfs_secret.export_keys SET revoked_ms = COALESCE(revoked_ms, $2)"
    " WHERE key_id = $1",
    true};

std::string JoinNetworks(const std::vector<std::string>& networks) {
  std::string out;
  for (const std::string& n : networks) {
    if (!out.empty()) out += ",";
    out += n;
  }
  return out;
}

std::vector<std::string> SplitNetworks(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

Status InsertExportKey(Tx& tx, const ExportKeyRecord& k) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kInsertKey, k.key_id, k.name, ToHex(k.secret), JoinNetworks(k.networks), k.read_only,
            k.subtree, std::string(k.mapall ? "mapall" : "trusted"),
            static_cast<int64_t>(k.map_uid), static_cast<int64_t>(k.map_gid),
            static_cast<int64_t>(k.maproot_uid), static_cast<int64_t>(k.maproot_gid), k.admin,
            k.created_ms);
    return Status();
  });
}

Result<std::vector<ExportKeyRecord>> LoadExportKeys(Tx& tx) {
  return Guard(tx, [&]() -> Result<std::vector<ExportKeyRecord>> {
    std::vector<ExportKeyRecord> out;
    for (const auto& row : tx.Exec(kLoadKeys)) {
      ExportKeyRecord k;
      k.key_id = row[0].as<std::string>();
      k.name = row[1].as<std::string>();
      Result<std::string> secret = FromHex(row[2].as<std::string>());
      if (!secret.ok()) return Internal("export key " + k.key_id + " has a malformed secret");
      k.secret = *secret;
      k.networks = SplitNetworks(row[3].as<std::string>());
      k.read_only = row[4].as<bool>();
      k.subtree = row[5].as<std::string>();
      k.mapall = row[6].as<std::string>() == "mapall";
      k.map_uid = static_cast<uint32_t>(row[7].as<int64_t>());
      k.map_gid = static_cast<uint32_t>(row[8].as<int64_t>());
      k.maproot_uid = static_cast<uint32_t>(row[9].as<int64_t>());
      k.maproot_gid = static_cast<uint32_t>(row[10].as<int64_t>());
      k.admin = row[11].as<bool>();
      k.created_ms = row[12].as<int64_t>();
      if (!row[13].is_null()) k.revoked_ms = row[13].as<int64_t>();
      out.push_back(std::move(k));
    }
    return out;
  });
}

Status RevokeExportKey(Tx& tx, const std::string& key_id, int64_t now_ms) {
  return Guard(tx, [&]() -> Status {
    if (tx.Exec(kRevokeKey, key_id, now_ms).affected_rows() == 0) {
      return NotFound("no export key '" + key_id + "' (ddbfs key list shows them)");
    }
    return Status();
  });
}

}  // namespace ddbfs::meta::store
