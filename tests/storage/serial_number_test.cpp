#include "storage/serial_number.h"

#include <gtest/gtest.h>

#include <vector>

namespace certbridge::storage {
namespace {

std::optional<std::string> text(std::vector<unsigned char> contents) {
  return serialFromDerInteger(contents);
}

TEST(SerialNumber, SignedIntegersHaveOneExactText) {
  EXPECT_EQ(text({0xff}), "-01");
  EXPECT_EQ(text({0x00, 0xff}), "FF");
  EXPECT_EQ(text({0x80}), "-80");
  EXPECT_EQ(text({0x00, 0x80}), "80");
  EXPECT_EQ(text({0xff, 0x7f}), "-81");
  EXPECT_EQ(text({0x00}), "00");
  EXPECT_EQ(text({0x01}), "01");
  EXPECT_EQ(text({0x01, 0x00}), "0100");
  EXPECT_EQ(text({0xff, 0x00}), "-0100");
}

TEST(SerialNumber, TwentyOctetsEitherSign) {
  std::vector<unsigned char> positive(20, 0x11);
  positive[0] = 0x7f;
  EXPECT_EQ(text(positive), "7F" + std::string(38, '1'));
  std::vector<unsigned char> negative(20, 0x00);
  negative[0] = 0x80;
  EXPECT_EQ(text(negative), "-80" + std::string(38, '0'));
}

TEST(SerialNumber, PaddedOrEmptyIntegersAreNotSerials) {
  EXPECT_EQ(text({}), std::nullopt);
  EXPECT_EQ(text({0x00, 0x01}), std::nullopt);
  EXPECT_EQ(text({0xff, 0x80}), std::nullopt);
  EXPECT_EQ(text({0xff, 0xff}), std::nullopt);
}

TEST(SerialNumber, SignAndMagnitudeForm) {
  const std::vector<unsigned char> magnitude = {0x00, 0x01};
  EXPECT_EQ(serialText(true, magnitude), "-01");
  EXPECT_EQ(serialText(false, magnitude), "01");
  EXPECT_EQ(serialText(true, std::vector<unsigned char>{}), "00") << "zero has no sign";
}

}  // namespace
}  // namespace certbridge::storage
