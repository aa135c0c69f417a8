#include "metaserver/meta_core.h"

#include <algorithm>
#include <thread>

#include "ddbfs/log.h"
#include "metaserver/ops/op_util.h"
#include "metaserver/ops/server_ops.h"
#include "metaserver/store/chunk_store.h"
#include "metaserver/store/connection.h"
#include "metaserver/store/embedded_sql.h"
#include "metaserver/store/migrations.h"
#include "metaserver/store/session_store.h"
#include "metaserver/store/tag_index.h"

namespace ddbfs::meta {

namespace {

// Pause between two connection attempts at start.
constexpr auto kConnectRetryPause = std::chrono::milliseconds(500);

Result<std::unique_ptr<store::Connection>> ConnectWithRetry(const MetaOptions& o) {
  const std::string shown = store::RedactUrl(o.db_url);
  const auto deadline = std::chrono::steady_clock::now() + o.db_wait;
  while (true) {
    auto conn = store::Connection::Open(o.db_url);
    if (conn.ok()) return conn;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Unavailable("cannot connect to PostgreSQL at " + shown + ": " +
                         conn.status().message());
    }
    LOG(kWarn) << "PostgreSQL at " << shown << " is not reachable yet (" << conn.status().message()
               << "); retrying";
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kConnectRetryPause, deadline - now));
  }
}

}  // namespace

MetaCore::MetaCore(const MetaOptions& o)
    : writer_(o.db_url,
              store::WriteQueueOptions{
                  o.max_batch, o.session, o.request_log_retention, o.writer_connect,
                  // As at a start (Open): while PostgreSQL was out of reach
                  // no writer could renew its lease, no client its session.
                  [leases = o.leases, sessions = o.sessions](store::Tx& tx) -> Status {
                    RETURN_IF_ERROR(store::ExtendAllLeases(tx, NowMs() + leases.lease_ms));
                    return store::ExtendAllClientSessions(tx, NowMs() + sessions.timeout_ms);
                  }}),
      reader_(o.db_url, o.read_connections, o.session),
      servers_(o.heartbeat_timeout),
      ctx_{writer_, reader_, servers_, o.leases, o.sessions, nullptr, o.peers} {
  settler_ = std::make_unique<LeaseSettler>(ctx_);
  ctx_.settler = settler_.get();
  reaper_ = std::make_unique<SessionReaper>(ctx_);
  open_files_ = std::make_unique<OpenFiles>(o.sessions.max_open_files);
  ctx_.open_files = open_files_.get();
  if (o.tag_index) {
    tag_index_ = std::make_unique<store::TagIndex>(o.db_url);
    ctx_.tag_index = tag_index_.get();
  }
  // A bulk change may run longer than one statement of the writer may.
  store::SessionLimits bulk_limits = o.session;
  if (bulk_limits.statement_timeout_ms > 0) {
    bulk_limits.statement_timeout_ms = std::max(bulk_limits.statement_timeout_ms, 120000);
  }
  bulk_ = std::make_unique<store::BulkWriter>(o.db_url, bulk_limits, writer_);
  bulk_->set_active_epoch(o.active_epoch);
  writer_.set_bulk_guard(&bulk_->guard());
  ctx_.bulk = bulk_.get();
  ctx_.bulk_threshold = o.bulk_threshold;
  if (o.cache_entries > 0) {
    cache_ = std::make_unique<store::MetaCache>(o.cache_entries, o.cache_entries, o.cache_verify);
    writer_.set_cache(cache_.get());
    reader_.set_cache(cache_.get());
    ctx_.cache = cache_.get();
  }
}

MetaCore::~MetaCore() { Stop(); }

Result<std::unique_ptr<MetaCore>> MetaCore::Open(const MetaOptions& options) {
  {
    ASSIGN_OR_RETURN(std::unique_ptr<store::Connection> conn, ConnectWithRetry(options));
    RETURN_IF_ERROR(store::ApplyMigrations(*conn, store::EmbeddedMigrations()));
  }
  std::unique_ptr<MetaCore> core(new MetaCore(options));
  RETURN_IF_ERROR(LoadServers(core->ctx()));
  // Leases count from this start: a writer whose lease ran out while the
  // metaserver was down has had no chance to renew it.
  // Client sessions likewise: a client could not renew its session while
  // the metaserver was down; one that does not come back is reaped after
  // the timeout.
  // The open files of the sessions were in the memory of the metaserver
  // that ran before: each session counts as holding every file until its
  // client sends its open set again (ops/open_files.h).
  std::vector<std::pair<int64_t, std::string>> sessions;
  std::vector<std::pair<InodeId, int64_t>> holds;
  RETURN_IF_ERROR(core->writer_.Run([&](store::Tx& tx) -> Status {
    RETURN_IF_ERROR(store::ExtendAllLeases(tx, NowMs() + options.leases.lease_ms));
    RETURN_IF_ERROR(store::ExtendAllClientSessions(tx, NowMs() + options.sessions.timeout_ms));
    ASSIGN_OR_RETURN(std::vector<store::ClientSessionRecord> all, store::AllClientSessions(tx));
    sessions.clear();
    for (const auto& s : all) sessions.emplace_back(s.id, s.principal);
    ASSIGN_OR_RETURN(holds, store::AllOrphanHolders(tx));
    return Status();
  }));
  core->open_files_->LoadIncomplete(sessions);
  for (const auto& [inode, session] : holds) core->open_files_->MarkHeld({session}, inode);
  if (!sessions.empty()) {
    LOG(kInfo) << sessions.size()
               << " client session(s) from before this start: each holds every file that loses "
                  "its last name until its client has sent its open files again";
  }
  core->settler_->Start();
  core->reaper_->Start();
  if (core->tag_index_) {
    // Changes committed from now on reach the index (queued while it loads).
    core->writer_.set_tag_index(core->tag_index_.get());
    core->bulk_->set_tag_index(core->tag_index_.get());
    core->tag_index_->Start();
  }
  return core;
}

void MetaCore::Stop() {
  reaper_->Stop();
  settler_->Stop();
  writer_.Stop();
}

}  // namespace ddbfs::meta
