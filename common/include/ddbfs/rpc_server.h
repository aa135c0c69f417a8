#pragma once

#include <memory>
#include <string>
#include <vector>

#include <thrift/TProcessor.h>
#include <thrift/transport/TTransport.h>

#include "ddbfs/rpc.h"
#include "ddbfs/status.h"

namespace ddbfs {

// What one peer can make a server hold (docs/protocol.md, "Transport"): a
// hostile or broken peer gets an error and its connection closed, never a
// large allocation, a thread held for ever, or a server that stops.
struct RpcServerLimits {
  // A connection that completes no request for this long (while none of its
  // requests runs) is closed. Clients reconnect transparently.
  int idle_timeout_ms = 120000;
  // Connections served at once; a further one is closed as soon as it is
  // accepted (clients retry).
  int max_connections = 512;
  // Threads kept for running requests (an idle connection holds none).
  // While all are busy another is started for a waiting request, up to one
  // per connection, so handlers that wait on other servers (a chain write
  // forwarded A->B->C while C forwards to B) never starve each other.
  int worker_threads = 64;
  // Largest string/binary field and largest list a request may claim:
  // checked before anything is allocated. Data RPCs carry at most 4 MiB;
  // registration pages at most 50,000 entries.
  int max_string_bytes = 8 << 20;
  int max_list_items = 200000;
  // Largest frame (TFramedTransport).
  int max_frame_bytes = 16 << 20;
};

// Who is at the other end of an accepted connection.
struct PeerInfo {
  bool unix_socket = false;  // a local process; uid/gid/pid from SO_PEERCRED
  std::string address;       // the IP of a TCP peer ("" for a Unix socket)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int pid = 0;
};
// The peer of a connection's transport (the socket a processor factory gets
// in TConnectionInfo::transport).
PeerInfo PeerOf(const std::shared_ptr<apache::thrift::transport::TTransport>& transport);

// Call first in main() of a program that runs an RpcServer, before anything
// else uses OpenSSL: OpenSSL then registers no clean-up at exit. The
// server's worker threads are detached and may still be exiting when main
// returns; one whose thread-local OpenSSL state was freed by that clean-up
// crashed the process (a SIGSEGV in libcrypto after "stopped").
void SkipOpenSslCleanupAtExit();

// A Thrift server (framed binary protocol) that runs until Stop() or
// SIGTERM/SIGINT. Thread-safe Stop(). No thread belongs to a connection: one
// event thread accepts and reads requests of every waiting connection
// without blocking (idle, slow and half-sent connections hold only their
// buffer); a whole request runs on a worker that writes the answer and then
// waits a moment for the client's next request before handing the
// connection back (docs/protocol.md, "Transport").
class RpcServer {
 public:
  // Binds host:port now, so a taken port fails here with a clear Status.
  // host "unix:/path" (port 0) listens on a Unix socket that every local
  // user may connect to (they are told apart by their peer credentials);
  // a stale socket file is replaced. `factory` makes one processor per
  // connection, so a service can keep per-connection state (its peer, what
  // it authenticated as). With tls.enabled the server presents
  // tls.cert_file (TCP only).
  static Result<std::unique_ptr<RpcServer>> Bind(
      std::shared_ptr<apache::thrift::TProcessorFactory> factory, const std::string& host, int port,
      const RpcServerLimits& limits = {}, const TlsOptions& tls = {});
  ~RpcServer();

  // Serves until Stop(); returns after in-flight requests finished.
  void Serve();
  void Stop();
  int port() const { return port_; }

  // Makes SIGTERM and SIGINT call Stop() on `servers` (one set per
  // process) and ignores SIGPIPE.
  static void StopOnSignals(std::vector<RpcServer*> servers);

 private:
  RpcServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace ddbfs
