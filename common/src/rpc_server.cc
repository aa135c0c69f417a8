#include "ddbfs/rpc_server.h"

#include <csignal>

#include <atomic>
#include <thread>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>
#include <thrift/transport/TTransportException.h>

#include "ddbfs/log.h"

namespace ddbfs {

using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::server::TThreadedServer;
using apache::thrift::transport::TFramedTransportFactory;
using apache::thrift::transport::TServerSocket;

namespace {
// Bind() listens early so that a taken port fails there; TThreadedServer's
// serve() calls listen() again, which must then be a no-op.
class ListenOnceSocket : public TServerSocket {
 public:
  using TServerSocket::TServerSocket;
  void listen() override {
    if (!isOpen()) TServerSocket::listen();
  }
};
}  // namespace

struct RpcServer::Impl {
  std::shared_ptr<TServerSocket> socket;
  std::unique_ptr<TThreadedServer> server;
};

Result<std::unique_ptr<RpcServer>> RpcServer::Bind(
    std::shared_ptr<apache::thrift::TProcessor> processor, const std::string& host, int port) {
  std::unique_ptr<RpcServer> s(new RpcServer());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->socket = std::make_shared<ListenOnceSocket>(host, port);
  try {
    s->impl_->socket->listen();
  } catch (const apache::thrift::transport::TTransportException& e) {
    return Unavailable("cannot listen on " + host + ":" + std::to_string(port) + " (" + e.what() +
                       ") — is another server using the port?");
  }
  s->port_ = s->impl_->socket->getPort();
  s->impl_->server = std::make_unique<TThreadedServer>(processor, s->impl_->socket,
                                                       std::make_shared<TFramedTransportFactory>(),
                                                       std::make_shared<TBinaryProtocolFactory>());
  return s;
}

RpcServer::~RpcServer() = default;

void RpcServer::Serve() { impl_->server->serve(); }

void RpcServer::Stop() { impl_->server->stop(); }

namespace {
std::atomic<RpcServer*> g_signal_target{nullptr};
int g_signal_pipe[2] = {-1, -1};

void OnSignal(int) {
  char c = 1;
  ssize_t ignored = ::write(g_signal_pipe[1], &c, 1);
  (void)ignored;
}
}  // namespace

void RpcServer::StopOnSignals(RpcServer* server) {
  g_signal_target = server;
  if (::pipe(g_signal_pipe) != 0) return;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Stop() is not async-signal-safe, so a thread waits on the pipe.
  std::thread([] {
    char c;
    while (::read(g_signal_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    LOG(kInfo) << "signal received, shutting down";
    if (RpcServer* s = g_signal_target.load()) s->Stop();
  }).detach();
}

}  // namespace ddbfs
