// ddbfs-chunkserver: stores chunk replicas in data folders and serves the
// ChunkService; registers with the metaserver and heartbeats.

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <thrift/TOutput.h>
#include <CLI/CLI.hpp>

#include "ChunkService.h"
#include "chunk_connection.h"
#include "chunk_service.h"
#include "chunk_store.h"
#include "ddbfs/heap.h"
#include "ddbfs/log.h"
#include "ddbfs/rpc.h"
#include "ddbfs/rpc_server.h"
#include "ddbfs/server_flags.h"
#include "meta_link.h"
#include "scrubber.h"

namespace {

constexpr char kProgram[] = "ddbfs-chunkserver";
constexpr int kExitUsage = 2;

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "%s: %s (see %s --help)\n", kProgram, message.c_str(), kProgram);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  ddbfs::SkipOpenSslCleanupAtExit();
  const bool heap_tuned = ddbfs::KeepLargeBuffersInHeap();
  using namespace ddbfs;
  CLI::App app{"DDBFS chunk server: stores chunk replicas and serves them to clients and peers"};
  std::string listen = "127.0.0.1:" + std::to_string(kDefaultChunkPort);
  std::string meta = "127.0.0.1:" + std::to_string(kDefaultMetaPort);
  std::vector<std::string> data_dirs;
  std::string label = HostName();
  std::string rack;
  std::string log_level = "info";
  RpcServerLimits limits;
  SecurityFlags security_flags;
  int skew_ms = 30000;
  int scrub_interval_s = 3600;
  int scrub_mib_per_s = 16;
  int inventory_check_interval_s = 600;
  double capacity_gib = 0;
  app.add_option("--listen", listen,
                 "HOST:PORT to serve on; also the address given to the metaserver")
      ->capture_default_str();
  app.add_option("--meta", meta,
                 "HOST:PORT of the metaserver; several, comma-separated: the active one and its "
                 "standbys (docs/ha.md)")
      ->capture_default_str();
  app.add_option("--data", data_dirs, "data folder (repeat for several; created if missing)")
      ->required()
      ->take_all();
  app.add_option("--label", label, "host label used to keep replicas on distinct hosts")
      ->capture_default_str();
  app.add_option("--rack", rack,
                 "rack label: replicas go to distinct hosts, then to distinct racks "
                 "(default: none, the host counts as a rack of its own)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  AddServerLimitFlags(app, &limits);
  AddSecurityFlags(app, &security_flags);
  app.add_option("--capability-skew-ms", skew_ms,
                 "how far this server's clock may be behind the metaserver's when it checks "
                 "that a capability has not expired")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600 * 1000));
  app.add_option("--scrub-interval-s", scrub_interval_s,
                 "seconds between two full scrub passes, which read every replica and check "
                 "every block's CRC32C (0: no scrubbing)")
      ->capture_default_str()
      ->check(CLI::Range(0, 365 * 86400));
  app.add_option("--scrub-mib-per-s", scrub_mib_per_s,
                 "MiB per second the scrub reads at most (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--inventory-check-interval-s", inventory_check_interval_s,
                 "seconds between two orphan checks, which send the inventory to the "
                 "metaserver so that replicas it does not know are deleted (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0, 365 * 86400));
  app.add_option("--capacity-gib", capacity_gib,
                 "the replicas may hold at most this many GiB (fractions allowed): new chunk data "
                 "past it is refused (no space left) and the capacity reported to the metaserver "
                 "is at most this; 0: the free space of the data folders' disks")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1024.0 * 1024.0));
  app.set_config("--config", "", "read options from an INI file (key = value, long flag names)");
  app.config_formatter(std::make_shared<CLI::ConfigINI>());
  // A misspelt key in the config file is an error, not silently ignored.
  app.allow_config_extras(CLI::config_extras_mode::error);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Usage(e.what());
  }

  LogLevel level;
  if (!ParseLogLevel(log_level, &level)) return Usage("unknown --log-level '" + log_level + "'");
  std::string listen_host;
  int listen_port = 0;
  if (Status s = ParseHostPort(listen, &listen_host, &listen_port); !s.ok()) {
    return Usage("bad --listen '" + listen + "': expected HOST:PORT");
  }
  Result<std::vector<Endpoint>> metas = ParseAddressList(meta);
  if (!metas.ok()) {
    return Usage("bad --meta '" + meta + "': expected HOST:PORT[,HOST:PORT...]");
  }
  SetLogLevel(level);
  SetLogProgram("chunkserver");
  if (!heap_tuned) {
    LOG(kWarn) << "the C library refused the heap settings for 4 MiB pieces";
  }
  // Thrift's own diagnostics repeat what the Status of the failed call says.
  apache::thrift::GlobalOutput.setOutputFunction(
      [](const char* message) { LOG(kDebug) << "thrift: " << message; });

  auto security = LoadServerSecurity(security_flags);
  if (!security.ok()) {
    LOG(kError) << security.status();
    return 1;
  }
  auto store_or = chunkserver::ChunkStore::Open(data_dirs);
  if (!store_or.ok()) {
    LOG(kError) << "cannot open the data folders: " << store_or.status();
    return 1;
  }
  std::shared_ptr<chunkserver::ChunkStore> store = std::move(store_or).value();
  store->set_capacity_limit(static_cast<uint64_t>(capacity_gib * static_cast<double>(1ull << 30)));
  // Files opened with a small unsynced change are sealed within a second
  // (one syncfs per data folder for all of them; docs/chunk_format.md).
  store->StartSealing(/*interval_ms=*/1000);
  chunkserver::ChunkAuth auth;
  auth.cluster_secret = security->cluster_secret;
  auth.capabilities = CapabilityKey(security->cluster_secret);
  auth.hash_proofs = HashProofKey(security->cluster_secret);
  auth.skew_ms = skew_ms;
  auth.transport = security->peers;
  auto handler = std::make_shared<chunkserver::ChunkService>(store, std::move(auth));
  auto server_or =
      RpcServer::Bind(std::make_shared<rpc::ChunkServiceProcessorFactory>(
                          std::make_shared<chunkserver::ChunkConnectionFactory>(handler)),
                      listen_host, listen_port, limits, security->tls);
  if (!server_or.ok()) {
    LOG(kError) << server_or.status();
    return 1;
  }
  std::unique_ptr<RpcServer> server = std::move(server_or).value();
  RpcServer::StopOnSignals({server.get()});
  handler->set_self_address(listen_host, server->port());

  chunkserver::MetaLinkOptions link_options;
  link_options.metas = *metas;
  link_options.host = listen_host;
  link_options.port = server->port();
  link_options.label = label;
  link_options.rack = rack;
  link_options.transport = security->peers;
  link_options.inventory_check_interval_ms = int64_t{inventory_check_interval_s} * 1000;
  link_options.on_session = [handler](int32_t id, int64_t session) {
    handler->set_server_id(id);
    handler->set_session(session);
  };
  chunkserver::MetaLink link(link_options, store,
                             [handler](int32_t id) { handler->set_server_id(id); });
  link.Start();
  chunkserver::ScrubOptions scrub_options;
  scrub_options.interval_s = scrub_interval_s;
  scrub_options.bytes_per_s = int64_t{scrub_mib_per_s} << 20;
  chunkserver::Scrubber scrubber(store, scrub_options);
  scrubber.Start();

  LOG(kInfo) << "listening on " << listen_host << ":" << server->port() << " (metaserver " << meta
             << ", label " << label << (rack.empty() ? "" : ", rack " + rack)
             << (security->tls.enabled ? ", TLS" : "") << ")";
  server->Serve();
  scrubber.Stop();
  link.Stop();
  LOG(kInfo) << "stopped";
  return 0;
}
