#pragma once

// The command-line flags every server shares (CLI11): connection limits and
// the trust boundary (docs/security.md).

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "ddbfs/auth.h"
#include "ddbfs/rpc.h"
#include "ddbfs/rpc_server.h"

namespace ddbfs {

inline void AddServerLimitFlags(CLI::App& app, RpcServerLimits* limits) {
  app.add_option("--idle-timeout-ms", limits->idle_timeout_ms,
                 "close a connection that sends nothing for this long")
      ->capture_default_str()
      ->check(CLI::Range(100, 24 * 3600 * 1000));
  app.add_option("--max-connections", limits->max_connections, "connections served at once")
      ->capture_default_str()
      ->check(CLI::Range(4, 100000));
  app.add_option("--worker-threads", limits->worker_threads,
                 "threads kept for requests; more start while all are busy, up to one per "
                 "connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
}

struct SecurityFlags {
  std::string cluster_key_file;
  bool tls = false;
  TlsOptions tls_files;
};

inline void AddSecurityFlags(CLI::App& app, SecurityFlags* f) {
  app.add_option("--cluster-key-file", f->cluster_key_file,
                 "file with the cluster key (64 hex digits, mode 0600) that servers prove to "
                 "each other; `ddbfs-keygen` or `scripts/cluster` makes one")
      ->required();
  app.add_option("--tls", f->tls, "TLS on every connection this server serves and opens")
      ->capture_default_str();
  app.add_option("--tls-ca", f->tls_files.ca_file, "the cluster's CA certificate (PEM)");
  app.add_option("--tls-cert", f->tls_files.cert_file, "this server's certificate (PEM)");
  app.add_option("--tls-key", f->tls_files.key_file, "this server's private key (PEM, 0600)");
}

// What a server made of its SecurityFlags.
struct ServerSecurity {
  std::string cluster_secret;
  TlsOptions tls;  // for serving
  // For connections to other servers: TLS as configured, and the cluster key
  // proven on each.
  std::shared_ptr<const Transport> peers;
};

inline Result<ServerSecurity> LoadServerSecurity(const SecurityFlags& f) {
  ServerSecurity out;
  ASSIGN_OR_RETURN(out.cluster_secret, ReadSecretFile(f.cluster_key_file));
  out.tls = f.tls_files;
  out.tls.enabled = f.tls;
  if (f.tls && (out.tls.ca_file.empty() || out.tls.cert_file.empty() || out.tls.key_file.empty())) {
    return InvalidArgument("--tls on needs --tls-ca, --tls-cert and --tls-key");
  }
  ASSIGN_OR_RETURN(out.peers, Transport::Create(out.tls, Credential{std::string(kClusterKeyId),
                                                                    out.cluster_secret}));
  return out;
}

}  // namespace ddbfs
