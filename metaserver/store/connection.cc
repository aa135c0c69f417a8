#include "metaserver/store/connection.h"

#include <cstring>
#include <regex>
#include <stdexcept>

namespace ddbfs::meta::store {

namespace {

// libpq waits for a TCP connection, and for an answer on one, for as long as
// the kernel does unless told otherwise (two hours of silence before the
// first keepalive); a metaserver must notice a dead or cut-off database
// within seconds (docs/metadata.md, "PostgreSQL session limits"). A URL
// that sets one of these keeps its own value. Unix sockets ignore them.
constexpr std::pair<const char*, const char*> kLivenessParams[] = {
    {"connect_timeout", "5"},     {"keepalives", "1"},       {"keepalives_idle", "5"},
    {"keepalives_interval", "2"}, {"keepalives_count", "3"}, {"tcp_user_timeout", "10000"}};

}  // namespace

std::string WithLivenessParams(std::string url) {
  const bool is_url = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  for (const auto& [name, value] : kLivenessParams) {
    if (url.find(std::string(name) + "=") != std::string::npos) continue;
    if (is_url) {
      url += (url.find('?') == std::string::npos ? "?" : "&");
    } else {
      url += " ";
    }
    url += std::string(name) + "=" + value;
  }
  return url;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url) {
  try {
    auto conn = std::make_unique<pqxx::connection>(WithLivenessParams(url));
    return std::unique_ptr<Connection>(new Connection(std::move(conn)));
  } catch (const std::exception& e) {
    return Unavailable(FirstLine(e.what()));
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url,
                                                     const SessionLimits& limits) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Open(url));
  RETURN_IF_ERROR(conn->SetLimits(limits));
  return conn;
}

Status Connection::SetLimits(const SessionLimits& limits) {
  try {
    pqxx::nontransaction txn(*conn_);
    txn.exec("SET statement_timeout = " + std::to_string(limits.statement_timeout_ms) +
             "; SET lock_timeout = " + std::to_string(limits.lock_timeout_ms) +
             "; SET idle_in_transaction_session_timeout = " +
             std::to_string(limits.idle_in_transaction_timeout_ms) +
             // The server's side of the same: a metaserver cut off from
             // PostgreSQL loses its session (and what it holds) within
             // about 11 s, also in the middle of a statement.
             "; SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2"
             "; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 10000"
             "; SET client_connection_check_interval = 2000");
  } catch (const std::exception& e) {
    return Unavailable("cannot set session limits: " + FirstLine(e.what()));
  }
  return Status();
}

void Connection::Prepare(const Statement& s) {
  auto it = prepared_.find(s.name);
  if (it != prepared_.end()) {
    if (std::strcmp(it->second, s.sql) != 0) {
      throw std::logic_error(std::string("two statements are named ") + s.name);
    }
    return;
  }
  conn_->prepare(s.name, s.sql);
  prepared_.emplace(s.name, s.sql);
}

std::string RedactUrl(const std::string& url) {
  // URL form: scheme://user:password@host...
  static const std::regex kUrlPassword(R"(^([a-z]+://[^:/@]*):[^@/]*@)");
  // Keyword form: password=secret
  static const std::regex kKeywordPassword(R"(password\s*=\s*('[^']*'|\S+))");
  std::string out = std::regex_replace(url, kUrlPassword, "$1@");
  return std::regex_replace(out, kKeywordPassword, "password=***");
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line.empty() ? text : line;
}

}  // namespace ddbfs::meta::store
