// Certificate::fromDer: the bytes of a store entry, an upload or a bundle block. Contract: a
// Certificate or a CertificateError, nothing else; a parsed certificate prints as PEM that reads
// back to the same certificate.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "agent/certificate.h"

using certbridge::agent::Certificate;
using certbridge::agent::CertificateError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const Certificate certificate = Certificate::fromDer(std::span(data, size), "fuzz input");
    (void)certificate.isSelfSigned();
    (void)certificate.isClientAuthCapable();
    (void)certificate.isIssuedBy(certificate);
    const auto again = Certificate::fromPem(certificate.toPem(), "fuzz round trip");
    if (again.size() != 1 || again.front().record().sha256 != certificate.record().sha256) {
      std::abort();  // what was written is not what was read
    }
  } catch (const CertificateError&) {
  }
  return 0;
}
