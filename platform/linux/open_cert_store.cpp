#include "platform/cert_store.h"
#include "platform/nss/nss_cert_store.h"

namespace certbridge::platform {

std::unique_ptr<CertStore> openCertStore(const StoreLocation& location) {
  if (location.type == "nss") {
    return std::make_unique<nss::NssCertStore>(location.path);
  }
  if (location.type == "cryptoapi") {
    throw StoreError("store type 'cryptoapi' (" + location.path +
                     ") reads Windows system stores and exists only on Windows; on Linux use "
                     "type = nss");
  }
  throw StoreError("store type '" + location.type + "' is not supported on this platform " +
                   "(supported: nss)");
}

std::string clientCaTrustHint() {
  return "mark the issuing CA with trust flag T (certutil -M -d sql:DIR -n NICKNAME -t T,,)";
}

std::string clientCaTrustMark() {
  return "NSS trust flag T";
}

}  // namespace certbridge::platform
