// The writer's statements keep using their indexes as tables grow
// (docs/metadata.md, "Round trips of a write"). Its session plans each
// statement once (plan_cache_mode = force_generic_plan), with the
// statistics of that moment; if the tables were tiny then (a new cluster
// whose tables autovacuum has just analyzed), PostgreSQL prefers a
// sequential scan even for a lookup by primary key, and kept that plan
// while the table grew: every create read whole tables.

#include <chrono>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "ddbfs/constants.h"
#include "meta_test_base.h"
#include "metaserver/ops/namespace_ops.h"

namespace ddbfs::meta::testing {
namespace {

using WriterPlansTest = MetaTest;

// Sequential scans of the namespace and chunk tables so far, once the
// statistics of every backend have reached the shared counters.
int64_t SeqScans(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn
      .exec(
          "SELECT COALESCE(sum(seq_scan), 0) FROM pg_stat_user_tables"
          " WHERE schemaname = 'ddbfs' AND relname IN ('inodes', 'dentries', 'chunks', 'replicas')")
          [0][0]
      .as<int64_t>();
}

TEST_F(WriterPlansTest, CreatesUseIndexesWhenTheTablesWereTinyWhenTheWriterPlannedThem) {
  AddServer("uuid-a", "a");
  AddServer("uuid-b", "b");
  {
    // What autovacuum does on a new cluster: statistics of nearly empty tables.
    pqxx::connection conn(db_url());
    pqxx::nontransaction txn(conn);
    txn.exec("ANALYZE ddbfs.inodes, ddbfs.dentries, ddbfs.chunks, ddbfs.replicas");
  }
  auto dir = Mkdir(ctx(), caller_, kRootInode, "d", 0755);
  ASSERT_TRUE(dir.ok()) << dir.status();
  // The writer prepares (and plans) its statements now, then the tables grow.
  for (int i = 0; i < 2000; ++i) {
    auto r = Create(ctx(), caller_, dir->inode, "f" + std::to_string(i), 0644, std::nullopt,
                    std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // counters flushed
  const int64_t before = SeqScans(db_url());
  const int kMore = 300;
  for (int i = 0; i < kMore; ++i) {
    auto r = Create(ctx(), caller_, dir->inode, "g" + std::to_string(i), 0644, std::nullopt,
                    std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int64_t scans = SeqScans(db_url()) - before;
  // A create is several statements and key checks on these tables; one
  // sequential scan in each would be well over kMore.
  EXPECT_LT(scans, kMore / 10) << scans << " sequential scans of the namespace and chunk tables "
                               << "for " << kMore << " creates";
}

}  // namespace
}  // namespace ddbfs::meta::testing
