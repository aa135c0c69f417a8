// ddbfs-metaserver: the metadata server (docs/metadata.md).

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "MetaService.h"
#include "ddbfs/constants.h"
#include "ddbfs/log.h"
#include "ddbfs/rpc.h"
#include "ddbfs/rpc_server.h"
#include "metaserver/meta_core.h"
#include "metaserver/service/meta_service.h"

int main(int argc, char** argv) {
  using namespace ddbfs;
  CLI::App app{"ddbfs-metaserver: DDBFS metadata server (namespace, chunk map, chunk servers)"};
  std::string listen = "127.0.0.1:" + std::to_string(kDefaultMetaPort);
  std::string db;
  int heartbeat_timeout_ms = 10000;
  int db_wait_ms = 30000;
  std::string log_level = "info";
  app.set_config("--config", "", "INI file with these options as 'key = value' lines");
  app.add_option("--listen", listen, "HOST:PORT to serve on")->capture_default_str();
  app.add_option("--db", db, "PostgreSQL URL, e.g. postgresql://postgres@127.0.0.1:5432/ddbfs")
      ->envname("DDBFS_DB")
      ->required();
  app.add_option("--heartbeat-timeout-ms", heartbeat_timeout_ms,
                 "a chunk server without heartbeat for this long is dead")
      ->capture_default_str()
      ->check(CLI::Range(100, 3600 * 1000));
  app.add_option("--db-wait-ms", db_wait_ms,
                 "how long to keep retrying PostgreSQL at start before giving up")
      ->capture_default_str()
      ->check(CLI::Range(0, 24 * 3600 * 1000));
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
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

  meta::MetaOptions options;
  options.db_url = db;
  options.heartbeat_timeout = std::chrono::milliseconds(heartbeat_timeout_ms);
  options.db_wait = std::chrono::milliseconds(db_wait_ms);
  auto core = meta::MetaCore::Open(options);
  if (!core.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: %s\n", core.status().ToString().c_str());
    return 1;
  }

  auto handler = std::make_shared<meta::MetaServiceHandler>((*core)->ctx());
  auto processor = std::make_shared<rpc::MetaServiceProcessor>(handler);
  auto server = RpcServer::Bind(processor, host, port);
  if (!server.ok()) {
    std::fprintf(stderr, "ddbfs-metaserver: %s\n", server.status().ToString().c_str());
    return 1;
  }
  RpcServer::StopOnSignals(server->get());
  LOG(kInfo) << "serving on " << host << ":" << (*server)->port() << ", heartbeat timeout "
             << heartbeat_timeout_ms << " ms";
  (*server)->Serve();
  (*core)->Stop();
  LOG(kInfo) << "stopped; " << (*core)->writer().ops() << " writes in "
             << (*core)->writer().transactions() << " transactions";
  return 0;
}
