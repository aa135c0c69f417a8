#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/status.h"
#include "metaserver/store/tx.h"

// Extended attributes of inodes (sql/006_xattrs.sql). Values are bytes.
namespace ddbfs::meta::store {

// The value of `name` on `inode`; nullopt when it has none.
Result<std::optional<std::string>> GetXattr(Tx& tx, InodeId inode, const std::string& name);
// Every name on `inode`, bytewise order.
Result<std::vector<std::string>> ListXattrs(Tx& tx, InodeId inode);

struct XattrUsage {
  int64_t count = 0;    // attributes other than the one asked about
  int64_t bytes = 0;    // their names and values
  bool exists = false;  // the one asked about is there
};
// What `inode` holds apart from `name`, and whether it has `name`.
Result<XattrUsage> XattrUsageOf(Tx& tx, InodeId inode, const std::string& name);
// Creates or replaces.
Status PutXattr(Tx& tx, InodeId inode, const std::string& name, const std::string& value);
// False when there was none.
Result<bool> DeleteXattr(Tx& tx, InodeId inode, const std::string& name);

}  // namespace ddbfs::meta::store
