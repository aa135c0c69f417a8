#include "ddbfs/rpc_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include <thrift/TConfiguration.h>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLServerSocket.h>
#include <thrift/transport/TSSLSocket.h>
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
template <typename Base>
class ListenOnceSocket : public Base {
 public:
  using Base::Base;
  void listen() override {
    if (!this->isOpen()) Base::listen();
  }

 protected:
  std::shared_ptr<apache::thrift::transport::TTransport> acceptImpl() override {
    try {
      return Base::acceptImpl();
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

PeerInfo PeerOf(const std::shared_ptr<apache::thrift::transport::TTransport>& transport) {
  PeerInfo peer;
  auto socket = std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(transport);
  if (!socket) return peer;
  const int fd = socket->getSocketFD();
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
      addr.ss_family == AF_UNIX) {
    peer.unix_socket = true;
    ucred cred{};
    socklen_t cred_len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
      peer.uid = cred.uid;
      peer.gid = cred.gid;
      peer.pid = cred.pid;
    } else {
      // Unknown credentials never mean root.
      peer.uid = peer.gid = 65534;
    }
    return peer;
  }
  try {
    peer.address = socket->getPeerAddress();
  } catch (const apache::thrift::TException&) {
  }
  return peer;
}

Result<std::unique_ptr<RpcServer>> RpcServer::Bind(
    std::shared_ptr<apache::thrift::TProcessorFactory> factory, const std::string& host, int port,
    const RpcServerLimits& limits, const TlsOptions& tls) {
  std::unique_ptr<RpcServer> s(new RpcServer());
  s->impl_ = std::make_unique<Impl>();
  auto config = std::make_shared<apache::thrift::TConfiguration>(
      apache::thrift::TConfiguration::DEFAULT_MAX_MESSAGE_SIZE, limits.max_frame_bytes);
  const bool unix_socket = IsUnixAddress(host);
  const std::string unix_path = unix_socket ? host.substr(5) : "";
  if (unix_socket) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(unix_path).parent_path(), ec);
    struct stat st {};
    if (::lstat(unix_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(unix_path.c_str());
    s->impl_->socket = std::make_shared<ListenOnceSocket<TServerSocket>>(unix_path);
  } else if (tls.enabled) {
    try {
      auto ssl = std::make_shared<apache::thrift::transport::TSSLSocketFactory>(
          apache::thrift::transport::SSLProtocol::TLSv1_2);
      ssl->server(true);
      ssl->authenticate(false);  // clients prove a key, not a certificate
      ssl->loadCertificate(tls.cert_file.c_str());
      ssl->loadPrivateKey(tls.key_file.c_str());
      s->impl_->socket =
          std::make_shared<ListenOnceSocket<apache::thrift::transport::TSSLServerSocket>>(
              host, port, ssl);
    } catch (const apache::thrift::TException& e) {
      return InvalidArgument("cannot load the server's TLS certificate or key (" +
                             std::string(e.what()) + ")");
    }
  } else {
    s->impl_->socket = std::make_shared<ListenOnceSocket<TServerSocket>>(host, port);
  }
  // Reads and writes of an accepted connection: an idle one is dropped.
  s->impl_->socket->setRecvTimeout(limits.idle_timeout_ms);
  s->impl_->socket->setSendTimeout(limits.idle_timeout_ms);
  try {
    s->impl_->socket->listen();
  } catch (const apache::thrift::transport::TTransportException& e) {
    return Unavailable("cannot listen on " + FormatAddress(host, port) + " (" + e.what() +
                       ") — is another server using the port?");
  }
  if (unix_socket && ::chmod(unix_path.c_str(), 0666) != 0) {
    return Unavailable("cannot make " + unix_path + " reachable by local users (" +
                       std::strerror(errno) + ")");
  }
  s->port_ = unix_socket ? 0 : s->impl_->socket->getPort();
  auto protocols =
      std::make_shared<TBinaryProtocolFactory>(limits.max_string_bytes, limits.max_list_items,
                                               /*strict_read=*/false, /*strict_write=*/true);
  s->impl_->server = std::make_unique<TThreadedServer>(
      factory, s->impl_->socket, std::make_shared<FramedFactory>(config), protocols);
  s->impl_->server->setConcurrentClientLimit(limits.max_connections);
  return s;
}

RpcServer::~RpcServer() = default;

void RpcServer::Serve() { impl_->server->serve(); }

void RpcServer::Stop() { impl_->server->stop(); }

namespace {
std::mutex g_signal_mu;
std::vector<RpcServer*> g_signal_targets;  // GUARDED_BY(g_signal_mu)
int g_signal_pipe[2] = {-1, -1};

void OnSignal(int) {
  char c = 1;
  ssize_t ignored = ::write(g_signal_pipe[1], &c, 1);
  (void)ignored;
}
}  // namespace

void RpcServer::StopOnSignals(std::vector<RpcServer*> servers) {
  {
    std::lock_guard<std::mutex> lock(g_signal_mu);
    g_signal_targets = std::move(servers);
  }
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
    std::lock_guard<std::mutex> lock(g_signal_mu);
    for (RpcServer* s : g_signal_targets) {
      if (s != nullptr) s->Stop();
    }
  }).detach();
}

}  // namespace ddbfs
