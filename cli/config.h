#pragma once

// Where the CLI finds the metaserver.

#include <string>

#include "ddbfs/status.h"

namespace ddbfs::cli {

// The metaserver address, first found of: `flag` (--meta), $DDBFS_META, the
// `meta = HOST:PORT` line of the config file ($DDBFS_CONFIG, else
// ~/.config/ddbfs/client.conf, else /etc/ddbfs/client.conf), 127.0.0.1:9400.
// A config file that exists but cannot be parsed is an error.
Result<std::string> ResolveMetaAddress(const std::string& flag);

// Parses one config file; `meta` is left unchanged if the file has no
// `meta` line. Lines: `key = value`, `# comment`, blank.
Status ReadConfigFile(const std::string& path, std::string* meta);

}  // namespace ddbfs::cli
