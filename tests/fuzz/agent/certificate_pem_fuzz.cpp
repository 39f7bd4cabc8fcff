// Certificate::fromPem: PEM text from a file, an upload or a store. Contract: certificates or a
// CertificateError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/pki/certificate.h"

using certbridge::agent::Certificate;
using certbridge::agent::CertificateError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    for (const Certificate& certificate : Certificate::fromPem(text, "fuzz input")) {
      (void)certificate.toPem();
    }
  } catch (const CertificateError&) {
  }
  return 0;
}
