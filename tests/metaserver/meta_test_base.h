#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "metaserver/meta_core.h"
#include "metaserver/ops/chunk_ops.h"
#include "metaserver/ops/namespace_ops.h"
#include "metaserver/ops/server_ops.h"

namespace ddbfs::meta::testing {

// A MetaCore on a fresh database of the test binary's private PostgreSQL,
// for testing the ops layer directly (no RPC).
class MetaTest : public ::testing::Test {
 protected:
  // Heartbeat timeout of the core; tests of liveness use small ones.
  virtual std::chrono::milliseconds heartbeat_timeout() const { return std::chrono::seconds(60); }
  // Client session timeout of the core; tests of expiry use small ones.
  virtual int session_timeout_ms() const { return 60000; }
  // --max-open-files-per-session.
  virtual size_t max_open_files() const { return 65536; }
  // The fresh file system's root (root-owned, 0755) is given to caller_ by
  // SetUp, so that tests running as caller_ may create in it; tests of
  // permissions keep it root's.
  virtual bool give_root_to_caller() const { return true; }
  // Tag changes over more documents run as bulk changes.
  virtual size_t bulk_threshold() const { return 1000; }

  void SetUp() override;
  void TearDown() override;

  OpContext& ctx() { return core_->ctx(); }
  const std::string& db_url() const { return db_url_; }

  // One integer from SQL run directly on the test database (for checks of
  // what the store wrote: gc_queue, schema_migrations, ...).
  int64_t QueryInt(const std::string& sql);

  Attr MustMkdir(InodeId parent, const std::string& name);
  Attr MustCreate(InodeId parent, const std::string& name);

  // Registers a fake chunk server (no process) with the given label and
  // 1 TiB free; returns its id.
  int32_t AddServer(const std::string& uuid, const std::string& label,
                    std::vector<InventoryItem> inventory = {});

  // PrepareWrite + CommitWrite of chunk `index` as written by every replica.
  WritePlan MustWriteChunk(InodeId inode, int64_t index, int64_t length, int64_t file_size);

  Caller caller_{1000, 100, {}};
  std::string db_url_;
  std::unique_ptr<MetaCore> core_;
};

// A Status's code, for EXPECT_EQ with readable output.
template <typename T>
ErrorCode CodeOf(const Result<T>& r) {
  return r.status().code();
}
inline ErrorCode CodeOf(const Status& s) { return s.code(); }

}  // namespace ddbfs::meta::testing
