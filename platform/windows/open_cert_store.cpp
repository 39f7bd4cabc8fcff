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

}  // namespace certbridge::platform
