#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/status.h"

namespace ddbfs::meta::store {

class Tx;

// One export key (ddbfs_secret.export_keys; docs/security.md, "Export keys").
struct ExportKeyRecord {
  std::string key_id;
  std::string name;
  std::string secret;                 // raw bytes
  std::vector<std::string> networks;  // CIDRs; empty: any address
  bool read_only = false;
  std::string subtree = "/";
  bool mapall = false;  // false: trusted (the client asserts uids, root mapped)
  uint32_t map_uid = 65534;
  uint32_t map_gid = 65534;
  uint32_t maproot_uid = 65534;
  uint32_t maproot_gid = 65534;
  bool admin = false;
  int64_t created_ms = 0;
  std::optional<int64_t> revoked_ms;
};

Status InsertExportKey(Tx& tx, const ExportKeyRecord& key);
// Every key, revoked ones included, by key id.
Result<std::vector<ExportKeyRecord>> LoadExportKeys(Tx& tx);
// NotFound if there is no such key; revoking twice keeps the first time.
Status RevokeExportKey(Tx& tx, const std::string& key_id, int64_t now_ms);

}  // namespace ddbfs::meta::store
