#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace certbridge::storage {

// The one hex encoder: lower-case (fingerprints, hashes, tokens) or upper-case (serials and CRL
// numbers, as OpenSSL's BN_bn2hex prints them), no separators.
enum class HexCase { kLower, kUpper };
std::string toHex(std::span<const unsigned char> bytes, HexCase letters = HexCase::kLower);

// An incremental SHA-256 (OpenSSL EVP). Every EVP call is checked: a failure throws
// std::runtime_error with OpenSSL's error text instead of yielding a digest of nothing. Owns its
// EVP_MD_CTX; move-only; not thread-safe.
class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  Sha256& update(std::span<const unsigned char> bytes);
  Sha256& update(std::string_view text);
  // Lower-case hex of the digest; the object cannot be updated afterwards.
  std::string finalHex();

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

// The one SHA-256: lower-case hex of the digest of `bytes`. certbridge's certificate and CRL
// fingerprints, content hashes and the stored form of API tokens.
std::string sha256Hex(std::span<const unsigned char> bytes);
inline std::string sha256Hex(std::string_view text) {
  return sha256Hex(std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

}  // namespace certbridge::storage
