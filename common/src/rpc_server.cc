#include "ddbfs/rpc_server.h"

#include <csignal>

#include <atomic>
#include <chrono>
#include <thread>

#include <thrift/TConfiguration.h>

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
//
// accept() failing for lack of descriptors (EMFILE, ENFILE) or memory makes
// TServerFramework::serve() give up ("TServerTransport died") and the
// process exit; instead such a failure waits a moment and is reported as a
// timeout, after which serve() simply accepts again.
class ListenOnceSocket : public TServerSocket {
 public:
  using TServerSocket::TServerSocket;
  void listen() override {
    if (!isOpen()) TServerSocket::listen();
  }

 protected:
  std::shared_ptr<apache::thrift::transport::TTransport> acceptImpl() override {
    try {
      return TServerSocket::acceptImpl();
    } catch (const apache::thrift::transport::TTransportException& e) {
      if (e.getType() != apache::thrift::transport::TTransportException::UNKNOWN) throw;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_warning_ > std::chrono::seconds(10)) {
        LOG(kWarn) << "cannot accept a connection (" << e.what()
                   << "); serving the open ones and trying again";
        last_warning_ = now;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      throw apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::TIMED_OUT, "accept() failed");
    }
  }

 private:
  std::chrono::steady_clock::time_point last_warning_{};
};
}  // namespace

// Framed transports that carry the server's frame limit.
class FramedFactory : public TFramedTransportFactory {
 public:
  explicit FramedFactory(std::shared_ptr<apache::thrift::TConfiguration> config)
      : config_(std::move(config)) {}
  std::shared_ptr<apache::thrift::transport::TTransport> getTransport(
      std::shared_ptr<apache::thrift::transport::TTransport> trans) override {
    return std::make_shared<apache::thrift::transport::TFramedTransport>(trans, config_);
  }

 private:
  std::shared_ptr<apache::thrift::TConfiguration> config_;
};

struct RpcServer::Impl {
  std::shared_ptr<TServerSocket> socket;
  std::unique_ptr<TThreadedServer> server;
};

Result<std::unique_ptr<RpcServer>> RpcServer::Bind(
    std::shared_ptr<apache::thrift::TProcessor> processor, const std::string& host, int port,
    const RpcServerLimits& limits) {
  std::unique_ptr<RpcServer> s(new RpcServer());
  s->impl_ = std::make_unique<Impl>();
  auto config = std::make_shared<apache::thrift::TConfiguration>(
      apache::thrift::TConfiguration::DEFAULT_MAX_MESSAGE_SIZE, limits.max_frame_bytes);
  s->impl_->socket = std::make_shared<ListenOnceSocket>(host, port);
  // Reads and writes of an accepted connection: an idle one is dropped.
  s->impl_->socket->setRecvTimeout(limits.idle_timeout_ms);
  s->impl_->socket->setSendTimeout(limits.idle_timeout_ms);
  try {
    s->impl_->socket->listen();
  } catch (const apache::thrift::transport::TTransportException& e) {
    return Unavailable("cannot listen on " + host + ":" + std::to_string(port) + " (" + e.what() +
                       ") — is another server using the port?");
  }
  s->port_ = s->impl_->socket->getPort();
  auto protocols =
      std::make_shared<TBinaryProtocolFactory>(limits.max_string_bytes, limits.max_list_items,
                                               /*strict_read=*/false, /*strict_write=*/true);
  s->impl_->server = std::make_unique<TThreadedServer>(
      processor, s->impl_->socket, std::make_shared<FramedFactory>(config), protocols);
  s->impl_->server->setConcurrentClientLimit(limits.max_connections);
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
