// Certificate::fromDer: the bytes of a store entry, an upload or a bundle block. Contract: a
// Certificate or a CertificateError, nothing else; a parsed certificate prints as PEM that reads
// back as the same certificate, byte for byte when the input was canonical DER. (OpenSSL accepts
// some non-canonical encodings, e.g. set bits in a BIT STRING's unused bits, and writes them
// canonically: regressions/certificate_der_fuzz/signature-bits-left.der.)
#include <openssl/x509.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "agent/pki/certificate.h"
#include "agent/pki/openssl_handles.h"

using certbridge::agent::Certificate;
using certbridge::agent::CertificateError;

namespace {

bool isCanonicalDer(const Certificate& certificate, std::span<const std::uint8_t> input) {
  unsigned char* encoded = nullptr;
  const int length = i2d_X509(certificate.get(), &encoded);
  const certbridge::agent::OpenSslStringPtr owned(reinterpret_cast<char*>(encoded));
  return length >= 0 && static_cast<std::size_t>(length) == input.size() &&
         std::equal(input.begin(), input.end(), encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const Certificate certificate = Certificate::fromDer(std::span(data, size), "fuzz input");
    (void)certificate.isSelfSigned();
    (void)certificate.isClientAuthCapable();
    (void)certificate.isIssuedBy(certificate);
    const auto again = Certificate::fromPem(certificate.toPem(), "fuzz round trip");
    const auto& first = certificate.record();
    if (again.size() != 1 || again.front().record().subject != first.subject ||
        again.front().record().issuer != first.issuer ||
        again.front().record().not_after != first.not_after) {
      __builtin_trap();  // what was written is not what was read
    }
    if (isCanonicalDer(certificate, std::span(data, size)) &&
        again.front().record().sha256 != first.sha256) {
      __builtin_trap();
    }
  } catch (const CertificateError&) {
  }
  return 0;
}
