#pragma once

#include <memory>
#include <string>

#include <thrift/TProcessor.h>

#include "ddbfs/status.h"

namespace ddbfs {

// What one peer can make a server hold (docs/protocol.md, "Transport"): a
// hostile or broken peer gets an error and its connection closed, never a
// large allocation, a thread held for ever, or a server that stops.
struct RpcServerLimits {
  // A connection that sends nothing for this long is closed (its thread
  // freed). Clients reconnect transparently.
  int idle_timeout_ms = 120000;
  // Connections served at once; further ones wait in the listen backlog.
  int max_connections = 512;
  // Largest string/binary field and largest list a request may claim:
  // checked before anything is allocated. Data RPCs carry at most 4 MiB;
  // registration pages at most 50,000 entries.
  int max_string_bytes = 8 << 20;
  int max_list_items = 200000;
  // Largest frame (TFramedTransport).
  int max_frame_bytes = 16 << 20;
};

// A Thrift server (framed binary protocol, one thread per connection) that
// runs until Stop() or SIGTERM/SIGINT. Thread-safe Stop().
class RpcServer {
 public:
  // Binds host:port now, so a taken port fails here with a clear Status.
  static Result<std::unique_ptr<RpcServer>> Bind(
      std::shared_ptr<apache::thrift::TProcessor> processor, const std::string& host, int port,
      const RpcServerLimits& limits = {});
  ~RpcServer();

  // Serves until Stop(); returns after in-flight requests finished.
  void Serve();
  void Stop();
  int port() const { return port_; }

  // Makes SIGTERM and SIGINT call Stop() on `server` (one per process) and
  // ignores SIGPIPE.
  static void StopOnSignals(RpcServer* server);

 private:
  RpcServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace ddbfs
