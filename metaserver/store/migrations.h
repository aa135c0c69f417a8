#pragma once

#include <vector>

#include "ddbfs/status.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/embedded_sql.h"

namespace ddbfs::meta::store {

// Brings the database schema up to date. Under a PostgreSQL advisory lock
// (so two metaservers starting at once take turns): creates
// ddbfs.schema_migrations if missing, then applies every migration whose
// version is not recorded there, each in its own transaction together with
// its row. Running it again is harmless. Fails if the database records a
// version this binary does not know (it was migrated by a newer metaserver).
Status ApplyMigrations(Connection& conn, const std::vector<Migration>& migrations);

// Versions recorded in ddbfs.schema_migrations, ascending.
Result<std::vector<int>> AppliedMigrations(Connection& conn);

}  // namespace ddbfs::meta::store
