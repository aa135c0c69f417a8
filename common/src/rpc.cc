#include "ddbfs/rpc.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <charconv>

namespace ddbfs {

// The wire enum and ddbfs::ErrorCode are one table in two languages.
#define DDBFS_CHECK_ROW(name, value, err, exit_code, text) \
  static_assert(static_cast<int>(ErrorCode::name) == value);
DDBFS_ERROR_CODES(DDBFS_CHECK_ROW)
#undef DDBFS_CHECK_ROW
static_assert(rpc::ErrorCode::NOT_FOUND == static_cast<int>(ErrorCode::kNotFound));
static_assert(rpc::ErrorCode::CHECKSUM_MISMATCH == static_cast<int>(ErrorCode::kChecksumMismatch));
static_assert(rpc::ErrorCode::NOT_SUPPORTED == static_cast<int>(ErrorCode::kNotSupported));

Status FromRpc(const rpc::RpcStatus& s) {
  ErrorCode code = ErrorCodeFromInt(static_cast<int>(s.code));
  if (code == ErrorCode::kOk) return Status();
  return Status(code, s.message);
}

rpc::RpcStatus ToRpc(const Status& s) {
  rpc::RpcStatus out;
  out.code = static_cast<rpc::ErrorCode::type>(static_cast<int>(s.code()));
  if (!s.ok()) out.message = s.ToString();
  return out;
}

std::vector<Tag> FromRpc(const std::vector<rpc::Tag>& tags) {
  std::vector<Tag> out;
  out.reserve(tags.size());
  for (const rpc::Tag& w : tags) {
    Tag t;
    t.name = w.name;
    if (w.__isset.value) t.value = w.value;
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<rpc::Tag> ToRpc(const std::vector<Tag>& tags) {
  std::vector<rpc::Tag> out;
  out.reserve(tags.size());
  for (const Tag& t : tags) {
    rpc::Tag w;
    w.name = t.name;
    if (t.value) w.__set_value(*t.value);
    out.push_back(std::move(w));
  }
  return out;
}

Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  if (IsUnixAddress(text)) {
    if (text.size() < 7 || text[5] != '/') {
      return InvalidArgument("address '" + text + "' is not unix:/ABSOLUTE/PATH");
    }
    *host = text;
    *port = 0;
    return Status();
  }
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument("address '" + text + "' is not HOST:PORT");
  }
  int p = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, p);
  if (ec != std::errc() || ptr != end || p <= 0 || p > 65535) {
    return InvalidArgument("address '" + text + "' has a bad port (want 1-65535)");
  }
  *host = text.substr(0, colon);
  *port = p;
  return Status();
}

std::string FormatAddress(const std::string& host, int port) {
  if (IsUnixAddress(host)) return host;
  return host + ":" + std::to_string(port);
}

Result<std::vector<Endpoint>> ParseAddressList(const std::string& text) {
  std::vector<Endpoint> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string entry =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t b = entry.find_first_not_of(" \t");
    const size_t e = entry.find_last_not_of(" \t");
    entry = b == std::string::npos ? "" : entry.substr(b, e - b + 1);
    if (entry.empty()) {
      return InvalidArgument("address list '" + text + "' has an empty entry");
    }
    Endpoint ep;
    RETURN_IF_ERROR(ParseHostPort(entry, &ep.host, &ep.port));
    out.push_back(std::move(ep));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string FormatAddressList(const std::vector<Endpoint>& addresses) {
  std::string out;
  for (const Endpoint& e : addresses) {
    if (!out.empty()) out += ",";
    out += FormatAddress(e.host, e.port);
  }
  return out;
}

namespace {

using apache::thrift::transport::AccessManager;

// Every member of a cluster has a certificate from the cluster's private CA
// (docs/security.md, "TLS"): a peer is accepted when its chain verifies
// against that CA, whatever name or address it was reached by.
class ClusterCaAccess : public AccessManager {
 public:
  Decision verify(const sockaddr_storage&) noexcept override { return ALLOW; }
  Decision verify(const std::string&, const char*, int) noexcept override { return ALLOW; }
  Decision verify(const sockaddr_storage&, const char*, int) noexcept override { return ALLOW; }
};

}  // namespace

Result<std::shared_ptr<const Transport>> Transport::Create(const TlsOptions& tls,
                                                           std::optional<Credential> credential) {
  auto t = std::make_shared<Transport>();
  t->credential_ = std::move(credential);
  if (tls.enabled) {
    if (tls.ca_file.empty()) {
      return InvalidArgument("tls is on but no CA file is given (tls-ca)");
    }
    try {
      auto factory = std::make_shared<apache::thrift::transport::TSSLSocketFactory>(
          apache::thrift::transport::SSLProtocol::TLSv1_2);
      factory->authenticate(true);
      factory->loadTrustedCertificates(tls.ca_file.c_str());
      if (!tls.cert_file.empty()) {
        factory->loadCertificate(tls.cert_file.c_str());
        factory->loadPrivateKey(tls.key_file.c_str());
      }
      factory->access(std::make_shared<ClusterCaAccess>());
      t->ssl_ = std::move(factory);
    } catch (const apache::thrift::TException& e) {
      return InvalidArgument(std::string("cannot load the TLS files (") + e.what() + ")");
    }
  }
  return std::shared_ptr<const Transport>(std::move(t));
}

void DetectDeadPeer(int fd) {
  if (fd < 0) return;
  const int on = 1, idle_s = 2, interval_s = 1, probes = 3;
  const unsigned int user_timeout_ms = 5000;
  // Best effort: a socket that refuses an option keeps the kernel's default.
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

std::shared_ptr<const Transport> Transport::Plain() {
  static const std::shared_ptr<const Transport> plain = std::make_shared<Transport>();
  return plain;
}

std::shared_ptr<apache::thrift::transport::TSocket> Transport::NewSocket(const std::string& host,
                                                                         int port) const {
  if (IsUnixAddress(host)) {
    return std::make_shared<apache::thrift::transport::TSocket>(host.substr(5));
  }
  if (ssl_) return ssl_->createSocket(host, port);
  return std::make_shared<apache::thrift::transport::TSocket>(host, port);
}

}  // namespace ddbfs
