#include "ddbfs/rpc_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <thrift/concurrency/Exception.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/transport/TNonblockingSSLServerSocket.h>
#include <thrift/transport/TNonblockingServerSocket.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#include "ddbfs/log.h"

namespace ddbfs {

using apache::thrift::TConnectionInfo;
using apache::thrift::TProcessor;
using apache::thrift::TProcessorFactory;
using apache::thrift::concurrency::Runnable;
using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::protocol::TProtocol;
using apache::thrift::server::TNonblockingServer;
using apache::thrift::server::TServerEventHandler;
using apache::thrift::transport::TNonblockingServerSocket;
using apache::thrift::transport::TNonblockingServerTransport;
using apache::thrift::transport::TNonblockingSSLServerSocket;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TSSLSocket;
using apache::thrift::transport::TSSLSocketFactory;

// How the server is put together (docs/protocol.md, "Transport"):
//
// - One I/O thread (TNonblockingServer's libevent loop) reads whole frames
//   and writes whole answers for every connection; a connection holds no
//   thread while it is idle or sending.
// - A complete request runs on a worker of WorkerPool. Handlers block on
//   calls to other servers (a chunk server forwards a write down the chain
//   and waits; chains run in both directions, so B's workers can wait on C
//   while C's wait on B). A fixed pool could therefore deadlock until the
//   forward calls time out; this pool keeps `worker_threads` workers and
//   starts another whenever a request would otherwise wait, up to one per
//   connection (a connection has at most one request in flight), so a
//   request never waits for a worker, exactly as with a thread per
//   connection, and the connection limit bounds the threads.
// - A helper thread accepts (a failing accept(), e.g. EMFILE, pauses
//   accepting for a moment instead of stopping the server or spinning the
//   I/O thread) and hands the sockets to the I/O thread; it also closes
//   connections that completed no request for the idle timeout.

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- the worker pool

class WorkerPool : public ThreadManager {
 public:
  WorkerPool(size_t keep, size_t max) : s_(std::make_shared<Shared>()) {
    s_->keep = std::max<size_t>(1, keep);
    s_->max = std::max(s_->keep, max);
  }

  void start() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->state != UNINITIALIZED) return;
    s_->state = STARTED;
    for (size_t i = 0; i < s_->keep; ++i) SpawnLocked();
  }

  // Pending requests are dropped (their connections are closed with the
  // server); running ones finish first.
  void stop() override {
    std::unique_lock<std::mutex> lock(s_->mu);
    if (s_->state == STOPPED) return;
    s_->state = STOPPING;
    std::deque<std::shared_ptr<Runnable>> dropped;
    dropped.swap(s_->tasks);
    s_->wake.notify_all();
    lock.unlock();
    dropped.clear();
    lock.lock();
    s_->gone.wait(lock, [&] { return s_->threads == 0; });
    s_->state = STOPPED;
  }

  STATE state() const override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->state;
  }

  void add(std::shared_ptr<Runnable> task, int64_t /*timeout*/, int64_t /*expiration*/) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->state != STARTED) {
      throw apache::thrift::concurrency::IllegalStateException("the server is stopping");
    }
    s_->tasks.push_back(std::move(task));
    // Every pending request needs a worker that is free now.
    if (s_->tasks.size() > s_->idle && s_->threads < s_->max) SpawnLocked();
    s_->wake.notify_one();
  }

  std::shared_ptr<ThreadFactory> threadFactory() const override { return nullptr; }
  void threadFactory(std::shared_ptr<ThreadFactory>) override {}
  void addWorker(size_t value) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->keep += value;
    s_->max = std::max(s_->max, s_->keep);
  }
  void removeWorker(size_t value) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->keep = std::max<size_t>(1, s_->keep > value ? s_->keep - value : 1);
  }
  size_t idleWorkerCount() const override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->idle;
  }
  size_t workerCount() const override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->threads;
  }
  size_t pendingTaskCount() const override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->tasks.size();
  }
  size_t totalTaskCount() const override {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->tasks.size() + s_->threads - s_->idle;
  }
  size_t pendingTaskCountMax() const override { return 0; }
  size_t expiredTaskCount() const override { return 0; }
  void remove(std::shared_ptr<Runnable> task) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto it = std::find(s_->tasks.begin(), s_->tasks.end(), task);
    if (it != s_->tasks.end()) s_->tasks.erase(it);
  }
  std::shared_ptr<Runnable> removeNextPending() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->tasks.empty()) return nullptr;
    auto task = std::move(s_->tasks.front());
    s_->tasks.pop_front();
    return task;
  }
  void removeExpiredTasks() override {}  // tasks never expire here
  void setExpireCallback(ExpireCallback) override {}

 private:
  // Shared with the (detached) workers, which may outlive the pool object by
  // the few instructions after their last unlock.
  struct Shared {
    mutable std::mutex mu;
    std::condition_variable wake;  // a task arrived, or the pool stops
    std::condition_variable gone;  // the last worker exited
    std::deque<std::shared_ptr<Runnable>> tasks;
    size_t threads = 0;  // workers alive
    size_t idle = 0;     // workers waiting for a task
    size_t keep = 1;     // workers kept while idle
    size_t max = 1;
    STATE state = UNINITIALIZED;
    std::chrono::steady_clock::time_point last_spawn_failure{};
  };

  void SpawnLocked() {
    ++s_->threads;
    try {
      std::thread(Work, s_).detach();
    } catch (const std::system_error& e) {
      --s_->threads;
      const auto now = std::chrono::steady_clock::now();
      if (now - s_->last_spawn_failure > std::chrono::seconds(10)) {
        LOG(kWarn) << "cannot start a worker thread (" << e.what() << "); " << s_->threads
                   << " serve the requests";
        s_->last_spawn_failure = now;
      }
    }
  }

  static void Work(std::shared_ptr<Shared> s) {
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
      if (s->state != STARTED) break;
      if (s->tasks.empty()) {
        ++s->idle;
        const bool woken = s->wake.wait_for(lock, std::chrono::seconds(30), [&] {
          return !s->tasks.empty() || s->state != STARTED;
        });
        --s->idle;
        // Workers started for a burst leave once it is over.
        if (!woken && s->threads > s->keep) break;
        continue;
      }
      std::shared_ptr<Runnable> task = std::move(s->tasks.front());
      s->tasks.pop_front();
      lock.unlock();
      try {
        task->run();
      } catch (const std::exception& e) {
        LOG(kWarn) << "a request failed outside its handler: " << e.what();
      } catch (...) {
        LOG(kWarn) << "a request failed outside its handler";
      }
      task.reset();  // may release a connection's processor, outside the lock
      lock.lock();
    }
    if (--s->threads == 0) s->gone.notify_all();
  }

  std::shared_ptr<Shared> s_;
};

// ---- open connections, for the idle timeout

struct ConnState {
  int fd = -1;
  std::atomic<int64_t> last_ms{0};  // when the last request finished (or accept)
  std::atomic<bool> busy{false};    // a request of it is running
  // GUARDED_BY(Connections::mu_):
  bool open = true;  // the socket is not closed yet, so `fd` is still its descriptor
  int shut = 0;      // 1: shut for reading, 2: for both directions
  int64_t shut_ms = 0;
};

// Every open connection, keyed by its input protocol (which TNonblockingServer
// gives both to the processor factory and to deleteContext). An entry leaves
// in deleteContext, before the socket is closed, so a descriptor found here
// under the mutex is still the connection's own.
class Connections {
 public:
  void Add(const void* key, std::shared_ptr<ConnState> c) {
    std::lock_guard<std::mutex> lock(mu_);
    open_[key] = std::move(c);
  }
  void Remove(const void* key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(key);
    if (it == open_.end()) return;
    it->second->open = false;
    open_.erase(it);
  }
  // Makes the I/O thread see the end of the connection and close it.
  void Shutdown(ConnState* c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->open && c->shut == 0) {
      ::shutdown(c->fd, SHUT_RD);
      c->shut = 1;
      c->shut_ms = NowMs();
    }
  }
  // Connections that completed no request for `timeout_ms` are shut for
  // reading: the I/O thread reads their end and closes them cleanly (a TLS
  // peer gets its close_notify). One still open `grace_ms` later (it was
  // blocked sending to a peer that does not read) is shut both ways.
  void Sweep(int64_t now, int64_t timeout_ms, int64_t grace_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, c] : open_) {
      if (c->shut == 1 && now - c->shut_ms >= grace_ms) {
        ::shutdown(c->fd, SHUT_RDWR);
        c->shut = 2;
        continue;
      }
      if (c->shut != 0 || c->busy.load() || now - c->last_ms.load() < timeout_ms) continue;
      ::shutdown(c->fd, SHUT_RD);
      c->shut = 1;
      c->shut_ms = now;
    }
  }

 private:
  std::mutex mu_;
  std::unordered_map<const void*, std::shared_ptr<ConnState>> open_;  // GUARDED_BY(mu_)
};

// Wraps a connection's processor: marks it busy while a request runs, and
// closes the connection after a request that could not be decoded (a field
// over the limits, a truncated message), as a thread-per-connection server
// does; TNonblockingServer itself would wait for the next frame.
class TrackedProcessor : public TProcessor {
 public:
  TrackedProcessor(std::shared_ptr<TProcessor> inner, std::shared_ptr<ConnState> state,
                   std::shared_ptr<Connections> connections)
      : inner_(std::move(inner)), state_(std::move(state)), connections_(std::move(connections)) {}

  bool process(std::shared_ptr<TProtocol> in, std::shared_ptr<TProtocol> out,
               void* context) override {
    state_->busy = true;
    bool ok = false;
    if (inner_) {
      try {
        ok = inner_->process(in, out, context);
      } catch (const std::exception& e) {
        LOG(kDebug) << "closing a connection after a request it could not decode: " << e.what();
      }
    }
    state_->last_ms = NowMs();
    state_->busy = false;
    if (!ok) connections_->Shutdown(state_.get());
    return ok;
  }

 private:
  std::shared_ptr<TProcessor> inner_;
  std::shared_ptr<ConnState> state_;
  std::shared_ptr<Connections> connections_;
};

class TrackedProcessorFactory : public TProcessorFactory {
 public:
  TrackedProcessorFactory(std::shared_ptr<TProcessorFactory> inner,
                          std::shared_ptr<Connections> connections)
      : inner_(std::move(inner)), connections_(std::move(connections)) {}

  std::shared_ptr<TProcessor> getProcessor(const TConnectionInfo& info) override {
    auto state = std::make_shared<ConnState>();
    if (auto socket = std::dynamic_pointer_cast<TSocket>(info.transport)) {
      state->fd = socket->getSocketFD();
    }
    state->last_ms = NowMs();
    connections_->Add(info.input.get(), state);
    std::shared_ptr<TProcessor> processor;
    try {
      processor = inner_->getProcessor(info);
    } catch (const std::exception& e) {
      LOG(kWarn) << "cannot serve a new connection: " << e.what();
    }
    return std::make_shared<TrackedProcessor>(std::move(processor), std::move(state), connections_);
  }

 private:
  std::shared_ptr<TProcessorFactory> inner_;
  std::shared_ptr<Connections> connections_;
};

class ConnectionEvents : public TServerEventHandler {
 public:
  explicit ConnectionEvents(std::shared_ptr<Connections> connections)
      : connections_(std::move(connections)) {}
  void deleteContext(void*, std::shared_ptr<TProtocol> input, std::shared_ptr<TProtocol>) override {
    connections_->Remove(input.get());
  }

 private:
  std::shared_ptr<Connections> connections_;
};

// ---- TLS on the I/O thread

// A server-side TLS connection that never blocks the I/O thread: partial
// records are waited for by the event loop however many reads they take,
// and closing sends close_notify if the socket takes it at once instead of
// waiting (without limit) for buffer space or for the peer's close_notify.
class ServerTlsSocket : public TSSLSocket {
 public:
  ServerTlsSocket(std::shared_ptr<apache::thrift::transport::SSLContext> ctx, THRIFT_SOCKET fd)
      : TSSLSocket(std::move(ctx), fd) {
    server(true);
    setMaxRecvRetries(1 << 30);
  }
  ~ServerTlsSocket() override { close(); }
  void close() override {
    if (ssl_ != nullptr && !SSL_is_init_finished(ssl_)) {
      SSL_free(ssl_);  // no handshake, nothing to shut down
      ssl_ = nullptr;
    } else if (ssl_ != nullptr) {
      (void)SSL_shutdown(ssl_);
      ERR_clear_error();
      SSL_set_quiet_shutdown(ssl_, 1);
    }
    TSSLSocket::close();
  }
  // The peer's end reads as 0 bytes, as on a plain socket (closed quietly).
  uint32_t read(uint8_t* buf, uint32_t len) override {
    try {
      return TSSLSocket::read(buf, len);
    } catch (const apache::thrift::transport::TTransportException& e) {
      if (e.getType() == apache::thrift::transport::TTransportException::END_OF_FILE) return 0;
      throw;
    }
  }
};

class ServerTlsFactory : public TSSLSocketFactory {
 public:
  explicit ServerTlsFactory(apache::thrift::transport::SSLProtocol protocol)
      : TSSLSocketFactory(protocol) {
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    // A peer (or the idle timeout) ending the TCP stream is an orderly end,
    // after which close_notify can still be sent.
    SSL_CTX_set_options(ctx_->get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  }
  using TSSLSocketFactory::createSocket;
  std::shared_ptr<TSSLSocket> createSocket(THRIFT_SOCKET fd) override {
    return std::make_shared<ServerTlsSocket>(ctx_, fd);
  }
};

// ---- accepting

// A listening socket whose accepted descriptors are wrapped as the server
// would wrap them (a TSocket, or a TLS socket made safe for the event loop).
template <typename Base>
class Listener : public Base {
 public:
  using Base::Base;
  std::shared_ptr<TSocket> Wrap(THRIFT_SOCKET fd) { return this->createSocket(fd); }
};

// What TNonblockingServer accepts from: sockets the helper thread accepted.
// Its descriptor is an eventfd counting them, so the I/O thread is woken
// once per socket and accept never fails (TNonblockingServer does not
// survive a failing accept()).
class Handoff : public TNonblockingServerTransport {
 public:
  Handoff() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) {}
  ~Handoff() override {
    if (!handed_over_ && fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // From now on the server's I/O thread owns (and closes) the descriptor.
  void HandOver() { handed_over_ = true; }

  void Push(std::shared_ptr<TSocket> socket) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(socket));
    const uint64_t one = 1;
    ssize_t ignored = ::write(fd_, &one, sizeof one);
    (void)ignored;
  }
  size_t Size() {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }
  void CloseQueued() {
    std::deque<std::shared_ptr<TSocket>> queued;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued.swap(queue_);
    }
    for (auto& s : queued) s->close();
  }

  THRIFT_SOCKET getSocketFD() override { return fd_; }
  int getPort() override { return 0; }
  int getListenPort() override { return 0; }
  void listen() override {}
  void close() override {}

 protected:
  std::shared_ptr<TSocket> acceptImpl() override {
    uint64_t count;
    ssize_t ignored = ::read(fd_, &count, sizeof count);
    (void)ignored;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty()) {
        auto s = std::move(queue_.front());
        queue_.pop_front();
        return s;
      }
    }
    // Not reached (the descriptor is readable only while a socket is
    // queued); a socket that reads its end at once keeps the contract.
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == 0) {
      ::close(pair[1]);
      return std::make_shared<TSocket>(pair[0]);
    }
    return std::make_shared<TSocket>();
  }

 private:
  const int fd_;
  bool handed_over_ = false;
  std::mutex mu_;
  std::deque<std::shared_ptr<TSocket>> queue_;  // GUARDED_BY(mu_)
};

}  // namespace

struct RpcServer::Impl {
  RpcServerLimits limits;
  std::shared_ptr<TNonblockingServerSocket> listener;
  std::function<std::shared_ptr<TSocket>(THRIFT_SOCKET)> wrap;
  std::shared_ptr<Handoff> handoff;
  std::shared_ptr<Connections> connections;
  std::shared_ptr<WorkerPool> workers;
  std::unique_ptr<TNonblockingServer> server;
  int wake_fd = -1;  // eventfd: stops the helper thread

  std::mutex mu;
  bool served = false;          // GUARDED_BY(mu)
  bool serving = false;         // GUARDED_BY(mu): the event loop may be running
  bool stop_requested = false;  // GUARDED_BY(mu)

  ~Impl() {
    server.reset();  // closes the connections it still holds
    if (listener) listener->close();
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // Accepts, and closes idle connections, until wake_fd is signalled.
  void Helper() {
    const int64_t timeout = limits.idle_timeout_ms;
    const int64_t period = std::clamp<int64_t>(timeout / 4, 25, 1000);
    const size_t max_queued = static_cast<size_t>(std::max(64, limits.max_connections));
    const int listen_fd = listener->getSocketFD();
    int64_t next_sweep = NowMs() + period;
    int64_t accept_after = 0;
    auto last_warning = std::chrono::steady_clock::time_point{};
    for (;;) {
      int64_t now = NowMs();
      // The queue is full only if the I/O thread is stuck; the backlog waits.
      const bool accepting = now >= accept_after && handoff->Size() < max_queued;
      int64_t wait = next_sweep - now;
      if (!accepting) wait = std::min<int64_t>(wait, std::max<int64_t>(accept_after - now, 10));
      pollfd fds[2] = {{wake_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}};
      const int n = ::poll(fds, accepting ? 2 : 1, static_cast<int>(std::max<int64_t>(wait, 0)));
      if (n > 0 && (fds[0].revents & POLLIN)) break;
      if (n > 0 && accepting && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
        for (int i = 0; i < 64; ++i) {
          sockaddr_storage addr{};
          socklen_t len = sizeof addr;
          const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            const int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) break;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
            // Out of descriptors or memory: serve the open connections and
            // try again in a moment (the new one waits in the backlog).
            const auto t = std::chrono::steady_clock::now();
            if (t - last_warning > std::chrono::seconds(10)) {
              LOG(kWarn) << "cannot accept a connection (" << std::strerror(err)
                         << "); serving the open ones and trying again";
              last_warning = t;
            }
            accept_after = NowMs() + 100;
            break;
          }
          std::shared_ptr<TSocket> socket;
          try {
            socket = wrap(fd);
          } catch (const std::exception& e) {
            LOG(kWarn) << "cannot set up an accepted connection: " << e.what();
            ::close(fd);
            continue;
          }
          socket->setCachedAddress(reinterpret_cast<sockaddr*>(&addr), len);
          handoff->Push(std::move(socket));
        }
      }
      now = NowMs();
      if (now >= next_sweep) {
        connections->Sweep(now, timeout, period);
        next_sweep = now + period;
      }
    }
  }
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
  Impl& m = *s->impl_;
  m.limits = limits;
  const bool unix_socket = IsUnixAddress(host);
  const std::string unix_path = unix_socket ? host.substr(5) : "";
  if (unix_socket) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(unix_path).parent_path(), ec);
    struct stat st {};
    if (::lstat(unix_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(unix_path.c_str());
    auto l = std::make_shared<Listener<TNonblockingServerSocket>>(unix_path);
    m.wrap = [l](THRIFT_SOCKET fd) { return l->Wrap(fd); };
    m.listener = l;
  } else if (tls.enabled) {
    try {
      auto ssl =
          std::make_shared<ServerTlsFactory>(apache::thrift::transport::SSLProtocol::TLSv1_2);
      ssl->server(true);
      ssl->authenticate(false);  // clients prove a key, not a certificate
      ssl->loadCertificate(tls.cert_file.c_str());
      ssl->loadPrivateKey(tls.key_file.c_str());
      auto l = std::make_shared<Listener<TNonblockingSSLServerSocket>>(host, port, ssl);
      m.wrap = [l](THRIFT_SOCKET fd) { return l->Wrap(fd); };
      m.listener = l;
    } catch (const apache::thrift::TException& e) {
      return InvalidArgument("cannot load the server's TLS certificate or key (" +
                             std::string(e.what()) + ")");
    }
  } else {
    auto l = std::make_shared<Listener<TNonblockingServerSocket>>(host, port);
    m.wrap = [l](THRIFT_SOCKET fd) { return l->Wrap(fd); };
    m.listener = l;
  }
  try {
    m.listener->listen();
  } catch (const apache::thrift::transport::TTransportException& e) {
    return Unavailable("cannot listen on " + FormatAddress(host, port) + " (" + e.what() +
                       ") — is another server using the port?");
  }
  if (unix_socket && ::chmod(unix_path.c_str(), 0666) != 0) {
    return Unavailable("cannot make " + unix_path + " reachable by local users (" +
                       std::strerror(errno) + ")");
  }
  s->port_ = unix_socket ? 0 : m.listener->getListenPort();
  if (!unix_socket && s->port_ == 0) s->port_ = port;

  m.handoff = std::make_shared<Handoff>();
  m.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!m.handoff->ok() || m.wake_fd < 0) {
    return Unavailable("cannot create an eventfd (" + std::string(std::strerror(errno)) + ")");
  }
  m.connections = std::make_shared<Connections>();
  // A connection has at most one request running, so more workers than
  // connections are never needed.
  const int max_connections = std::max(1, limits.max_connections);
  m.workers = std::make_shared<WorkerPool>(static_cast<size_t>(std::max(1, limits.worker_threads)),
                                           static_cast<size_t>(max_connections) + 1);
  auto protocols =
      std::make_shared<TBinaryProtocolFactory>(limits.max_string_bytes, limits.max_list_items,
                                               /*strict_read=*/false, /*strict_write=*/true);
  m.server = std::make_unique<TNonblockingServer>(
      std::make_shared<TrackedProcessorFactory>(std::move(factory), m.connections), protocols,
      m.handoff, m.workers);
  m.server->setServerEventHandler(std::make_shared<ConnectionEvents>(m.connections));
  m.server->setNumIOThreads(1);
  m.server->setMaxFrameSize(static_cast<size_t>(limits.max_frame_bytes));
  // Beyond the limit a new connection is closed at once (clients retry)
  // rather than held anywhere.
  m.server->setMaxConnections(static_cast<size_t>(max_connections));
  m.server->setOverloadAction(apache::thrift::server::T_OVERLOAD_CLOSE_ON_ACCEPT);
  m.server->setOverloadHysteresis(1.0);
  return s;
}

RpcServer::~RpcServer() = default;

void RpcServer::Serve() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.served || m.stop_requested) return;
    m.served = true;
  }
  m.workers->start();
  bool run = true;
  try {
    m.server->registerEvents(nullptr);
    m.handoff->HandOver();
  } catch (const apache::thrift::TException& e) {
    LOG(kError) << "cannot start serving: " << e.what();
    run = false;
  }
  if (run) {
    std::lock_guard<std::mutex> lock(m.mu);
    run = !m.stop_requested;
    m.serving = run;
  }
  if (run) {
    std::thread helper([&m] { m.Helper(); });
    m.server->serve();
    {
      std::lock_guard<std::mutex> lock(m.mu);
      m.serving = false;
    }
    const uint64_t one = 1;
    ssize_t ignored = ::write(m.wake_fd, &one, sizeof one);
    (void)ignored;
    helper.join();
    m.handoff->CloseQueued();
  }
  // In-flight requests finish; their connections close with the server.
  m.workers->stop();
}

void RpcServer::Stop() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  m.stop_requested = true;
  if (m.serving) m.server->stop();
}

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
