#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/constants.h"
#include "ddbfs/status.h"

namespace ddbfs::meta {

// Checks of request fields, done before anything touches the database.

// Largest file size the metaserver accepts (chunk indexes stay far from
// overflow): 1 EiB.
inline constexpr uint64_t kMaxFileSize = 1ull << 60;
inline constexpr int64_t kMaxChunkIndex = static_cast<int64_t>(kMaxFileSize / kChunkSize);
// PATH_MAX, for symlink targets and whole paths.
inline constexpr size_t kMaxPathLength = 4095;

// A directory entry name: 1..255 bytes (kNameTooLong above), valid UTF-8,
// no '/' or NUL, not "." or ".." (kInvalidArgument).
Status ValidateName(std::string_view name);

// An inode id named `what` in messages: must be > 0.
Status ValidateInode(InodeId inode, std::string_view what = "inode");
// At most kMaxAtimeReads atime updates in one call.
inline constexpr size_t kMaxAtimeReads = 4096;
Status ValidateAtimeReadCount(size_t n);

// Free text stored in the database (targets, labels): valid UTF-8, no NUL.
Status ValidateText(std::string_view text, std::string_view what);

bool IsValidUtf8(std::string_view text);

// Splits an absolute normalized path ("/", "/a/b") into its components:
// leading '/', no empty, "." or ".." component, no trailing '/'.
Result<std::vector<std::string>> SplitPath(std::string_view path);

}  // namespace ddbfs::meta
