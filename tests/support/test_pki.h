#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/pki/openssl_handles.h"

namespace certbridge::testing {

struct CertificateSpec {
  std::string common_name;
  std::string organization = "certbridge test";
  bool ca = false;
  std::string extended_key_usage = "clientAuth";  // empty: no EKU extension
  std::int64_t not_before_offset = -3600;         // seconds from now
  std::int64_t not_after_offset = 365 * 86400;
  std::string crl_distribution_point;  // URL; empty: none
  // Reproducible data for benchmarks: the EC key derived from this seed and a fixed serial.
  std::optional<std::uint64_t> key_seed;
  std::optional<std::uint64_t> serial;
  // An exact serial as signed hex (BN_hex2bn: "-01", "00FF", 20 octets...); wins over `serial`.
  std::string serial_hex;
};

// An extension written as given, for CRLs certbridge must refuse or accept.
struct RawExtension {
  std::string oid;  // dotted
  bool critical = false;
  std::vector<unsigned char> value;  // the DER inside extnValue
};

struct CrlSpec {
  std::vector<std::string> revoked_serials;  // hex
  std::int64_t this_update_offset = -60;     // seconds from now
  std::int64_t next_update_offset = 86400;
  std::int64_t number = 1;                     // crlNumber; 0 leaves the extension out
  std::vector<RawExtension> extensions;        // more CRL extensions
  std::vector<RawExtension> entry_extensions;  // added to every revoked entry
};

// A certificate made in memory with the OpenSSL API (EC P-256), with its key, for tests that
// need particular certificates quickly. Test-only: the agent itself never holds a private key.
class TestCertificate {
 public:
  // Self-signed when `issuer` is null.
  static TestCertificate issue(const CertificateSpec& spec, const TestCertificate* issuer);
  // A certificate and its key from PEM files' text, e.g. a CA of scripts/demo-pki.
  static TestCertificate fromPem(const std::string& certificate_pem, const std::string& key_pem);

  // A CRL signed by this certificate's key (OpenSSL API).
  std::vector<unsigned char> crlDer(const CrlSpec& spec) const;
  std::vector<unsigned char> crlDer(const std::vector<std::string>& revoked_serials) const {
    return crlDer(CrlSpec{.revoked_serials = revoked_serials});
  }
  // A CRL revoking serials 1..count, DER written directly and signed over its TBS bytes: a
  // million entries take a second, where building X509_REVOKED objects would take minutes.
  std::vector<unsigned char> largeCrlDer(std::size_t count, std::int64_t number = 1) const;

  std::vector<unsigned char> der() const;
  std::string pem() const;
  std::string keyPem() const;
  X509* get() const { return certificate_.get(); }

 private:
  agent::X509Ptr certificate_;
  agent::EvpPkeyPtr key_;
};

}  // namespace certbridge::testing
