// readPemBlocks: doctor's reading of the files nginx is pointed at (ssl_client_certificate,
// ssl_trusted_certificate, ssl_crl), then each block decoded as doctor does. The first byte picks
// the kind of file. Contract: readPemBlocks reports bad blocks as messages and throws nothing; a
// block decodes or gets a CertificateError or CrlError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/pki/certificate.h"
#include "agent/pki/crl.h"
#include "agent/pki/pem_blocks.h"

using namespace certbridge::agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool crl_file = (data[0] & 1) != 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const PemFileContents contents =
      readPemBlocks(text, crl_file ? "X509 CRL" : "CERTIFICATE", "/fuzz/bundle.pem");
  for (const PemBlock& block : contents.blocks) {
    const std::string where = describePemBlock("/fuzz/bundle.pem", block);
    try {
      if (crl_file) {
        const Crl crl = Crl::parse(block.der, where);
        crl.forEachRevokedSerial([](const auto&) {});
      } else {
        (void)Certificate::fromDer(block.der, where);
      }
    } catch (const CertificateError&) {
    } catch (const CrlError&) {
    }
  }
  return 0;
}
