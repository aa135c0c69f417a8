#pragma once

#include <vector>

namespace ddbfs::meta::store {

// One schema migration: the contents of sql/NNN_name.sql, embedded into the
// binary at build time (metaserver/cmake/embed_sql.cmake).
struct Migration {
  int version;       // NNN
  const char* name;  // "NNN_name"
  const char* sql;   // the whole file, run as one multi-statement query
};

// Every migration of this build, in the order the CMake list gives them.
const std::vector<Migration>& EmbeddedMigrations();

}  // namespace ddbfs::meta::store
