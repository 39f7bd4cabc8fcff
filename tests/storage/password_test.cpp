#include "storage/password.h"

#include <gtest/gtest.h>

namespace certbridge::storage {
namespace {

TEST(Password, HashVerifiesOnlyTheSamePassword) {
  const std::string hash = hashPassword("correct horse", 1000);
  EXPECT_TRUE(hash.starts_with("pbkdf2-sha256$1000$"));
  EXPECT_TRUE(isPasswordHash(hash));
  EXPECT_TRUE(verifyPassword("correct horse", hash));
  EXPECT_FALSE(verifyPassword("correct horsf", hash));
  EXPECT_FALSE(verifyPassword("", hash));
  EXPECT_NE(hashPassword("correct horse", 1000), hash) << "a new salt every time";
}

TEST(Password, MalformedHashesNeverVerify) {
  for (const char* stored : {"", "plain", "pbkdf2-sha256$abc$00$00", "md5$1000$0011223344556677$00",
                             "pbkdf2-sha256$1000$00$0000"}) {
    EXPECT_FALSE(isPasswordHash(stored)) << stored;
    EXPECT_FALSE(verifyPassword("x", stored)) << stored;
  }
}

}  // namespace
}  // namespace certbridge::storage
