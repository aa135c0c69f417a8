#pragma once

#include <memory>
#include <string>

#include <thrift/TProcessor.h>

#include "ddbfs/status.h"

namespace ddbfs {

// A Thrift server (framed binary protocol, one thread per connection) that
// runs until Stop() or SIGTERM/SIGINT. Thread-safe Stop().
class RpcServer {
 public:
  // Binds host:port now, so a taken port fails here with a clear Status.
  static Result<std::unique_ptr<RpcServer>> Bind(
      std::shared_ptr<apache::thrift::TProcessor> processor, const std::string& host, int port);
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
