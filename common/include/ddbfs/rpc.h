#pragma once

// Thrift plumbing shared by every process: connections with timeouts, a
// connection pool, conversion of RpcStatus, and catching of Thrift exceptions
// at this one boundary (STYLE.md: transport errors become a Status here).

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#include "ddbfs/status.h"
#include "ddbfs_types.h"

namespace ddbfs {

// Wire <-> C++ status.
Status FromRpc(const rpc::RpcStatus& s);
rpc::RpcStatus ToRpc(const Status& s);
inline rpc::RpcStatus RpcOk() { return rpc::RpcStatus(); }

// Splits "host:port"; InvalidArgument if malformed.
Status ParseHostPort(const std::string& text, std::string* host, int* port);

// One TCP connection to a server with a typed Thrift client. Not thread-safe:
// one caller at a time (RpcPool hands them out).
template <typename ClientT>
class RpcConnection {
 public:
  RpcConnection(std::string host, int port, int timeout_ms)
      : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }

  // Runs fn(client). A transport error (refused, reset, timeout) closes the
  // connection and returns kUnavailable; when `retry` is set the call is
  // tried once more on a fresh connection first (only for calls that are
  // safe to repeat). Any other Thrift exception becomes kInternal.
  Status Call(const std::function<void(ClientT&)>& fn, bool retry = true) {
    for (int attempt = 0;; ++attempt) {
      std::string error;
      try {
        if (!client_) Open();
        fn(*client_);
        return Status();
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
      if (!retry || attempt >= 1) {
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
  void Open() {
    auto socket = std::make_shared<apache::thrift::transport::TSocket>(host_, port_);
    socket->setConnTimeout(std::min(timeout_ms_, 5000));
    socket->setRecvTimeout(timeout_ms_);
    socket->setSendTimeout(timeout_ms_);
    socket->setNoDelay(true);
    transport_ = std::make_shared<apache::thrift::transport::TFramedTransport>(socket);
    auto protocol = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport_);
    transport_->open();
    client_ = std::make_unique<ClientT>(protocol);
  }

  std::string host_;
  int port_;
  int timeout_ms_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  std::unique_ptr<ClientT> client_;
};

// Idle connections to one server, reused across calls. Thread-safe.
template <typename ClientT>
class RpcPool {
 public:
  using Conn = RpcConnection<ClientT>;

  RpcPool(std::string host, int port, int timeout_ms, size_t max_idle = 16)
      : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms), max_idle_(max_idle) {}

  std::string address() const { return host_ + ":" + std::to_string(port_); }

  // Runs fn on a pooled connection (see RpcConnection::Call).
  Status Call(const std::function<void(ClientT&)>& fn, bool retry = true) {
    std::unique_ptr<Conn> conn = Take();
    Status s = conn->Call(fn, retry);
    if (s.code() != ErrorCode::kUnavailable) Give(std::move(conn));
    return s;
  }

 private:
  std::unique_ptr<Conn> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.empty()) return std::make_unique<Conn>(host_, port_, timeout_ms_);
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
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // GUARDED_BY(mu_)
};

}  // namespace ddbfs
