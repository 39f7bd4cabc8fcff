// The CRL path for fetched or stored bytes: crlDerFromBytes (DER or the first PEM block), the
// streaming reader Crl::parse and the walk over the revoked entries. Contract: a CRL or a
// CrlError, nothing else (AddressSanitizer watches that the walk stays inside the DER).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/pki/crl.h"

using certbridge::agent::Crl;
using certbridge::agent::CrlError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::vector<unsigned char> der =
        certbridge::agent::crlDerFromBytes(std::vector<unsigned char>(data, data + size), "fuzz");
    const Crl crl = Crl::parse(der, "fuzz input");
    std::size_t visited = 0;
    const std::size_t counted = crl.forEachRevokedSerial([&](const auto&) { ++visited; });
    if (counted != visited) {
      __builtin_trap();
    }
    (void)certbridge::agent::crlToPem(crl.der());
  } catch (const CrlError&) {
  }
  return 0;
}
