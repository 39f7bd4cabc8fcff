#pragma once

#include <string>
#include <vector>

#include "platform/cert_store.h"

namespace certbridge::platform::nss {

// How NssCertStore lists certificates. All give the same certificates, nicknames and trust; they
// differ only in cost (bench/results.json, `store_read_candidates`).
enum class NssListing {
  // The PKCS#11 object level, one attribute read per certificate and per trust object (DER and
  // label together; SHA-1, server and client trust together). Linear in the store's size: the
  // default.
  pkcs11_objects,
  // The same objects, one attribute read per attribute: twice the calls into the token.
  pkcs11_attribute_each,
  // NSS's certificate layer (PK11_ListCertsInSlot and CERT_GetCertTrust), as before issue 15: it
  // builds a CERTCertificate for every entry through the trust domain's cache, which grows
  // faster than linearly (10,000 certificates: ~10 s). Kept to compare the others against.
  certificate_layer,
};

// Reads an NSS certificate database (cert9.db, "sql:" format) read-only: every certificate with
// its nickname and SSL trust flags, and every CRL the database holds. NSS keeps process-wide
// state, so reads from all NssCertStore objects are serialised by one mutex.
class NssCertStore final : public CertStore {
 public:
  // `path` is "sql:/dir" or a directory; the directory must hold cert9.db.
  explicit NssCertStore(std::string path, NssListing listing = NssListing::pkcs11_objects);

  StoreSnapshot read() const override;
  std::string describe() const override;
  std::vector<std::string> watchLocations() const override;
  std::string changeToken() const override;

 private:
  std::string path_;
  std::string directory_;
  NssListing listing_;
};

}  // namespace certbridge::platform::nss
