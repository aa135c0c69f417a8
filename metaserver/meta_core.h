#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ddbfs/status.h"
#include "metaserver/ops/lease_settler.h"
#include "metaserver/ops/op_context.h"
#include "metaserver/ops/open_files.h"
#include "metaserver/ops/server_registry.h"
#include "metaserver/ops/session_reaper.h"
#include "metaserver/store/bulk_writer.h"
#include "metaserver/store/meta_cache.h"
#include "metaserver/store/read_pool.h"
#include "metaserver/store/write_queue.h"

namespace ddbfs::meta {

struct MetaOptions {
  std::string db_url;  // libpq URL, e.g. postgresql://postgres@127.0.0.1:5432/ddbfs
  std::chrono::milliseconds heartbeat_timeout{10000};
  // How long Open() keeps retrying an unreachable PostgreSQL.
  std::chrono::milliseconds db_wait{30000};
  LeaseOptions leases;  // write lease duration (docs/write_protocol.md)
  // Client session timeout (docs/metadata.md, "Client sessions and orphans").
  SessionOptions sessions;
  size_t read_connections = 4;
  size_t max_batch = 512;
  // statement_timeout, lock_timeout, idle_in_transaction_session_timeout of
  // every session of the writer and the readers.
  store::SessionLimits session;
  // How long the request log keeps answers for retries (0: for ever).
  std::chrono::seconds request_log_retention{3600};
  // Connections to chunk servers (TLS, cluster key); null: plain, no key.
  std::shared_ptr<const Transport> peers;
  // Keep the tags in memory (store/tag_index.h) for queries and counts.
  bool tag_index = true;
  // Tag changes over more documents than this run as one bulk transaction
  // beside the group commit (store/bulk_writer.h); tests make it small.
  size_t bulk_threshold = 1000;
  // The namespace cache (store/meta_cache.h): at most this many inodes and
  // as many directory entries (0: no cache); `cache_verify` checks every hit
  // of the writer against PostgreSQL (tests).
  size_t cache_entries = 1000000;
  bool cache_verify = false;
  // Opens the writer's connection (store::WriteQueueOptions::connect):
  // LockKeeper::Connect in a metaserver, so that the writer's session is
  // the one that holds the active lock (docs/ha.md); unset: plain.
  std::function<Result<std::unique_ptr<store::Connection>>()> writer_connect = nullptr;
  // The active epoch that bulk changes prove before COMMIT
  // (store::ProveActive); 0: none (tests without a LockKeeper).
  int64_t active_epoch = 0;
};

// Everything behind the RPC layer of one metaserver: the writer (group
// commit), the read pool, the chunk-server registry, and the OpContext the
// operations run against. Thread-safe once opened.
class MetaCore {
 public:
  // Connects to PostgreSQL (retrying for db_wait, logging each failure),
  // applies the schema migrations, loads the registered chunk servers.
  // kUnavailable "cannot connect to PostgreSQL at <url>: <reason>" when the
  // database stayed unreachable.
  static Result<std::unique_ptr<MetaCore>> Open(const MetaOptions& options);
  ~MetaCore();

  OpContext& ctx() { return ctx_; }
  store::WriteQueue& writer() { return writer_; }
  ServerRegistry& servers() { return servers_; }
  LeaseSettler& settler() { return *settler_; }
  // The namespace cache; null when --meta-cache-entries is 0.
  store::MetaCache* cache() { return cache_.get(); }
  SessionReaper& reaper() { return *reaper_; }
  OpenFiles& open_files() { return *open_files_; }

  // Commits what is queued and stops the writer; later writes fail.
  void Stop();

 private:
  explicit MetaCore(const MetaOptions& options);

  store::WriteQueue writer_;
  store::ReadPool reader_;
  ServerRegistry servers_;
  OpContext ctx_;
  std::unique_ptr<LeaseSettler> settler_;
  std::unique_ptr<SessionReaper> reaper_;
  std::unique_ptr<OpenFiles> open_files_;
  std::unique_ptr<store::TagIndex> tag_index_;
  std::unique_ptr<store::BulkWriter> bulk_;
  std::unique_ptr<store::MetaCache> cache_;
};

}  // namespace ddbfs::meta
