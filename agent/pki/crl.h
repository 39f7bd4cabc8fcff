#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/pki/certificate.h"
#include "agent/pki/openssl_handles.h"

namespace certbridge::agent {

// A CRL that is malformed, does not verify, or is otherwise unusable; the message says which one
// (its origin: store, URL or file) and why.
class CrlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A certificate revocation list read in place from its DER. The header (issuer, dates, CRL
// number) is decoded; the revoked entries stay as bytes and are walked on demand, so a CRL with
// a million entries costs little more than its own size. The DER must outlive the Crl.
class Crl {
 public:
  // Throws CrlError naming `origin` for anything that is not one well-formed X.509 v1/v2 CRL
  // ("malformed signature" for a signature BIT STRING that is not whole bytes), and for CRLs
  // that must not be used as a CA's one complete CRL: delta CRLs, indirect CRLs (indirectCRL),
  // partitioned CRLs (an issuingDistributionPoint with a distributionPoint, onlySomeReasons or
  // an onlyContains... flag), and CRLs with a critical extension other than
  // issuingDistributionPoint and authorityKeyIdentifier (RFC 5280 5.2; the message names its
  // OID). Revoked entries are checked when they are walked.
  static Crl parse(std::span<const unsigned char> der, const std::string& origin);
  // The Crl points into its DER: a temporary buffer would leave it dangling.
  static Crl parse(std::vector<unsigned char>&& der, const std::string& origin) = delete;

  const std::string& origin() const { return origin_; }
  const std::string& issuer() const { return issuer_; }  // RFC 2253, as Certificate prints it
  std::int64_t thisUpdate() const { return this_update_; }
  std::optional<std::int64_t> nextUpdate() const { return next_update_; }
  // The crlNumber extension in upper-case hex, when present.
  const std::optional<std::string>& number() const { return number_; }
  std::span<const unsigned char> der() const { return der_; }

  // The CRL's issuer name is `ca`'s subject.
  bool isIssuedBy(const Certificate& ca) const;
  // Throws CrlError unless `ca`'s public key verifies the CRL's signature.
  void verifySignature(const Certificate& ca) const;
  // Calls `visit` with each revoked serial number in the canonical text of
  // storage/serial_number.h (as Certificate's serial); returns how many there were. Throws
  // CrlError for a malformed entry, a serial that is not a minimal INTEGER, an entry naming
  // another issuer (certificateIssuer: an indirect CRL), and an entry with a critical extension
  // (RFC 5280 5.3), naming the entry and the OID: ingest stores the serials in one transaction,
  // so a refused CRL leaves the one held untouched.
  std::size_t forEachRevokedSerial(const std::function<void(const std::string&)>& visit) const;

 private:
  Crl() = default;

  std::string origin_;
  std::span<const unsigned char> der_;
  std::span<const unsigned char> tbs_;
  std::span<const unsigned char> signature_algorithm_;
  std::span<const unsigned char> signature_;
  std::span<const unsigned char> revoked_;  // contents of revokedCertificates; empty when absent
  std::string issuer_;
  X509NamePtr issuer_name_;
  std::int64_t this_update_ = 0;
  std::optional<std::int64_t> next_update_;
  std::optional<std::string> number_;
};

// CRL bytes as fetched or read from a file: DER as is, or the first "X509 CRL" PEM block decoded.
// Throws CrlError naming `origin` when neither.
std::vector<unsigned char> crlDerFromBytes(std::vector<unsigned char> bytes,
                                           const std::string& origin);
std::string crlToPem(std::span<const unsigned char> der);
// Appends the PEM of `der` to `out`, reserving once.
void appendCrlPem(std::string& out, std::span<const unsigned char> der);

}  // namespace certbridge::agent
