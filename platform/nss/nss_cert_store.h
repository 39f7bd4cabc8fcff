#pragma once

#include <string>
#include <vector>

#include "platform/cert_store.h"

namespace certbridge::platform::nss {

// Reads an NSS certificate database (cert9.db, "sql:" format) read-only: every certificate with
// its nickname and SSL trust flags, and every CRL the database holds. NSS keeps process-wide
// state, so reads from all NssCertStore objects are serialised by one mutex.
class NssCertStore final : public CertStore {
 public:
  // `path` is "sql:/dir" or a directory; the directory must hold cert9.db.
  explicit NssCertStore(std::string path);

  StoreSnapshot read() const override;
  std::string describe() const override;
  std::vector<std::string> watchLocations() const override;
  std::string changeToken() const override;

 private:
  std::string path_;
  std::string directory_;
};

}  // namespace certbridge::platform::nss
