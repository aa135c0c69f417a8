// ddbfs-metaserver: the metadata server (docs/metadata.md).

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "MetaService.h"
#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "ddbfs/rpc.h"
#include "ddbfs/rpc_server.h"
#include "ddbfs/server_flags.h"
#include "metaserver/lock_keeper.h"
#include "metaserver/meta_core.h"
#include "metaserver/ops/content_rehasher.h"
#include "metaserver/ops/repairer.h"
#include "metaserver/service/meta_service.h"
#include "metaserver/service/security.h"

namespace {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  ddbfs::SkipOpenSslCleanupAtExit();
  using namespace ddbfs;
  CLI::App app{"ddbfs-metaserver: DDBFS metadata server (namespace, chunk map, chunk servers)"};
  std::string listen = "127.0.0.1:" + std::to_string(kDefaultMetaPort);
  std::string db;
  int heartbeat_timeout_ms = 10000;
  int db_wait_ms = 30000;
  int startup_grace_ms = -1;
  int lease_ms = 20000;
  int session_timeout_ms = 60000;
  std::string log_level = "info";
  RpcServerLimits limits;
  SecurityFlags security_flags;
  std::string unix_socket;
  int capability_ms = 10 * 60 * 1000;
  int request_timeout_ms = 30000;
  meta::MetaOptions options;
  meta::RehashOptions rehash;
  int rehash_mib_per_s = static_cast<int>(rehash.bytes_per_s >> 20);
  int request_log_retention_s = static_cast<int>(options.request_log_retention.count());
  meta::RepairOptions repair;
  int repair_mib_per_s = static_cast<int>(repair.bytes_per_s >> 20);
  app.set_config("--config", "", "INI file with these options as 'key = value' lines");
  // A misspelt key in the config file is an error, not silently ignored.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--listen", listen, "HOST:PORT to serve on")->capture_default_str();
  app.add_option("--unix-socket", unix_socket,
                 "also serve on this Unix socket; a local process connecting there is "
                 "authenticated as its own uid (docs/security.md), no key needed");
  app.add_option("--capability-ms", capability_ms,
                 "how long a chunk capability handed to a client stays valid")
      ->capture_default_str()
      ->check(CLI::Range(1000, 24 * 3600 * 1000));
  app.add_option("--db", db, "PostgreSQL URL, e.g. postgresql://postgres@127.0.0.1:5432/ddbfs")
      ->envname("DDBFS_DB")
      ->required();
  app.add_option("--heartbeat-timeout-ms", heartbeat_timeout_ms,
                 "a chunk server without heartbeat for this long is dead")
      ->capture_default_str()
      ->check(CLI::Range(100, 3600 * 1000));
  app.add_option("--startup-grace-ms", startup_grace_ms,
                 "after a start, new chunks wait at most this long for the chunk servers known "
                 "from the database to register again (-1: 2 x heartbeat timeout, at most 60 s)")
      ->capture_default_str()
      ->check(CLI::Range(-1, 3600 * 1000));
  app.add_option("--db-wait-ms", db_wait_ms,
                 "how long to keep retrying PostgreSQL at start before giving up")
      ->capture_default_str()
      ->check(CLI::Range(0, 24 * 3600 * 1000));
  app.add_option("--lease-ms", lease_ms,
                 "a client's write lease on a chunk lasts this long unless renewed; a writer "
                 "that dies is settled after it")
      ->capture_default_str()
      ->check(CLI::Range(100, 3600 * 1000));
  app.add_option("--session-timeout-ms", session_timeout_ms,
                 "a client session (a mount) not renewed for this long is dead: the files it "
                 "kept open after their unlink are deleted with their data")
      ->capture_default_str()
      ->check(CLI::Range(300, 24 * 3600 * 1000));
  app.add_option("--max-open-files-per-session", options.sessions.max_open_files,
                 "most files one client session (a mount) may declare open; an open past it "
                 "fails with ENFILE (each costs the metaserver about 50 bytes of memory)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--request-timeout-ms", request_timeout_ms,
                 "deadline of a request whose client sends none (RequestContext.timeout_ms)")
      ->capture_default_str()
      ->check(CLI::Range(1, 600 * 1000));
  app.add_option("--db-statement-timeout-ms", options.session.statement_timeout_ms,
                 "PostgreSQL statement_timeout of every session (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600 * 1000));
  app.add_option("--db-lock-timeout-ms", options.session.lock_timeout_ms,
                 "PostgreSQL lock_timeout of every session (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600 * 1000));
  app.add_option("--db-idle-in-transaction-timeout-ms",
                 options.session.idle_in_transaction_timeout_ms,
                 "PostgreSQL idle_in_transaction_session_timeout of every session (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600 * 1000));
  app.add_option("--request-log-retention-s", request_log_retention_s,
                 "how long answers of mutations are kept for retries (0: for ever)")
      ->capture_default_str()
      ->check(CLI::Range(0, 30 * 24 * 3600));
  app.add_option("--rehash-interval-ms", rehash.interval_ms,
                 "pause between two passes of the background rehash, which recomputes stale "
                 "content hashes (docs/content_hash.md); 0: none")
      ->capture_default_str()
      ->check(CLI::Range(0, 24 * 3600 * 1000));
  app.add_option("--rehash-mib-per-s", rehash_mib_per_s,
                 "the background rehash reads at most this many MiB per second")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--bulk-tag-threshold", options.bulk_threshold,
                 "a tag change over more documents than this runs as one transaction beside "
                 "the group commit (docs/tags.md, \"Bulk changes\")")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  app.add_option("--repair-interval-ms", repair.interval_ms,
                 "pause between two passes of the repair, which copies chunks under their goal "
                 "back to it and trims replicas over it (docs/repair.md); 0: no repair")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600 * 1000));
  app.add_option("--repair-idle-scan-ms", repair.idle_scan_ms,
                 "after a repair pass that found nothing, the next passes skip their scans of "
                 "the chunk map while nothing changed, but one runs at least this often "
                 "(docs/repair.md, \"A pass\"); 0: every pass scans")
      ->capture_default_str()
      ->check(CLI::Range(0, 24 * 3600 * 1000));
  app.add_option("--repair-copies", repair.max_copies,
                 "chunk copies the repair keeps in flight at once, over the whole cluster")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--repair-mib-per-s", repair_mib_per_s,
                 "the repair's copies move at most this many MiB per second together (each "
                 "copy is paced to this / --repair-copies); 0: no limit")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--rebalance-margin-pct", repair.rebalance_margin_pct,
                 "the repair moves chunks from the most used chunk server to the least used "
                 "while their usage (bytes of replicas / capacity) differs by more than this "
                 "many percentage points (docs/repair.md, \"Rebalancing\"); 0: no rebalancing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--meta-cache-entries", options.cache_entries,
                 "inodes and directory entries the metaserver keeps in memory to answer lookups "
                 "and getattrs without PostgreSQL (each; about 250 bytes apiece; 0: no cache; "
                 "docs/metadata.md, \"The namespace cache\")")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{100000000}));
  app.add_flag("--meta-cache-verify", options.cache_verify,
               "read every cache hit of the writer from PostgreSQL too and stop at a difference "
               "(for tests)");
  int orphan_grace_s = 3600;
  app.add_option("--orphan-grace-s", orphan_grace_s,
                 "a replica file that the metadata does not know is deleted once it is this "
                 "old (chunk servers report their files every --inventory-check-interval-s; "
                 "docs/repair.md, \"Orphans\")")
      ->capture_default_str()
      ->check(CLI::Range(0, 365 * 86400));
  int64_t chunk_retention_s = 86400;
  app.add_option("--chunk-retention-s", chunk_retention_s,
                 "replicas of chunks the metadata no longer has (deleted and truncated files, "
                 "chunks a server reports that the metadata does not know) stay on their chunk "
                 "server this long before they are deleted, so that a restored metadata backup "
                 "still finds them; 0: delete at once (docs/backup.md)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3650} * 86400));
  int retention_min_free_pct = 5;
  app.add_option("--chunk-retention-min-free-pct", retention_min_free_pct,
                 "a chunk server with less free space than this percentage of its capacity has "
                 "its held replicas deleted before the retention, oldest first; 0: never "
                 "(docs/backup.md)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  AddServerLimitFlags(app, &limits);
  AddSecurityFlags(app, &security_flags);
  CLI11_PARSE(app, argc, argv);

  SetLogProgram("metaserver");
  LogLevel level;
  if (!ParseLogLevel(log_level, &level)) {
    std::fprintf(stderr, "ddbfs-metaserver: unknown log level '%s' (debug, info, warn, error)\n",
                 log_level.c_str());
    return 2;
  }
  SetLogLevel(level);
  std::string host;
  int port = 0;
  if (Status s = ParseHostPort(listen, &host, &port); !s.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: --listen: %s\n", s.ToString().c_str());
    return 2;
  }

  auto security = LoadServerSecurity(security_flags);
  if (!security.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: %s\n", security.status().ToString().c_str());
    return 1;
  }

  // A standby until this process holds the active lock: it binds nothing,
  // so clients and chunk servers given several addresses find the active
  // one (docs/ha.md).
  meta::LockKeeperOptions lock_options;
  lock_options.db_url = db;
  lock_options.session = options.session;
  lock_options.db_wait = std::chrono::milliseconds(db_wait_ms);
  lock_options.holder = HostName() + " " + listen + " pid " + std::to_string(::getpid());
  auto keeper = meta::LockKeeper::Acquire(lock_options);
  if (!keeper.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: %s\n", keeper.status().ToString().c_str());
    return 1;
  }
  (*keeper)->Start();
  options.writer_connect = [k = keeper->get()] { return k->Connect(); };
  options.active_epoch = (*keeper)->epoch();

  options.db_url = db;
  options.peers = security->peers;
  options.request_log_retention = std::chrono::seconds(request_log_retention_s);
  options.heartbeat_timeout = std::chrono::milliseconds(heartbeat_timeout_ms);
  options.db_wait = std::chrono::milliseconds(db_wait_ms);
  options.leases.lease_ms = lease_ms;
  options.sessions.timeout_ms = session_timeout_ms;
  auto core = meta::MetaCore::Open(options);
  if (!core.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: %s\n", core.status().ToString().c_str());
    return 1;
  }

  (*keeper)->set_writer(&(*core)->writer());
  (*keeper)->set_on_resume(
      [servers = &(*core)->servers()](std::chrono::steady_clock::time_point since) {
        servers->ForgiveSilenceSince(since);
      });
  (*core)->ctx().check_active = [k = keeper->get()] { return k->Serving(); };
  if (startup_grace_ms >= 0) {
    (*core)->servers().set_startup_grace(std::chrono::milliseconds(startup_grace_ms));
  }
  meta::KeyRegistry keys((*core)->ctx());
  if (Status s = keys.Load(); !s.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: cannot load the export keys: %s\n",
                 s.ToString().c_str());
    return 1;
  }
  keys.Start();
  meta::MetaSecurity meta_security;
  meta_security.cluster_secret = security->cluster_secret;
  meta_security.capabilities = CapabilityKey(security->cluster_secret);
  meta_security.capability_ms = capability_ms;
  meta_security.hash_proofs = HashProofKey(security->cluster_secret);
  meta_security.page_tokens = meta::PageTokenKey(security->cluster_secret);
  meta_security.keys = &keys;
  auto factory =
      std::make_shared<rpc::MetaServiceProcessorFactory>(std::make_shared<meta::MetaServiceFactory>(
          (*core)->ctx(), meta_security, std::chrono::milliseconds(request_timeout_ms)));
  // The Unix socket first: once the TCP port answers, both are up.
  std::unique_ptr<RpcServer> local;
  if (!unix_socket.empty()) {
    auto bound = RpcServer::Bind(factory, "unix:" + unix_socket, 0, limits);
    if (!bound.ok()) {
      std::fprintf(stderr, "ddbfs-metaserver: %s\n", bound.status().ToString().c_str());
      return 1;
    }
    local = std::move(bound).value();
  }
  auto server = RpcServer::Bind(factory, host, port, limits, security->tls);
  if (!server.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: %s\n", server.status().ToString().c_str());
    return 1;
  }
  RpcServer::StopOnSignals({server->get(), local.get()});
  LOG(kInfo) << "active (epoch " << (*keeper)->epoch() << "), serving on " << host << ":"
             << (*server)->port() << (security->tls.enabled ? " (TLS)" : "")
             << (unix_socket.empty() ? "" : " and " + unix_socket) << ", heartbeat timeout "
             << heartbeat_timeout_ms << " ms, startup grace "
             << (*core)->servers().startup_grace().count() << " ms";
  rehash.bytes_per_s = static_cast<int64_t>(rehash_mib_per_s) << 20;
  rehash.seal_ms = capability_ms;
  meta::ContentRehasher rehasher((*core)->ctx(), rehash);
  rehasher.Start();
  repair.bytes_per_s = static_cast<int64_t>(repair_mib_per_s) << 20;
  meta::Repairer repairer((*core)->ctx(), repair);
  (*core)->ctx().repairer = &repairer;
  (*core)->ctx().orphan_grace_ms = int64_t{orphan_grace_s} * 1000;
  (*core)->ctx().chunk_retention_ms = chunk_retention_s * 1000;
  (*core)->ctx().retention_min_free_pct = retention_min_free_pct;
  LOG(kInfo) << "replicas of deleted chunks are kept " << chunk_retention_s
             << " s before they are deleted (--chunk-retention-s)";
  repairer.Start();
  std::thread local_thread;
  if (local) local_thread = std::thread([&] { local->Serve(); });
  (*server)->Serve();
  if (local) local->Stop();
  if (local_thread.joinable()) local_thread.join();
  repairer.Stop();
  rehasher.Stop();
  keys.Stop();
  // Nothing is served any more: the next active metaserver need not wait.
  (*keeper)->Release((*core)->writer());
  (*keeper)->Stop();
  (*core)->Stop();
  LOG(kInfo) << "stopped; " << (*core)->writer().ops() << " writes in "
             << (*core)->writer().transactions() << " transactions";
  return 0;
}
