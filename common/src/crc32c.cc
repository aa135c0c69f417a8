#include "ddbfs/crc32c.h"

#include <isa-l/crc.h>

namespace ddbfs {

uint32_t Crc32cExtend(uint32_t crc, std::span<const char> data) {
  // crc32_iscsi works on the pre-inverted register and does not invert the
  // result, so the standard CRC32C is ~crc32_iscsi(~crc).
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
  return ~crc32_iscsi(p, static_cast<int>(data.size()), ~crc);
}

uint32_t Crc32c(std::span<const char> data) { return Crc32cExtend(0, data); }

}  // namespace ddbfs
