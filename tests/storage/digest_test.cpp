#include "storage/digest.h"

#include <gtest/gtest.h>

#include <array>

namespace certbridge::storage {
namespace {

TEST(DigestTest, Sha256OfKnownTextIsTheFipsVector) {
  EXPECT_EQ(sha256Hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DigestTest, IncrementalDigestEqualsTheOneShotDigest) {
  Sha256 digest;
  digest.update(std::string_view("a")).update(std::string_view("bc"));
  EXPECT_EQ(digest.finalHex(), sha256Hex(std::string_view("abc")));
}

TEST(DigestTest, FinishedDigestRefusesMoreInputWithAMessage) {
  Sha256 digest;
  digest.finalHex();
  EXPECT_THROW(digest.update(std::string_view("late")), std::runtime_error);
}

TEST(DigestTest, HexInBothCases) {
  const std::array<unsigned char, 3> bytes{0x00, 0xab, 0x0f};
  EXPECT_EQ(toHex(bytes), "00ab0f");
  EXPECT_EQ(toHex(bytes, HexCase::kUpper), "00AB0F");
}

}  // namespace
}  // namespace certbridge::storage
