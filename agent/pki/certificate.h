#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/pki/openssl_handles.h"
#include "storage/digest.h"
#include "storage/records.h"

namespace certbridge::agent {

// A certificate that could not be parsed; the message says which one and why.
class CertificateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An X.509 certificate parsed from DER, with the facts certbridge stores and decides on.
// Immutable and cheap to move; safe to read from several threads.
class Certificate {
 public:
  // Throws CertificateError (naming `origin`, e.g. "store main, nickname alice") for anything
  // that is not exactly one well-formed DER certificate.
  static Certificate fromDer(std::span<const unsigned char> der, const std::string& origin);
  // Every certificate in a PEM text, in order; throws CertificateError when there is none or a
  // block does not parse.
  static std::vector<Certificate> fromPem(const std::string& pem, const std::string& origin);

  const storage::CertificateRecord& record() const { return record_; }
  X509* get() const { return x509_.get(); }

  bool isSelfSigned() const { return self_signed_; }
  // Usable to authenticate a TLS client: an end entity whose extended key usage is absent or
  // includes clientAuth (or anyExtendedKeyUsage).
  bool isClientAuthCapable() const { return !record_.is_ca && client_auth_; }
  // `issuer`'s subject matches this certificate's issuer and its key verifies the signature.
  bool isIssuedBy(const Certificate& issuer) const;
  bool isValidAt(std::int64_t unix_time) const {
    return record_.not_before <= unix_time && unix_time <= record_.not_after;
  }
  std::string toPem() const;

 private:
  Certificate(X509Ptr x509, std::span<const unsigned char> der);

  X509Ptr x509_;
  storage::CertificateRecord record_;
  bool self_signed_ = false;
  bool client_auth_ = false;
};

// The DER encodings of a certificate's issuer and subject names, found without parsing it (a
// few bytes' walk), to tell which certificates may issue which before parsing them; nullopt when
// `der` does not have a certificate's shape (parsing it then says what is wrong).
struct RawNames {
  std::span<const unsigned char> issuer;
  std::span<const unsigned char> subject;
};
std::optional<RawNames> rawNames(std::span<const unsigned char> der);

// certbridge's one hex encoder and one SHA-256 (fingerprints, content hashes), shared with web/.
using storage::sha256Hex;
using storage::toHex;
// A distinguished name in RFC 2253 form, UTF-8 kept as is.
std::string nameToString(const X509_NAME* name);
// The name's last commonName in UTF-8; empty when it has none.
std::string commonName(const X509_NAME* name);
// Seconds since 1970 for an ASN.1 time; nullopt when it cannot be read.
std::optional<std::int64_t> toUnixTime(const ASN1_TIME* time);

}  // namespace certbridge::agent
