#pragma once

// The command-line flags every server has for RpcServerLimits (CLI11).

#include <CLI/CLI.hpp>

#include "ddbfs/rpc_server.h"

namespace ddbfs {

inline void AddServerLimitFlags(CLI::App& app, RpcServerLimits* limits) {
  app.add_option("--idle-timeout-ms", limits->idle_timeout_ms,
                 "close a connection that sends nothing for this long")
      ->capture_default_str()
      ->check(CLI::Range(100, 24 * 3600 * 1000));
  app.add_option("--max-connections", limits->max_connections, "connections served at once")
      ->capture_default_str()
      ->check(CLI::Range(4, 100000));
}

}  // namespace ddbfs
