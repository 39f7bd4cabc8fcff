#pragma once

#include <string>

#include "storage/digest.h"

namespace certbridge::storage {

// PBKDF2-HMAC-SHA256 with a random 16-byte salt, as "pbkdf2-sha256$ITERATIONS$SALT$HASH" (salt
// and hash in hex). This is what [web] admin_password_hash holds and `certbridge hash-password`
// prints.
std::string hashPassword(const std::string& password, int iterations = 200000);

// Constant-time check of `password` against a stored hash; false for a malformed hash too.
bool verifyPassword(const std::string& password, const std::string& stored_hash);

// True when `stored_hash` has the form hashPassword produces.
bool isPasswordHash(const std::string& stored_hash);

// `bytes` random bytes from OpenSSL's CSPRNG, as lower-case hex.
std::string randomHex(int bytes);

// Equal strings, in time that does not depend on where they differ.
bool constantTimeEquals(const std::string& left, const std::string& right);

}  // namespace certbridge::storage
