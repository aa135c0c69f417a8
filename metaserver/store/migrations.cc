#include "metaserver/store/migrations.h"

#include <algorithm>
#include <set>

#include "ddbfs/log.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

// Advisory lock key of schema migrations ("ddbfs" + 1 in ASCII).
constexpr char kLockMigrations[] = "SELECT pg_advisory_lock(6800682566611)";
constexpr char kUnlockMigrations[] = "SELECT pg_advisory_unlock(6800682566611)";

constexpr char kCreateMigrationsTable[] = R"(
CREATE SCHEMA IF NOT EXISTS ddbfs;
CREATE TABLE IF NOT EXISTS ddbfs.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ddbfs.schema_migrations IS
  'Schema migrations (sql/NNN_name.sql) applied to this database, one row each.';
)";

std::vector<int> ReadApplied(pqxx::connection& conn) {
  pqxx::nontransaction txn(conn);
  std::vector<int> out;
  for (const auto& row : txn.exec("SELECT version FROM ddbfs.schema_migrations ORDER BY version")) {
    out.push_back(row[0].as<int>());
  }
  return out;
}

Status Apply(pqxx::connection& conn, const std::vector<Migration>& migrations) {
  {
    pqxx::nontransaction txn(conn);
    txn.exec(kCreateMigrationsTable);
  }
  std::vector<int> applied_list = ReadApplied(conn);
  std::set<int> applied(applied_list.begin(), applied_list.end());
  int newest_known = 0;
  std::set<int> known;
  for (const Migration& m : migrations) {
    if (!known.insert(m.version).second) {
      return Internal("two embedded migrations have version " + std::to_string(m.version));
    }
    newest_known = std::max(newest_known, m.version);
  }
  for (int v : applied) {
    if (!known.count(v)) {
      return Internal("the database has schema migration " + std::to_string(v) +
                      ", which this metaserver does not know (it knows up to " +
                      std::to_string(newest_known) + "); run a newer ddbfs-metaserver");
    }
  }
  std::vector<const Migration*> todo;
  for (const Migration& m : migrations) {
    if (!applied.count(m.version)) todo.push_back(&m);
  }
  std::sort(todo.begin(), todo.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });
  for (const Migration* m : todo) {
    pqxx::work txn(conn);
    txn.exec(m->sql);
    txn.exec_params("INSERT INTO ddbfs.schema_migrations (version, name) VALUES ($1, $2)",
                    m->version, std::string(m->name));
    txn.commit();
    LOG(kInfo) << "applied schema migration " << m->name;
  }
  return Status();
}

}  // namespace

Status ApplyMigrations(Connection& conn, const std::vector<Migration>& migrations) {
  try {
    {
      pqxx::nontransaction txn(conn.raw());
      txn.exec(kLockMigrations);
    }
    Status s;
    try {
      s = Apply(conn.raw(), migrations);
    } catch (...) {
      s = ClassifyDbError(std::current_exception()).status.WithContext("schema migration failed");
    }
    pqxx::nontransaction txn(conn.raw());
    txn.exec(kUnlockMigrations);
    return s;
  } catch (...) {
    return ClassifyDbError(std::current_exception()).status.WithContext("schema migration failed");
  }
}

Result<std::vector<int>> AppliedMigrations(Connection& conn) {
  try {
    return ReadApplied(conn.raw());
  } catch (...) {
    return ClassifyDbError(std::current_exception()).status;
  }
}

}  // namespace ddbfs::meta::store
