#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace burrow::crc32c {
namespace {

TEST(Crc32cTest, CheckValueMatchesTheStandard) { EXPECT_EQ(Value("123456789"), 0xE3069283u); }

TEST(Crc32cTest, KnownVectorsFromRfc3720) {
  std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones), 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Value(ascending), 0x46dd794eu);
}

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  std::string a = "hello ", b = "world, this is longer than eight bytes";
  EXPECT_EQ(Extend(Value(a), b.data(), b.size()), Value(a + b));
}

TEST(Crc32cTest, PortablePathAgreesWithDispatchedPathAtEveryLengthAndOffset) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  for (size_t off = 0; off < 9; ++off) {
    for (size_t n = 0; off + n <= data.size(); n += 7) {
      EXPECT_EQ(internal::ExtendPortable(0x1234, data.data() + off, n),
                Extend(0x1234, data.data() + off, n))
          << "off=" << off << " n=" << n;
    }
  }
}

TEST(Crc32cTest, MaskRoundTripsAndChangesTheValue) {
  uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_NE(Mask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Unmask(Mask(Mask(crc)))), crc);
}

}  // namespace
}  // namespace burrow::crc32c
