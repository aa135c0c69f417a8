#include <string>

#include <gtest/gtest.h>

#include "ddbfs/crc32c.h"

namespace ddbfs {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  std::string s = "123456789";
  EXPECT_EQ(Crc32c(s), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string()), 0u);
}

TEST(Crc32cTest, ExtendEqualsWholeBuffer) {
  std::string a(70000, 'a'), b = "tail bytes";
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b), Crc32c(a + b));
}

TEST(Crc32cTest, OneFlippedBitChangesTheCrc) {
  std::string data(65536, '\x5a');
  uint32_t before = Crc32c(data);
  data[12345] ^= 0x01;
  EXPECT_NE(Crc32c(data), before);
}

}  // namespace
}  // namespace ddbfs
