#include "storage/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "storage/digest.h"

namespace certbridge::storage {
namespace {

constexpr const char* kScheme = "pbkdf2-sha256";
constexpr int kHashBytes = 32;

bool fromHex(const std::string& hex, std::vector<unsigned char>& bytes) {
  if (hex.size() % 2 != 0) {
    return false;
  }
  bytes.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned int value = 0;
    if (std::sscanf(hex.c_str() + i, "%2x", &value) != 1) {
      return false;
    }
    bytes.push_back(static_cast<unsigned char>(value));
  }
  return true;
}

std::string derive(const std::string& password, const std::vector<unsigned char>& salt,
                   int iterations) {
  unsigned char hash[kHashBytes];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(), kHashBytes,
                        hash) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return toHex(std::span(hash, kHashBytes));
}

struct ParsedHash {
  int iterations = 0;
  std::vector<unsigned char> salt;
  std::string hash;
};

bool parse(const std::string& stored, ParsedHash& parsed) {
  const auto first = stored.find('$');
  const auto second = stored.find('$', first + 1);
  const auto third = stored.find('$', second + 1);
  if (first == std::string::npos || second == std::string::npos || third == std::string::npos ||
      stored.substr(0, first) != kScheme) {
    return false;
  }
  try {
    parsed.iterations = std::stoi(stored.substr(first + 1, second - first - 1));
  } catch (const std::exception&) {
    return false;
  }
  parsed.hash = stored.substr(third + 1);
  return parsed.iterations >= 1000 &&
         fromHex(stored.substr(second + 1, third - second - 1), parsed.salt) &&
         parsed.salt.size() >= 8 && parsed.hash.size() == kHashBytes * 2;
}

}  // namespace

std::string randomHex(int bytes) {
  std::vector<unsigned char> random(static_cast<std::size_t>(bytes));
  if (RAND_bytes(random.data(), bytes) != 1) {
    throw std::runtime_error("the random number generator failed");
  }
  return toHex(random);
}

std::string hashPassword(const std::string& password, int iterations) {
  const std::string salt_hex = randomHex(16);
  std::vector<unsigned char> salt;
  fromHex(salt_hex, salt);
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + salt_hex + "$" +
         derive(password, salt, iterations);
}

bool isPasswordHash(const std::string& stored_hash) {
  ParsedHash parsed;
  return parse(stored_hash, parsed);
}

bool verifyPassword(const std::string& password, const std::string& stored_hash) {
  ParsedHash parsed;
  if (!parse(stored_hash, parsed)) {
    return false;
  }
  return constantTimeEquals(derive(password, parsed.salt, parsed.iterations), parsed.hash);
}

bool constantTimeEquals(const std::string& left, const std::string& right) {
  return left.size() == right.size() && CRYPTO_memcmp(left.data(), right.data(), left.size()) == 0;
}

}  // namespace certbridge::storage
