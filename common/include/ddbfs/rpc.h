#pragma once

// Thrift plumbing shared by every process: connections with timeouts, a
// connection pool, conversion of RpcStatus, and catching of Thrift exceptions
// at this one boundary (STYLE.md: transport errors become a Status here).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSSLSocket.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#include "ChunkService.h"
#include "MetaService.h"
#include "ddbfs/auth.h"
#include "ddbfs/status.h"
#include "ddbfs/tag.h"
#include "ddbfs_types.h"

namespace ddbfs {

// Wire <-> C++ status.
Status FromRpc(const rpc::RpcStatus& s);
rpc::RpcStatus ToRpc(const Status& s);
inline rpc::RpcStatus RpcOk() { return rpc::RpcStatus(); }

// Wire <-> C++ tags (a value only when set).
std::vector<Tag> FromRpc(const std::vector<rpc::Tag>& tags);
std::vector<rpc::Tag> ToRpc(const std::vector<Tag>& tags);

// Splits "host:port"; InvalidArgument if malformed. "unix:/path" (a Unix
// socket) gives host "unix:/path" and port 0.
Status ParseHostPort(const std::string& text, std::string* host, int* port);
inline bool IsUnixAddress(const std::string& host) { return host.rfind("unix:", 0) == 0; }
// "host:port", or "unix:/path" for a Unix socket.
std::string FormatAddress(const std::string& host, int port);

// One address of a server: host "unix:/path" (port 0) for a Unix socket.
struct Endpoint {
  std::string host;
  int port = 0;
};
// "a:9400,b:9400" (spaces around the commas allowed; any entry may be
// "unix:/path"): the addresses in order. InvalidArgument naming the bad
// entry if one is malformed or empty.
Result<std::vector<Endpoint>> ParseAddressList(const std::string& text);
// "a:9400,b:9400".
std::string FormatAddressList(const std::vector<Endpoint>& addresses);

// TLS settings of one process (docs/security.md, "TLS").
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;    // the cluster's CA: peers' certificates must chain to it
  std::string cert_file;  // this process's certificate (servers; clients need none)
  std::string key_file;   // its private key
};

// Makes a connected TCP socket fail within about 5 s when its peer becomes
// unreachable (a host cut off by the network, which sends no reset): TCP
// keepalives after 2 s idle, every second, 3 unanswered close it, and data
// left unacknowledged for 5 s does too (TCP_USER_TIMEOUT). Without it a
// call waiting for a reply from a cut-off server waits for its whole
// timeout (30 s), and Linux's default keepalive starts after two hours.
// A live server that is slow to answer is not affected: its kernel answers
// the probes.
void DetectDeadPeer(int fd);

// How a process opens connections: plain TCP or TLS, and the key it proves
// on every new connection (Hello + Authenticate). Shared by all the pools of
// a process; immutable once made.
class Transport {
 public:
  // Loads the TLS files now, so a bad path fails at start with one line.
  static Result<std::shared_ptr<const Transport>> Create(const TlsOptions& tls,
                                                         std::optional<Credential> credential);
  // Plain TCP, no key: what a peer without any configuration gets.
  static std::shared_ptr<const Transport> Plain();

  bool tls() const { return ssl_ != nullptr; }
  const std::optional<Credential>& credential() const { return credential_; }
  // An unopened socket to host:port (TLS when enabled), or to a Unix socket.
  std::shared_ptr<apache::thrift::transport::TSocket> NewSocket(const std::string& host,
                                                                int port) const;

 private:
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> ssl_;
  std::optional<Credential> credential_;
};

// The handshake of a new connection (docs/security.md, "Handshake"): Hello,
// and unless the server already knows the peer, Authenticate with `cred`,
// then the server's proof is checked. kUnauthenticated on any failure.
template <typename ClientT>
Status Handshake(ClientT& client, const Credential& cred) {
  constexpr const char* service =
      std::is_same_v<ClientT, rpc::MetaServiceClient> ? "meta" : "chunk";
  rpc::HelloResponse hello;
  client.Hello(hello, rpc::HelloRequest());
  if (hello.status.code != rpc::ErrorCode::OK) return FromRpc(hello.status);
  if (hello.authenticated) return Status();
  rpc::AuthenticateRequest req;
  req.key_id = cred.key_id;
  req.client_nonce = RandomBytes(kNonceBytes);
  req.proof = AuthProof(cred.secret, false, service, hello.nonce, req.client_nonce, cred.key_id);
  rpc::AuthenticateResponse resp;
  client.Authenticate(resp, req);
  if (resp.status.code != rpc::ErrorCode::OK) return FromRpc(resp.status);
  const std::string expected =
      AuthProof(cred.secret, true, service, hello.nonce, req.client_nonce, cred.key_id);
  if (!SecretsEqual(resp.server_proof, expected)) {
    return Status(ErrorCode::kUnauthenticated,
                  "the server did not prove it holds key '" + cred.key_id + "'");
  }
  return Status();
}

// One TCP connection to a server with a typed Thrift client. Not thread-safe:
// one caller at a time (RpcPool hands them out).
template <typename ClientT>
class RpcConnection {
 public:
  RpcConnection(std::string host, int port, int timeout_ms,
                std::shared_ptr<const Transport> transport = nullptr)
      : host_(std::move(host)),
        port_(port),
        timeout_ms_(timeout_ms),
        transport_config_(transport ? std::move(transport) : Transport::Plain()) {}

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string address() const { return FormatAddress(host_, port_); }

  // Runs fn(client). A transport error (refused, reset, timeout) closes the
  // connection and returns kUnavailable. When `retry` is set (calls that
  // are safe to repeat) and the connection was an open one, which the
  // server may have closed meanwhile, the call is tried once more on a
  // fresh connection first; a connection that cannot be opened fails at
  // once (a second connect to a host that does not answer would only
  // double the wait before a caller moves on to another address). Any
  // other Thrift exception becomes kInternal. A new connection first
  // authenticates (Handshake); a refusal, or a TLS peer whose certificate
  // does not verify, is kUnauthenticated, not retried.
  Status Call(const std::function<void(ClientT&)>& fn, bool retry = true) {
    for (int attempt = 0;; ++attempt) {
      std::string error;
      bool opening = false;
      try {
        if (!client_) {
          opening = true;
          Status s = Open();
          if (!s.ok()) {
            Close();
            return s;
          }
          opening = false;
        }
        fn(*client_);
        return Status();
      } catch (const apache::thrift::transport::TSSLException& e) {
        Close();
        return Status(ErrorCode::kUnauthenticated,
                      "TLS with " + address() + " failed (" + e.what() +
                          ") — check tls settings and the CA (docs/security.md)");
      } catch (const apache::thrift::transport::TTransportException& e) {
        error = e.what();
      } catch (const apache::thrift::TApplicationException& e) {
        Close();
        return Status(ErrorCode::kInternal,
                      "server " + address() + " failed the request: " + e.what());
      } catch (const apache::thrift::TException& e) {
        error = e.what();
      }
      Close();
      if (!retry || attempt >= 1 || opening) {
        return Status(ErrorCode::kUnavailable, "cannot reach " + address() + " (" + error + ")");
      }
    }
  }

  void Close() {
    if (transport_) {
      try {
        transport_->close();
      } catch (...) {
      }
    }
    client_.reset();
    transport_.reset();
  }

  ~RpcConnection() { Close(); }

 private:
  static constexpr int kConnectTimeoutMs = 2000;

  Status Open() {
    auto socket = transport_config_->NewSocket(host_, port_);
    // A server that is up answers a connect within milliseconds; a host that
    // is down or cut off would hold every failover attempt for this long.
    socket->setConnTimeout(std::min(timeout_ms_, kConnectTimeoutMs));
    socket->setRecvTimeout(timeout_ms_);
    socket->setSendTimeout(timeout_ms_);
    if (!IsUnixAddress(host_)) socket->setNoDelay(true);
    transport_ = std::make_shared<apache::thrift::transport::TFramedTransport>(socket);
    auto protocol = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport_);
    transport_->open();
    if (!IsUnixAddress(host_)) DetectDeadPeer(socket->getSocketFD());
    client_ = std::make_unique<ClientT>(protocol);
    if (transport_config_->credential() && !IsUnixAddress(host_)) {
      Status s = Handshake(*client_, *transport_config_->credential());
      if (!s.ok()) {
        return Status(s.code() == ErrorCode::kUnavailable ? ErrorCode::kUnavailable
                                                          : ErrorCode::kUnauthenticated,
                      address() + " refused the connection's key: " + s.message());
      }
    }
    return Status();
  }

  std::string host_;
  int port_;
  int timeout_ms_;
  std::shared_ptr<const Transport> transport_config_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  std::unique_ptr<ClientT> client_;
};

// Idle connections to one server, reused across calls. Thread-safe.
template <typename ClientT>
class RpcPool {
 public:
  using Conn = RpcConnection<ClientT>;

  RpcPool(std::string host, int port, int timeout_ms, size_t max_idle = 16,
          std::shared_ptr<const Transport> transport = nullptr)
      : host_(std::move(host)),
        port_(port),
        timeout_ms_(timeout_ms),
        max_idle_(max_idle),
        transport_(std::move(transport)) {}

  std::string address() const { return FormatAddress(host_, port_); }

  // Runs fn on a pooled connection (see RpcConnection::Call).
  Status Call(const std::function<void(ClientT&)>& fn, bool retry = true) {
    std::unique_ptr<Conn> conn = Take();
    Status s = conn->Call(fn, retry);
    if (s.code() != ErrorCode::kUnavailable) {
      Give(std::move(conn));
    } else {
      // The server went away (restarted, died, cut off): the idle
      // connections to it are as dead, and each would cost the next calls
      // a timeout before a fresh connection is tried.
      std::lock_guard<std::mutex> lock(mu_);
      idle_.clear();
    }
    return s;
  }

 private:
  std::unique_ptr<Conn> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.empty()) return std::make_unique<Conn>(host_, port_, timeout_ms_, transport_);
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  void Give(std::unique_ptr<Conn> c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(c));
  }

  const std::string host_;
  const int port_;
  const int timeout_ms_;
  const size_t max_idle_;
  const std::shared_ptr<const Transport> transport_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // GUARDED_BY(mu_)
};

// Connections to a service that answers at one of several addresses (the
// active metaserver among its standbys, docs/ha.md). Calls go to the
// address that answered last; when it cannot be reached, the next ones are
// tried in turn, each once per call, and the one that answers becomes the
// current one. With one address it is an RpcPool. Thread-safe.
template <typename ClientT>
class RpcFailoverPool {
 public:
  RpcFailoverPool(const std::vector<Endpoint>& addresses, int timeout_ms, size_t max_idle = 16,
                  std::shared_ptr<const Transport> transport = nullptr)
      : slow_failure_(addresses.size()) {
    for (const Endpoint& e : addresses) {
      pools_.push_back(
          std::make_unique<RpcPool<ClientT>>(e.host, e.port, timeout_ms, max_idle, transport));
    }
  }

  size_t size() const { return pools_.size(); }
  // Every address: "a:9400,b:9400".
  std::string address() const {
    std::string out;
    for (const auto& p : pools_) out += (out.empty() ? "" : ",") + p->address();
    return out;
  }
  // The address calls go to now.
  std::string current_address() const { return pools_[current_.load() % size()]->address(); }

  // Runs fn at the current address (see RpcConnection::Call); when that
  // one is unreachable (kUnavailable), at each other address in turn. A call
  // that is not safe to repeat (!retry) is tried at the current address
  // only. `*used`: the index of the address that answered (or failed last),
  // for MoveOn.
  Status Call(const std::function<void(ClientT&)>& fn, bool retry = true, size_t* used = nullptr) {
    const size_t n = size();
    const size_t start = current_.load() % n;
    Status s;
    // How long each address took to fail.
    std::vector<std::chrono::steady_clock::duration> took(n);
    for (size_t k = 0; k < (retry ? n : 1); ++k) {
      const size_t i = (start + k) % n;
      if (used != nullptr) *used = i;
      const auto began = std::chrono::steady_clock::now();
      s = pools_[i]->Call(fn, retry);
      if (s.code() != ErrorCode::kUnavailable) {
        slow_failure_[i].store(0);
        if (k > 0) current_.store(i);  // stick to the one that answered
        return s;
      }
      took[i] = std::chrono::steady_clock::now() - began;
      if (took[i] >= kSlowFailure) slow_failure_[i].store(NowMs());
    }
    if (retry && n > 1) {
      // None answered. A refused connection means that the host is up (a
      // standby about to take over listens soon), a timeout that it cannot
      // be reached: the next call starts at the address that failed
      // quickest, so that it does not wait out a dead host's timeout before
      // it reaches the new active; when all failed alike, at the next
      // address, so that none is always the first one tried.
      const auto [fastest, slowest] = std::minmax_element(took.begin(), took.end());
      if (*slowest - *fastest < kSameFailureTime) {
        MoveOn(start);
      } else {
        size_t expected = start;
        current_.compare_exchange_strong(expected, static_cast<size_t>(fastest - took.begin()));
      }
    } else if (n > 1) {
      MoveOn(start);
    }
    return s;
  }

  // The server at `used` answered that it is unavailable (a metaserver
  // that lost its lock, or the active one waiting for its chunk servers
  // after a start): later calls start at the next address that did not
  // fail slowly (a timeout) in the last kSlowFailureMemory, unless another
  // caller moved already. When every other address did, they stay at
  // `used`: asking it again costs a quick answer, a detour a timeout.
  void MoveOn(size_t used) {
    const size_t n = size();
    const int64_t now = NowMs();
    for (size_t k = 1; k < n; ++k) {
      const size_t i = (used + k) % n;
      const int64_t failed = slow_failure_[i].load();
      if (failed != 0 && now - failed < kSlowFailureMemory.count()) continue;
      size_t expected = used;
      current_.compare_exchange_strong(expected, i);
      return;
    }
  }

 private:
  // Failures this close in time count as alike (Call).
  static constexpr std::chrono::milliseconds kSameFailureTime{100};
  // A failure that took this long was a timeout, not a refusal (MoveOn).
  static constexpr std::chrono::milliseconds kSlowFailure{500};
  static constexpr std::chrono::milliseconds kSlowFailureMemory{10000};

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::vector<std::unique_ptr<RpcPool<ClientT>>> pools_;
  std::atomic<size_t> current_{0};
  // Per address: when it last failed slowly (NowMs; 0: not since it last
  // answered).
  std::vector<std::atomic<int64_t>> slow_failure_;
};

}  // namespace ddbfs
