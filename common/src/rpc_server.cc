#include "ddbfs/rpc_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "ddbfs/log.h"

namespace ddbfs {

// How the server works (docs/protocol.md, "Transport"):
//
// - One event thread owns every connection that waits for a request: it
//   accepts, reads what arrives without blocking into the connection's
//   buffer, and runs TLS handshakes step by step. An idle, slow or
//   half-sent connection therefore holds a buffer and no thread.
// - Once a whole frame is in, the connection goes to a worker, which runs
//   the request and writes the answer itself. It then waits a short moment
//   (`linger`) for the client's next request and serves that too; if none
//   comes, the connection goes back to the event thread. A client making
//   calls back to back is served like a thread per connection would serve
//   it, without a hand-off per request.
// - Handlers block on other servers (a chunk server forwards a write down
//   its chain; chains run both ways, A->B and B->A), so the pool starts a
//   worker whenever a request would otherwise wait, up to one per
//   connection; `worker_threads` stay when idle. A fixed pool could have all
//   of A's workers waiting on B while all of B's wait on A.

namespace {

using apache::thrift::TConnectionInfo;
using apache::thrift::TProcessor;
using apache::thrift::TProcessorFactory;
using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::protocol::TProtocol;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TTransport;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// How long a worker waits for the next request of a connection it just
// answered before handing it back to the event thread.
constexpr int kLingerMs = 2;
// A worker blocked writing an answer to a peer that does not read gives up
// after this long and closes the connection.
constexpr int kSendTimeoutMs = 60000;
// Pause of accepting after accept() failed for lack of descriptors/memory.
constexpr int kAcceptPauseMs = 100;

// ---- the worker pool

class WorkerPool {
 public:
  WorkerPool(size_t keep, size_t max) : s_(std::make_shared<Shared>()) {
    s_->keep = std::max<size_t>(1, keep);
    s_->max = std::max(s_->keep, max);
  }

  // Runs `task` on a worker; starts one if none is idle (up to max).
  void Submit(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->tasks.push_back(std::move(task));
    if (s_->tasks.size() > s_->idle && s_->threads < s_->max) SpawnLocked();
    s_->wake.notify_one();
  }

  // Running tasks finish; waiting ones are dropped (their connections are
  // closed by the server).
  void Stop() {
    std::unique_lock<std::mutex> lock(s_->mu);
    s_->stopping = true;
    std::deque<std::function<void()>> dropped;
    dropped.swap(s_->tasks);
    s_->wake.notify_all();
    lock.unlock();
    dropped.clear();
    lock.lock();
    s_->gone.wait(lock, [&] { return s_->threads == 0; });
  }

 private:
  // Shared with the detached workers, which may outlive the pool object by
  // the few instructions after their last unlock.
  struct Shared {
    std::mutex mu;
    std::condition_variable wake;  // a task arrived, or the pool stops
    std::condition_variable gone;  // the last worker exited
    std::deque<std::function<void()>> tasks;
    size_t threads = 0;  // workers alive
    size_t idle = 0;     // workers waiting for a task
    size_t keep = 1;
    size_t max = 1;
    bool stopping = false;
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
      if (s->stopping) break;
      if (s->tasks.empty()) {
        ++s->idle;
        const bool woken = s->wake.wait_for(lock, std::chrono::seconds(30),
                                            [&] { return !s->tasks.empty() || s->stopping; });
        --s->idle;
        // Workers started for a burst leave once it is over.
        if (!woken && s->threads > s->keep) break;
        continue;
      }
      std::function<void()> task = std::move(s->tasks.front());
      s->tasks.pop_front();
      lock.unlock();
      try {
        task();
      } catch (const std::exception& e) {
        LOG(kWarn) << "a request failed outside its handler: " << e.what();
      }
      task = nullptr;  // releases what it holds outside the lock
      lock.lock();
    }
    if (--s->threads == 0) s->gone.notify_all();
  }

  std::shared_ptr<Shared> s_;
};

// ---- TLS

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

// ---- the peer, for processor factories

// The transport a processor factory gets in TConnectionInfo: carries the
// peer (PeerOf reads it); never used for I/O.
class PeerTransport : public TTransport {
 public:
  explicit PeerTransport(PeerInfo peer) : peer_(std::move(peer)) {}
  const PeerInfo& peer() const { return peer_; }
  bool isOpen() const override { return true; }

 private:
  PeerInfo peer_;
};

PeerInfo PeerOfFd(int fd) {
  PeerInfo peer;
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
  len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return peer;
  char host[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, host, sizeof host);
  } else if (addr.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, host, sizeof host);
  }
  peer.address = host;
  return peer;
}

// ---- a connection

// A request's bytes, read in place. Each request is a new message for
// Thrift's message-size accounting (it would otherwise add up every request
// of the connection).
class FrameBuffer : public TMemoryBuffer {
 public:
  using TMemoryBuffer::TMemoryBuffer;
  void Observe(uint8_t* data, uint32_t size) {
    resetBuffer(data, size, TMemoryBuffer::OBSERVE);
    resetConsumedMessageSize();
  }
};

// Received bytes of a connection. A frame's bytes are read straight into
// it; once a frame's length is known its whole room is set aside at once
// (address space only: pages are touched as bytes arrive, so what a peer
// makes the server hold stays what it sent), so a large frame is neither
// copied through a bounce buffer nor moved as it grows.
class InBuffer {
 public:
  size_t size() const { return len_; }
  char* data() { return buf_.get(); }
  const char* data() const { return buf_.get(); }
  // Room for `n` more bytes after the ones held; nullptr when the memory
  // cannot be had (the caller closes the connection).
  char* Room(size_t n) {
    if (len_ + n > cap_) {
      const size_t cap = std::max(len_ + n, size_t{64} << 10);
      std::unique_ptr<char[]> bigger(new (std::nothrow) char[cap]);
      if (!bigger) return nullptr;
      if (len_ > 0) std::memcpy(bigger.get(), buf_.get(), len_);
      buf_ = std::move(bigger);
      cap_ = cap;
    }
    return buf_.get() + len_;
  }
  void Grew(size_t n) { len_ += n; }
  // Drops the first n bytes.
  void Consume(size_t n) {
    if (n < len_) std::memmove(buf_.get(), buf_.get() + n, len_ - n);
    len_ -= std::min(n, len_);
  }
  // Gives a large room back while little is held (a waiting connection
  // keeps a small buffer, whatever it carried).
  void ShrinkIfLarge() {
    if (cap_ <= (size_t{1} << 20) || len_ >= (size_t{64} << 10)) return;
    std::unique_ptr<char[]> small(len_ > 0 ? new (std::nothrow) char[len_] : nullptr);
    if (len_ > 0 && !small) return;
    if (len_ > 0) std::memcpy(small.get(), buf_.get(), len_);
    buf_ = std::move(small);
    cap_ = len_;
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t len_ = 0;
  size_t cap_ = 0;
};

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshake_done = true;  // false until a TLS handshake completed
  InBuffer in;                 // received bytes not processed yet
  int64_t last_ms = 0;         // last request answered (or accepted)
  bool busy = false;           // a worker owns it; GUARDED_BY(Server::mu)
  bool closed = false;         // GUARDED_BY(Server::mu)
  std::shared_ptr<FrameBuffer> in_mem;
  std::shared_ptr<TMemoryBuffer> out_mem;
  std::shared_ptr<TProtocol> in_proto;
  std::shared_ptr<TProtocol> out_proto;
  std::shared_ptr<TProcessor> processor;

  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

enum class ReadResult { kOk, kClosed };

uint32_t FrameLength(const InBuffer& in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

struct RpcServer::Impl {
  RpcServerLimits limits;
  std::shared_ptr<TProcessorFactory> factory;
  std::shared_ptr<TBinaryProtocolFactory> protocols;
  std::shared_ptr<apache::thrift::TConfiguration> config;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ssl_ctx;
  bool unix_socket = false;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;  // eventfd: Stop()
  std::unique_ptr<WorkerPool> workers;

  std::mutex mu;
  std::unordered_map<int, std::shared_ptr<Conn>> conns;  // GUARDED_BY(mu)
  bool stopping = false;                                 // GUARDED_BY(mu)
  bool served = false;                                   // GUARDED_BY(mu)

  ~Impl() {
    if (listen_fd >= 0) ::close(listen_fd);
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // ---- event thread

  void Loop() {
    const int64_t period = std::clamp<int64_t>(limits.idle_timeout_ms / 4, 25, 1000);
    int64_t next_sweep = NowMs() + period;
    int64_t resume_accept = 0;  // 0: accepting
    epoll_event events[64];
    for (;;) {
      int64_t wait = next_sweep - NowMs();
      if (resume_accept != 0) wait = std::min(wait, resume_accept - NowMs());
      const int n =
          ::epoll_wait(epoll_fd, events, 64, static_cast<int>(std::max<int64_t>(wait, 0)));
      if (n < 0 && errno != EINTR) {
        LOG(kError) << "epoll_wait: " << std::strerror(errno);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd) return;
        if (fd == listen_fd) {
          if (!Accept()) {
            ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
            resume_accept = NowMs() + kAcceptPauseMs;
          }
          continue;
        }
        std::shared_ptr<Conn> c;
        {
          std::lock_guard<std::mutex> lock(mu);
          auto it = conns.find(fd);
          if (it == conns.end() || it->second->busy) continue;
          c = it->second;
        }
        OnReadable(c);
      }
      const int64_t now = NowMs();
      if (resume_accept != 0 && now >= resume_accept) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = listen_fd;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
        resume_accept = 0;
      }
      if (now >= next_sweep) {
        Sweep(now);
        next_sweep = now + period;
      }
    }
  }

  // Accepts what is waiting. False when accept() fails for lack of
  // descriptors or memory: the caller pauses accepting for a moment (the
  // connection waits in the backlog) and keeps serving the open ones.
  bool Accept() {
    for (int i = 0; i < 64; ++i) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return true;
        if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
        static std::atomic<int64_t> last_warning{0};
        const int64_t now = NowMs();
        if (now - last_warning.load() > 10000) {
          LOG(kWarn) << "cannot accept a connection (" << std::strerror(err)
                     << "); serving the open ones and trying again";
          last_warning = now;
        }
        return false;
      }
      Adopt(fd);
    }
    return true;
  }

  void Adopt(int fd) {
    auto c = std::make_shared<Conn>();
    c->fd = fd;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (conns.size() >= static_cast<size_t>(std::max(1, limits.max_connections))) {
        // Over the limit: closed at once (clients retry), held nowhere.
        return;  // ~Conn closes fd
      }
    }
    if (!unix_socket) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      // A client whose host is cut off holds no connection for long.
      DetectDeadPeer(fd);
    }
    if (ssl_ctx) {
      c->ssl = SSL_new(ssl_ctx.get());
      if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) {
        LOG(kWarn) << "cannot set up TLS for a connection: " << SslErrors();
        return;
      }
      SSL_set_accept_state(c->ssl);
      c->handshake_done = false;
    }
    c->in_mem = std::make_shared<FrameBuffer>(config);
    c->out_mem = std::make_shared<TMemoryBuffer>(config);
    c->in_proto = protocols->getProtocol(c->in_mem);
    c->out_proto = protocols->getProtocol(c->out_mem);
    try {
      TConnectionInfo info;
      info.input = c->in_proto;
      info.output = c->out_proto;
      info.transport = std::make_shared<PeerTransport>(PeerOfFd(fd));
      c->processor = factory->getProcessor(info);
    } catch (const std::exception& e) {
      LOG(kWarn) << "cannot serve a new connection: " << e.what();
      return;
    }
    c->last_ms = NowMs();
    {
      std::lock_guard<std::mutex> lock(mu);
      conns[fd] = c;
    }
    Arm(*c, EPOLLIN, EPOLL_CTL_ADD);
  }

  void Arm(const Conn& c, uint32_t what, int op = EPOLL_CTL_MOD) {
    epoll_event ev{};
    ev.events = what | EPOLLONESHOT | EPOLLRDHUP;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd, op, c.fd, &ev);
  }

  // The event thread saw data (or the end) on a waiting connection.
  void OnReadable(const std::shared_ptr<Conn>& c) {
    if (!c->handshake_done) {
      ERR_clear_error();
      const int r = SSL_do_handshake(c->ssl);
      if (r == 1) {
        c->handshake_done = true;
      } else {
        const int err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          Arm(*c, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        } else {
          LOG(kDebug) << "TLS handshake failed: " << SslErrors();
          Close(c);
        }
        return;
      }
    }
    if (ReadAvailable(*c) == ReadResult::kClosed) {
      Close(c);
      return;
    }
    if (HasFrame(*c)) {
      {
        std::lock_guard<std::mutex> lock(mu);
        c->busy = true;
      }
      workers->Submit([this, c] { Serve(c); });
      return;
    }
    Arm(*c, EPOLLIN);
  }

  // Reads what the socket has without blocking, at most up to the end of
  // the first frame. kClosed: the peer ended the connection, an error, or a
  // frame over the limit.
  ReadResult ReadAvailable(Conn& c) {
    for (;;) {
      size_t want = 0;
      if (c.in.size() >= 4) {
        const uint32_t len = FrameLength(c.in);
        if (len > static_cast<uint32_t>(limits.max_frame_bytes)) {
          LOG(kDebug) << "closing a connection that sent a frame of " << len << " bytes";
          return ReadResult::kClosed;
        }
        const size_t end = 4 + static_cast<size_t>(len);
        if (c.in.size() >= end) return ReadResult::kOk;
        want = end - c.in.size();
      } else {
        want = 4 - c.in.size();
      }
      char* buf = c.in.Room(want);
      if (buf == nullptr) {
        LOG(kWarn) << "closing a connection: no memory for its frame of " << want << " bytes";
        return ReadResult::kClosed;
      }
      ssize_t n;
      if (c.ssl != nullptr) {
        ERR_clear_error();
        const int r = SSL_read(c.ssl, buf, static_cast<int>(want));
        if (r > 0) {
          n = r;
        } else {
          const int err = SSL_get_error(c.ssl, r);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return ReadResult::kOk;
          return ReadResult::kClosed;  // close_notify, EOF or error
        }
      } else {
        n = ::recv(c.fd, buf, want, 0);
        if (n == 0) return ReadResult::kClosed;
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadResult::kOk;
          if (errno == EINTR) continue;
          return ReadResult::kClosed;
        }
      }
      c.in.Grew(static_cast<size_t>(n));
    }
  }

  static bool HasFrame(const Conn& c) {
    return c.in.size() >= 4 && c.in.size() >= 4 + static_cast<size_t>(FrameLength(c.in));
  }

  // Waits until the socket is readable (or writable) for up to timeout_ms.
  static bool WaitFor(int fd, short what, int timeout_ms) {
    pollfd p{fd, what, 0};
    for (;;) {
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      return r > 0;
    }
  }

  // Writes the frame header and then the body; false if the peer is gone
  // or does not read. Over plain TCP both go out in one sendmsg (no copy
  // of the body into one buffer).
  static bool WriteAll(Conn& c, const char (&header)[4], const char* body, size_t body_len) {
    const size_t total = 4 + body_len;
    size_t done = 0;
    const int64_t deadline = NowMs() + kSendTimeoutMs;
    while (done < total) {
      if (c.ssl != nullptr) {
        const char* from = done < 4 ? header + done : body + (done - 4);
        const size_t left_here = done < 4 ? 4 - done : total - done;
        ERR_clear_error();
        const int r =
            SSL_write(c.ssl, from, static_cast<int>(std::min<size_t>(left_here, INT_MAX)));
        if (r > 0) {
          done += static_cast<size_t>(r);
          continue;
        }
        const int err = SSL_get_error(c.ssl, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return false;
        const int64_t left = deadline - NowMs();
        if (left <= 0 ||
            !WaitFor(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, static_cast<int>(left))) {
          return false;
        }
      } else {
        iovec iov[2];
        int count = 0;
        if (done < 4) iov[count++] = {const_cast<char*>(header + done), 4 - done};
        const size_t body_done = done < 4 ? 0 : done - 4;
        if (body_done < body_len) {
          iov[count++] = {const_cast<char*>(body + body_done), body_len - body_done};
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<size_t>(count);
        const ssize_t n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
          done += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          const int64_t left = deadline - NowMs();
          if (left <= 0 || !WaitFor(c.fd, POLLOUT, static_cast<int>(left))) return false;
          continue;
        }
        return false;
      }
    }
    return true;
  }

  // ---- workers

  // Runs the connection's requests while they come back to back; then hands
  // it back to the event thread, or closes it.
  void Serve(const std::shared_ptr<Conn>& c) {
    for (;;) {
      if (!RunOne(*c)) {
        Close(c);
        return;
      }
      // The client's next call usually follows at once: wait a moment for
      // it here rather than hand the connection back and forth.
      const int64_t until = NowMs() + kLingerMs;
      for (;;) {
        if (ReadAvailable(*c) == ReadResult::kClosed) {
          Close(c);
          return;
        }
        if (HasFrame(*c)) break;
        if (c->ssl != nullptr && SSL_pending(c->ssl) > 0) continue;
        const int64_t left = until - NowMs();
        if (left <= 0 || !WaitFor(c->fd, POLLIN, static_cast<int>(left))) break;
      }
      if (!HasFrame(*c)) {
        Park(c);
        return;
      }
    }
  }

  // Runs the first frame of c.in and writes the answer. False: close.
  bool RunOne(Conn& c) {
    const uint32_t len = FrameLength(c.in);
    c.in_mem->Observe(reinterpret_cast<uint8_t*>(c.in.data()) + 4, len);
    c.out_mem->resetBuffer();
    bool ok = false;
    try {
      ok = c.processor->process(c.in_proto, c.out_proto, nullptr);
    } catch (const std::exception& e) {
      LOG(kDebug) << "closing a connection after a request it could not decode: " << e.what();
      ok = false;
    }
    c.in.Consume(4 + static_cast<size_t>(len));
    if (!ok) return false;
    uint8_t* out = nullptr;
    uint32_t out_len = 0;
    c.out_mem->getBuffer(&out, &out_len);
    c.last_ms = NowMs();
    if (out_len == 0) return true;  // a oneway call
    const char header[4] = {static_cast<char>(out_len >> 24), static_cast<char>(out_len >> 16),
                            static_cast<char>(out_len >> 8), static_cast<char>(out_len)};
    const bool written = WriteAll(c, header, reinterpret_cast<const char*>(out), out_len);
    // A waiting connection keeps small buffers, whatever it carried.
    c.in.ShrinkIfLarge();
    if (out_len > (1 << 20)) {
      c.out_mem->resetBuffer(uint32_t{4096});
    } else {
      c.out_mem->resetBuffer();
    }
    return written;
  }

  void Park(const std::shared_ptr<Conn>& c) {
    std::lock_guard<std::mutex> lock(mu);
    if (c->closed) return;
    if (stopping) {
      CloseLocked(c);
      return;
    }
    c->busy = false;
    c->last_ms = NowMs();
    Arm(*c, EPOLLIN);
  }

  void Close(const std::shared_ptr<Conn>& c) {
    std::lock_guard<std::mutex> lock(mu);
    CloseLocked(c);
  }

  void CloseLocked(const std::shared_ptr<Conn>& c) {
    if (c->closed) return;
    c->closed = true;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    if (c->ssl != nullptr && c->handshake_done) {
      // close_notify if the socket takes it at once; never wait for it.
      ERR_clear_error();
      SSL_set_quiet_shutdown(c->ssl, 0);
      (void)SSL_shutdown(c->ssl);
      ERR_clear_error();
    }
    // The descriptor must not be reused while it is still a key here: shut
    // it now, close it when the last reference goes (~Conn), after erasing.
    ::shutdown(c->fd, SHUT_RDWR);
    conns.erase(c->fd);
  }

  // Closes connections that waited for a request longer than the idle
  // timeout (connections with a request running are never idle).
  void Sweep(int64_t now) {
    std::vector<std::shared_ptr<Conn>> idle;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [fd, c] : conns) {
        if (!c->busy && now - c->last_ms >= limits.idle_timeout_ms) idle.push_back(c);
      }
      for (auto& c : idle) CloseLocked(c);
    }
  }
};

PeerInfo PeerOf(const std::shared_ptr<apache::thrift::transport::TTransport>& transport) {
  if (auto p = std::dynamic_pointer_cast<PeerTransport>(transport)) return p->peer();
  if (auto socket = std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(transport)) {
    return PeerOfFd(socket->getSocketFD());
  }
  return PeerInfo{};
}

Result<std::unique_ptr<RpcServer>> RpcServer::Bind(
    std::shared_ptr<apache::thrift::TProcessorFactory> factory, const std::string& host, int port,
    const RpcServerLimits& limits, const TlsOptions& tls) {
  std::unique_ptr<RpcServer> s(new RpcServer());
  s->impl_ = std::make_unique<Impl>();
  Impl& m = *s->impl_;
  m.limits = limits;
  m.factory = std::move(factory);
  m.config = std::make_shared<apache::thrift::TConfiguration>(
      apache::thrift::TConfiguration::DEFAULT_MAX_MESSAGE_SIZE, limits.max_frame_bytes);
  m.protocols =
      std::make_shared<TBinaryProtocolFactory>(limits.max_string_bytes, limits.max_list_items,
                                               /*strict_read=*/false, /*strict_write=*/true);
  m.unix_socket = IsUnixAddress(host);
  const std::string where = FormatAddress(host, port);

  if (m.unix_socket) {
    const std::string path = host.substr(5);
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) {
      return InvalidArgument("the socket path " + path + " is too long");
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
    m.listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (m.listen_fd < 0 ||
        ::bind(m.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m.listen_fd, 1024) != 0) {
      return Unavailable("cannot listen on " + path + " (" + std::strerror(errno) + ")");
    }
    if (::chmod(path.c_str(), 0666) != 0) {
      return Unavailable("cannot make " + path + " reachable by local users (" +
                         std::strerror(errno) + ")");
    }
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    const int gai =
        ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    if (gai != 0) {
      return InvalidArgument("cannot listen on " + where + " (" + ::gai_strerror(gai) + ")");
    }
    int err = 0;
    for (addrinfo* a = res; a != nullptr && m.listen_fd < 0; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        err = errno;
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
        err = errno;
        ::close(fd);
        continue;
      }
      m.listen_fd = fd;
    }
    ::freeaddrinfo(res);
    if (m.listen_fd < 0) {
      return Unavailable("cannot listen on " + where + " (" + std::strerror(err) +
                         ") — is another server using the port?");
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(m.listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
    s->port_ =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    if (tls.enabled) {
      m.ssl_ctx.reset(SSL_CTX_new(TLS_server_method()));
      if (!m.ssl_ctx || SSL_CTX_set_min_proto_version(m.ssl_ctx.get(), TLS1_2_VERSION) != 1 ||
          SSL_CTX_use_certificate_chain_file(m.ssl_ctx.get(), tls.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(m.ssl_ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) !=
              1 ||
          SSL_CTX_check_private_key(m.ssl_ctx.get()) != 1) {
        return InvalidArgument("cannot load the server's TLS certificate or key (" + SslErrors() +
                               ")");
      }
      // Clients prove a key, not a certificate. No renegotiation (a peer
      // could make the server do handshakes at will); a peer ending the
      // TCP stream without close_notify is an orderly end.
      long options = SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
      options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
      SSL_CTX_set_options(m.ssl_ctx.get(), options);
      SSL_CTX_set_mode(m.ssl_ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
  }

  m.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m.epoll_fd < 0 || m.wake_fd < 0) {
    return Unavailable("cannot create an epoll or eventfd descriptor (" +
                       std::string(std::strerror(errno)) + ")");
  }
  for (int fd : {m.listen_fd, m.wake_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(m.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  // A connection has at most one request running, so more workers than
  // connections are never needed.
  const size_t max_connections = static_cast<size_t>(std::max(1, limits.max_connections));
  m.workers = std::make_unique<WorkerPool>(static_cast<size_t>(std::max(1, limits.worker_threads)),
                                           max_connections + 1);
  return s;
}

RpcServer::~RpcServer() = default;

void RpcServer::Serve() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.served || m.stopping) return;
    m.served = true;
  }
  m.Loop();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopping = true;
    // Waiting connections close now; busy ones when their worker is done.
    std::vector<std::shared_ptr<Conn>> waiting;
    for (auto& [fd, c] : m.conns) {
      if (!c->busy) waiting.push_back(c);
    }
    for (auto& c : waiting) m.CloseLocked(c);
  }
  // In-flight requests finish (their answers are written), then their
  // connections close.
  m.workers->Stop();
  std::lock_guard<std::mutex> lock(m.mu);
  std::vector<std::shared_ptr<Conn>> rest;
  for (auto& [fd, c] : m.conns) rest.push_back(c);
  for (auto& c : rest) m.CloseLocked(c);
}

void RpcServer::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopping = true;
  }
  const uint64_t one = 1;
  ssize_t ignored = ::write(m.wake_fd, &one, sizeof one);
  (void)ignored;
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

void SkipOpenSslCleanupAtExit() { OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr); }

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
