#pragma once

#include <string>
#include <vector>

#include "platform/cert_store.h"

namespace certbridge::platform::windows {

// Reads Windows system certificate stores through CryptoAPI, read-only. Certificates in a store
// named Root are client CAs, in CA intermediates, and in any other store (TrustedPeople, My, a
// custom NginxClients, ...) trusted clients, kept only when their enhanced key usage (extension
// and store property together) allows client authentication. No private key is ever touched.
class CryptoApiCertStore final : public CertStore {
 public:
  // `location`: local_machine, current_user or service:NAME. Throws StoreError for anything
  // else or an empty store list.
  CryptoApiCertStore(std::string location, std::vector<std::string> system_stores);

  StoreSnapshot read() const override;
  std::string describe() const override;
  // Empty: CryptoAPI offers no cheap change marker, so every sync reads the stores.
  std::string changeToken() const override { return ""; }
  // The registry key behind each store, e.g. HKCU\Software\Microsoft\SystemCertificates\Root.
  std::vector<std::string> watchLocations() const override;

 private:
  std::string location_;
  std::vector<std::string> system_stores_;
};

}  // namespace certbridge::platform::windows
