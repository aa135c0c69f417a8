#pragma once

// Keys for tests that start servers themselves (docs/security.md).

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>

#include "ddbfs/auth.h"
#include "ddbfs/rpc.h"

namespace ddbfs::testing {

// Writes a fresh cluster key into `dir`/cluster.key (mode 0600); returns the
// path, for --cluster-key-file.
inline std::string WriteClusterKey(const std::string& dir) {
  const std::string path = dir + "/cluster.key";
  {
    std::ofstream out(path);
    out << ToHex(RandomBytes(kSecretBytes)) << "\n";
  }
  ::chmod(path.c_str(), 0600);
  return path;
}

// Connections that prove the cluster key in `key_file` (as servers do).
inline std::shared_ptr<const Transport> ClusterTransport(const std::string& key_file,
                                                         const TlsOptions& tls = {}) {
  auto secret = ReadSecretFile(key_file);
  if (!secret.ok()) return nullptr;
  auto t = Transport::Create(tls, Credential{std::string(kClusterKeyId), *secret});
  return t.ok() ? *t : nullptr;
}

}  // namespace ddbfs::testing
