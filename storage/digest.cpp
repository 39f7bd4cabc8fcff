#include "storage/digest.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace certbridge::storage {
namespace {

[[noreturn]] void throwOpenSslError(const char* what) {
  char text[256] = "no error text";
  if (const unsigned long code = ERR_get_error(); code != 0) {
    ERR_error_string_n(code, text, sizeof(text));
  }
  ERR_clear_error();
  throw std::runtime_error(std::string("SHA-256: ") + what + " failed (" + text + ")");
}

}  // namespace

std::string toHex(std::span<const unsigned char> bytes, HexCase letters) {
  const char* digits = letters == HexCase::kLower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const unsigned char byte : bytes) {
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0x0f]);
  }
  return hex;
}

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_) {
    throwOpenSslError("EVP_MD_CTX_new");
  }
  if (EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throwOpenSslError("EVP_DigestInit_ex");
  }
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

Sha256& Sha256::update(std::span<const unsigned char> bytes) {
  if (!context_ || EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) != 1) {
    throwOpenSslError("EVP_DigestUpdate");
  }
  return *this;
}

Sha256& Sha256::update(std::string_view text) {
  return update(std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

std::string Sha256::finalHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context_ || EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) {
    throwOpenSslError("EVP_DigestFinal_ex");
  }
  context_.reset();
  return toHex(std::span(digest, length));
}

std::string sha256Hex(std::span<const unsigned char> bytes) {
  return Sha256().update(bytes).finalHex();
}

}  // namespace certbridge::storage
