#include "meta_test_base.h"

#include <pqxx/pqxx>

#include "ddbfs/constants.h"
#include "pg_instance.h"

namespace ddbfs::meta::testing {

void MetaTest::SetUp() {
  db_url_ = ddbfs::testing::PgInstance::Shared().NewDatabaseUrl();
  MetaOptions o;
  o.db_url = db_url_;
  o.heartbeat_timeout = heartbeat_timeout();
  o.sessions.timeout_ms = session_timeout_ms();
  o.sessions.max_open_files = max_open_files();
  o.db_wait = std::chrono::seconds(10);
  o.bulk_threshold = bulk_threshold();
  o.cache_verify = true;  // every cache hit of the writer checked against PostgreSQL
  auto core = MetaCore::Open(o);
  ASSERT_TRUE(core.ok()) << core.status();
  core_ = std::move(core).value();
  if (give_root_to_caller()) {
    AttrChanges c;
    c.uid = caller_.uid;
    c.gid = caller_.gid;
    auto r = SetAttr(ctx(), Caller{}, kRootInode, c);
    ASSERT_TRUE(r.ok()) << r.status();
  }
}

void MetaTest::TearDown() { core_.reset(); }

int64_t MetaTest::QueryInt(const std::string& sql) {
  pqxx::connection conn(db_url_);
  pqxx::nontransaction txn(conn);
  return txn.exec1(sql)[0].as<int64_t>();
}

Attr MetaTest::MustMkdir(InodeId parent, const std::string& name) {
  auto r = Mkdir(ctx(), caller_, parent, name, 0755);
  EXPECT_TRUE(r.ok()) << name << ": " << r.status();
  return r.ok() ? *r : Attr();
}

Attr MetaTest::MustCreate(InodeId parent, const std::string& name) {
  auto r = Create(ctx(), caller_, parent, name, 0644, std::nullopt, std::nullopt);
  EXPECT_TRUE(r.ok()) << name << ": " << r.status();
  return r.ok() ? *r : Attr();
}

int32_t MetaTest::AddServer(const std::string& uuid, const std::string& label,
                            std::vector<InventoryItem> inventory) {
  RegisterArgs a;
  a.host = "127.0.0.1";
  a.port = 20000 + static_cast<int32_t>(std::hash<std::string>()(uuid) % 10000);
  a.label = label;
  a.uuid = uuid;
  a.capacity_bytes = 1ll << 40;
  a.used_bytes = 0;
  a.inventory = std::move(inventory);
  auto r = RegisterServer(ctx(), a);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->server_id : 0;
}

WritePlan MetaTest::MustWriteChunk(InodeId inode, int64_t index, int64_t length,
                                   int64_t file_size) {
  auto plan = PrepareWrite(ctx(), caller_, inode, index);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return WritePlan();
  ChunkCommitArgs c{index, plan->chunk_id, plan->version, length, {}, plan->lease_id};
  for (const ServerAddr& a : plan->replicas) c.written.push_back(a.server_id);
  auto attr = CommitWrite(ctx(), caller_, inode, {c}, file_size, std::nullopt);
  EXPECT_TRUE(attr.ok()) << attr.status();
  return *plan;
}

}  // namespace ddbfs::meta::testing
