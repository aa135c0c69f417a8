#pragma once

// The client configuration every front end reads (the CLI, the mount, the
// browser): where the metaserver is, the key to prove, TLS. docs/cli.md,
// "Configuration"; docs/security.md, "Client configuration".

#include <string>

#include "ddbfs/client.h"
#include "ddbfs/status.h"

namespace ddbfs {

// The Unix socket `scripts/cluster up` serves the metaserver on; used when
// nothing else names a metaserver and it exists.
inline constexpr char kDefaultMetaSocket[] = "/run/ddbfs/meta.sock";

// Client options from, first found: `meta_flag` (--meta), $DDBFS_META, the
// config file ($DDBFS_CONFIG, else ~/.config/ddbfs/client.conf, else
// /etc/ddbfs/client.conf), then unix:/run/ddbfs/meta.sock if it exists,
// else 127.0.0.1:9400. The key and TLS settings come from the config file
// only. A config file that cannot be parsed, or that holds a key and can be
// read by group or others, is an error.
Result<ClientOptions> LoadClientOptions(const std::string& meta_flag);

// Parses one config file into *out (keys: meta, key, tls, tls-ca); *meta_set
// tells whether it had a `meta` line. Lines: `key = value`, `# comment`.
Status ReadClientConfigFile(const std::string& path, ClientOptions* out, bool* meta_set);

}  // namespace ddbfs
