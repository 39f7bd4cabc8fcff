#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace certbridge::platform {

using DerBytes = std::vector<unsigned char>;

// What the OS store says about one certificate, in platform-neutral terms. The NSS reader maps
// its trust letters here; the CryptoAPI reader maps its system store names (Root: a client CA;
// CA: an intermediate; any other store: a trusted client).
struct StoreTrust {
  bool trusted_client_ca = false;  // may issue client certificates (NSS "T")
  bool trusted_server_ca = false;  // may issue server certificates (NSS "C")
  bool trusted_peer = false;       // trusted as an end entity (NSS "P")
};

struct StoreCertificate {
  DerBytes der;
  std::string nickname;  // NSS nickname or CryptoAPI friendly name; may be empty
  StoreTrust trust;
};

struct StoreCrl {
  DerBytes der;
  std::string name;  // what the store calls it (NSS: the issuer's name or URL)
};

struct StoreSnapshot {
  std::vector<StoreCertificate> certificates;
  std::vector<StoreCrl> crls;
};

// Thrown when a store cannot be opened or read; the message names the store and carries the
// platform library's own error text.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A read-only view of one OS certificate store. Implementations open the store for each read()
// and release it afterwards, so a store that changes on disk is seen afresh every time.
// read() may be called from any thread; implementations serialise what their library needs.
class CertStore {
 public:
  virtual ~CertStore() = default;

  // Everything the store holds now. Throws StoreError when the store cannot be read.
  virtual StoreSnapshot read() const = 0;

  // A short human-readable description for logs and errors, e.g. "nss:sql:/etc/pki/nssdb".
  virtual std::string describe() const = 0;

  // A value that changes whenever the store's content may have changed, read without opening
  // the store (NSS: identity, size and modification time of cert9.db and its journal files), so
  // that an unchanged store costs a stat instead of a full read. Empty when it cannot tell.
  virtual std::string changeToken() const = 0;

  // Where a change to this store shows up, in the form the platform's StoreWatcher understands
  // (a directory on Linux, a registry key such as
  // HKCU\\Software\\Microsoft\\SystemCertificates\\Root on Windows).
  virtual std::vector<std::string> watchLocations() const = 0;
};

struct StoreLocation {
  std::string type;  // "nss" (Linux) or "cryptoapi" (Windows)
  // NSS: "sql:/dir" or a plain directory. CryptoAPI: "local_machine", "current_user" or
  // "service:NAME".
  std::string path;
  // CryptoAPI: the system stores to read, e.g. Root, CA, TrustedPeople, My, NginxClients.
  std::vector<std::string> system_stores;
};

// Never returns null; throws StoreError for a type this platform does not support.
std::unique_ptr<CertStore> openCertStore(const StoreLocation& location);

// What an operator does in this platform's stores to make a CA a client CA (NSS: trust flag T;
// CryptoAPI: the Root store), for messages that tell a person how to fix a missing client CA.
std::string clientCaTrustHint();
// The same in a few words for parentheses: "NSS trust flag T", "the CryptoAPI Root store".
std::string clientCaTrustMark();

}  // namespace certbridge::platform
