#pragma once

// Format 1 chunk files (magic DDBFSCK1, written by the first releases; the
// layout is kept in docs/chunk_format.md, "Format 1"): recognised and
// converted to format 2 in place when a chunk store opens.

#include <string>

#include "ddbfs/status.h"

namespace ddbfs::chunkserver {

// True if `path` starts with the format-1 magic.
bool IsFormat1File(const std::string& path);

// Rewrites a format-1 chunk file as format 2: reads and verifies its header
// and every block, writes `<path>.tmp` in format 2 (same chunk id, version
// and bytes), syncs it, renames it over `path` and syncs the folder. A
// corrupt format-1 file is kChecksumMismatch and is left untouched; on any
// failure the temporary file is removed.
Status UpgradeFormat1File(const std::string& path);

}  // namespace ddbfs::chunkserver
