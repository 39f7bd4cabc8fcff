#include "platform/cert_store.h"
#include "platform/windows/cryptoapi_cert_store.h"

namespace certbridge::platform {

std::unique_ptr<CertStore> openCertStore(const StoreLocation& location) {
  if (location.type == "cryptoapi") {
    return std::make_unique<windows::CryptoApiCertStore>(location.path, location.system_stores);
  }
  if (location.type == "nss") {
    throw StoreError("store type 'nss' (" + location.path +
                     ") reads NSS databases, which certbridge supports on Linux; on Windows use "
                     "type = cryptoapi");
  }
  throw StoreError("store type '" + location.type + "' is not supported on this platform " +
                   "(supported: cryptoapi)");
}

std::string clientCaTrustHint() {
  return "put the issuing CA into the Root store of a cryptoapi store's location (certutil "
         "-addstore Root CA.cer for local_machine, certutil -user -addstore Root CA.cer for "
         "current_user) and list Root in its stores";
}

std::string clientCaTrustMark() {
  return "the CryptoAPI Root store";
}

}  // namespace certbridge::platform
