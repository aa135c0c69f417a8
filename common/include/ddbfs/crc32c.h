#pragma once

#include <cstdint>
#include <span>

namespace ddbfs {

// CRC32C (Castagnoli), the standard one: Crc32c("123456789") == 0xE3069283.
// Backed by ISA-L's crc32_iscsi (SSE4.2/PCLMUL when the CPU has them).
uint32_t Crc32c(std::span<const char> data);
// Continues a CRC: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, std::span<const char> data);

}  // namespace ddbfs
