#include <atomic>
#include <thread>

#include <pqxx/pqxx>

#include "meta_test_base.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/embedded_sql.h"
#include "metaserver/store/migrations.h"
#include "pg_instance.h"

namespace ddbfs::meta::testing {
namespace {

using MigrationsTest = MetaTest;

TEST_F(MigrationsTest, EveryEmbeddedMigrationIsAppliedOnce) {
  const auto& embedded = store::EmbeddedMigrations();
  ASSERT_FALSE(embedded.empty());
  EXPECT_EQ(embedded[0].version, 1);
  EXPECT_STREQ(embedded[0].name, "001_schema");
  const int64_t count = static_cast<int64_t>(embedded.size());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.schema_migrations"), count);
  // A second start applies nothing and changes nothing.
  const int64_t stamp = QueryInt(
      "SELECT (extract(epoch FROM max(applied_at)) * 1000000)::bigint "
      "FROM ddbfs.schema_migrations");
  core_.reset();
  MetaOptions o;
  o.db_url = db_url();
  auto again = MetaCore::Open(o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.schema_migrations"), count);
  EXPECT_EQ(QueryInt("SELECT (extract(epoch FROM max(applied_at)) * 1000000)::bigint "
                     "FROM ddbfs.schema_migrations"),
            stamp);
  // The root directory exists exactly once.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM ddbfs.inodes"), 1);
}

TEST(MigrationsConcurrencyTest, TwoMetaserversStartingAtOnceBothSucceed) {
  const std::string url = ddbfs::testing::PgInstance::Shared().NewDatabaseUrl();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      auto conn = store::Connection::Open(url);
      ASSERT_TRUE(conn.ok()) << conn.status();
      Status s = store::ApplyMigrations(**conn, store::EmbeddedMigrations());
      EXPECT_TRUE(s.ok()) << s;
      if (s.ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);
  auto conn = store::Connection::Open(url);
  ASSERT_TRUE(conn.ok());
  auto applied = store::AppliedMigrations(**conn);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->size(), store::EmbeddedMigrations().size());
}

TEST(MigrationsConcurrencyTest, ADatabaseFromANewerMetaserverIsRefused) {
  const std::string url = ddbfs::testing::PgInstance::Shared().NewDatabaseUrl();
  auto conn = store::Connection::Open(url);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(store::ApplyMigrations(**conn, store::EmbeddedMigrations()).ok());
  {
    pqxx::connection raw(url);
    pqxx::work txn(raw);
    txn.exec("INSERT INTO ddbfs.schema_migrations (version, name) VALUES (999, '999_future')");
    txn.commit();
  }
  Status s = store::ApplyMigrations(**conn, store::EmbeddedMigrations());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("999"), std::string::npos) << s;
  // Advisory lock released: a later attempt does not hang.
  EXPECT_FALSE(store::ApplyMigrations(**conn, store::EmbeddedMigrations()).ok());
}

TEST(StoreTest, UrlPasswordsAreRedacted) {
  EXPECT_EQ(store::RedactUrl("postgresql://u:secret@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(store::RedactUrl("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(store::RedactUrl("host=h password=secret dbname=d"), "host=h password=*** dbname=d");
}

}  // namespace
}  // namespace ddbfs::meta::testing
