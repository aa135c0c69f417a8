#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <pqxx/pqxx>

#include "ddbfs/auth.h"
#include "ddbfs/client.h"

// Helpers shared by the store's query files (private to metaserver/store).

// The columns ParseAttr reads, in order, from the inodes row aliased `p`:
// DDBFS_ATTR_COLUMNS("i.") -> "i.id, i.type, ..., i.has_xattrs, <the ACLs as hex>".
#define DDBFS_ATTR_COLUMNS(p)                                                                   \
  p "id, " p "type, " p "mode, " p "uid, " p "gid, " p "size, " p "atime_ns, " p "mtime_ns, " p \
    "ctime_ns, " p "nlink, " p "goal, " p "rdev, " p "allocated, " p "has_xattrs, encode(" p    \
    "acl_access, 'hex'), encode(" p "acl_default, 'hex')"

namespace ddbfs::meta::store {

inline constexpr int kAttrColumnCount = 16;

// Reads the DDBFS_ATTR_COLUMNS starting at column `first`.
inline Attr ParseAttr(const pqxx::row& row, int first) {
  Attr a;
  a.inode = row[first].as<int64_t>();
  a.type = static_cast<FileType>(row[first + 1].as<int>());
  a.mode = static_cast<uint32_t>(row[first + 2].as<int64_t>());
  a.uid = static_cast<uint32_t>(row[first + 3].as<int64_t>());
  a.gid = static_cast<uint32_t>(row[first + 4].as<int64_t>());
  a.size = static_cast<uint64_t>(row[first + 5].as<int64_t>());
  a.atime_ns = row[first + 6].as<int64_t>();
  a.mtime_ns = row[first + 7].as<int64_t>();
  a.ctime_ns = row[first + 8].as<int64_t>();
  a.nlink = static_cast<uint32_t>(row[first + 9].as<int64_t>());
  a.goal = row[first + 10].as<int>();
  a.rdev = static_cast<uint64_t>(row[first + 11].as<int64_t>());
  a.allocated = static_cast<uint64_t>(row[first + 12].as<int64_t>());
  a.has_xattrs = row[first + 13].as<bool>();
  // encode(..., 'hex') of PostgreSQL: always valid hex.
  for (int i = 0; i < 2; ++i) {
    const pqxx::field f = row[first + 14 + i];
    if (f.is_null()) continue;
    Result<std::string> bytes = FromHex(f.c_str());
    if (bytes.ok()) (i == 0 ? a.acl_access : a.acl_default) = std::move(*bytes);
  }
  return a;
}

// A comma-separated list of integers (string_agg of ids), empty for NULL.
template <typename T>
std::vector<T> ParseIntList(const pqxx::field& f) {
  std::vector<T> out;
  if (f.is_null()) return out;
  const std::string text = f.as<std::string>();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(static_cast<T>(std::strtoll(text.c_str() + start, nullptr, 10)));
    start = end + 1;
  }
  return out;
}

// A nullable parameter: libpqxx sends a null `const char*` as SQL NULL.
// `buffer` must outlive the statement call.
// A number as a statement parameter, or NULL; a double with every digit
// (std::to_string keeps six decimals: 0.1234567891 would be stored as
// 0.123457, and then not equal the query's 0.1234567891).
template <typename T>
const char* OptionalParam(const std::optional<T>& value, std::string* buffer) {
  if (!value) return nullptr;
  if constexpr (std::is_floating_point_v<T>) {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", *value);
    *buffer = text;
  } else {
    *buffer = std::to_string(*value);
  }
  return buffer->c_str();
}

}  // namespace ddbfs::meta::store
