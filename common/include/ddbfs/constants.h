#pragma once

#include <cstdint>

namespace ddbfs {

// File data is cut into chunks of this size; chunk i of a file holds bytes
// [i * kChunkSize, (i + 1) * kChunkSize).
inline constexpr uint64_t kChunkSize = 64ull << 20;
// Each chunk is checksummed per block of this size (docs/chunk_format.md).
inline constexpr uint32_t kBlockSize = 64u << 10;
inline constexpr uint32_t kBlocksPerChunk = kChunkSize / kBlockSize;
// Largest piece of data in one WriteChunk/ReadChunk RPC.
inline constexpr uint32_t kMaxIoSize = 4u << 20;
// POSIX NAME_MAX.
inline constexpr uint32_t kMaxNameLength = 255;
inline constexpr int64_t kRootInode = 1;
inline constexpr int kDefaultGoal = 2;
inline constexpr int kDefaultMetaPort = 9400;
inline constexpr int kDefaultChunkPort = 9500;

}  // namespace ddbfs
