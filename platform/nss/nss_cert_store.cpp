#include "platform/nss/nss_cert_store.h"

#include <pk11pub.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "platform/nss/nss_handles.h"

namespace certbridge::platform::nss {
namespace {

constexpr std::string_view kSqlPrefix = "sql:";

std::mutex& nssMutex() {
  static std::mutex mutex;
  return mutex;
}

StoreTrust toStoreTrust(const CERTCertificate* certificate) {
  CERTCertTrust trust{};
  if (CERT_GetCertTrust(certificate, &trust) != SECSuccess) {
    return {};  // no trust record: the certificate is only stored, not trusted for anything
  }
  const unsigned int ssl = trust.sslFlags;
  return StoreTrust{
      .trusted_client_ca = (ssl & CERTDB_TRUSTED_CLIENT_CA) != 0,
      .trusted_server_ca = (ssl & CERTDB_TRUSTED_CA) != 0,
      .trusted_peer = (ssl & CERTDB_TERMINAL_RECORD) != 0 && (ssl & CERTDB_TRUSTED) != 0,
  };
}

DerBytes toBytes(const SECItem& item) {
  return DerBytes(item.data, item.data + item.len);
}

void checkDatabaseReadable(const std::string& path, const std::filesystem::path& directory) {
  const std::filesystem::path database = directory / "cert9.db";
  if (::access(database.c_str(), R_OK) == 0) {
    return;
  }
  const int error = errno;
  std::error_code ignored;
  if (error == ENOENT && !std::filesystem::is_directory(directory, ignored)) {
    throw StoreError("NSS database " + path + ": directory " + directory.string() +
                     " does not exist or is not a directory");
  }
  if (error == ENOENT) {
    throw StoreError("NSS database " + path + ": " + database.string() +
                     " not found (only the sql: format is supported; create one with "
                     "'certutil -N -d sql:" +
                     directory.string() + "')");
  }
  throw StoreError("NSS database " + path + ": cannot read " + database.string() + ": " +
                   std::strerror(error));
}

}  // namespace

NssCertStore::NssCertStore(std::string path) : path_(std::move(path)) {
  const std::string_view view = path_;
  directory_ = std::string(view.starts_with(kSqlPrefix) ? view.substr(kSqlPrefix.size()) : view);
  if (directory_.empty()) {
    throw StoreError("NSS database path is empty (expected sql:/path/to/nssdb)");
  }
}

std::string NssCertStore::describe() const {
  return "nss:" + path_;
}

std::vector<std::string> NssCertStore::watchLocations() const {
  return {directory_};
}

std::string NssCertStore::changeToken() const {
  std::string token;
  for (const char* name : {"cert9.db", "cert9.db-journal", "cert9.db-wal"}) {
    struct stat status {};
    const std::string path = directory_ + "/" + name;
    if (::stat(path.c_str(), &status) != 0) {
      if (errno != ENOENT) {
        return "";  // cannot tell: read the store
      }
      token += std::string(name) + ":-;";
      continue;
    }
    token += std::string(name) + ":" + std::to_string(status.st_ino) + ":" +
             std::to_string(status.st_size) + ":" + std::to_string(status.st_mtim.tv_sec) + "." +
             std::to_string(status.st_mtim.tv_nsec) + ";";
  }
  return token;
}

StoreSnapshot NssCertStore::read() const {
  checkDatabaseReadable(path_, directory_);

  const std::lock_guard lock(nssMutex());
  const std::string config_dir = "sql:" + directory_;
  // NOROOTINIT keeps the built-in Mozilla roots out: only what the operator put in the database
  // counts. NOMODDB avoids loading third-party PKCS#11 modules listed in pkcs11.txt.
  const NssContextPtr context(NSS_InitContext(
      config_dir.c_str(), "", "", "", nullptr,
      NSS_INIT_READONLY | NSS_INIT_NOROOTINIT | NSS_INIT_NOMODDB | NSS_INIT_OPTIMIZESPACE));
  if (!context) {
    throw StoreError("cannot open NSS database " + path_ + ": " + lastNssError());
  }

  StoreSnapshot snapshot;
  // The database's own slot: PK11_ListCerts walks every token and looks each certificate up
  // again, which grows faster than linearly (10,000 certificates: 38 s against 9 s here).
  const SlotPtr slot(PK11_GetInternalKeySlot());
  const CertListPtr certificates(slot ? PK11_ListCertsInSlot(slot.get()) : nullptr);
  if (!certificates) {
    throw StoreError("cannot list certificates in NSS database " + path_ + ": " + lastNssError());
  }
  // CERT_LIST_END is a C cast; the list head is the sentinel node.
  const void* end = &certificates->list;
  for (CERTCertListNode* node = CERT_LIST_HEAD(certificates.get()); static_cast<void*>(node) != end;
       node = CERT_LIST_NEXT(node)) {
    const CERTCertificate* certificate = node->cert;
    snapshot.certificates.push_back(StoreCertificate{
        .der = toBytes(certificate->derCert),
        // PK11_ListCertsInSlot puts the token's nickname in appData.
        .nickname = node->appData != nullptr           ? static_cast<const char*>(node->appData)
                    : certificate->nickname != nullptr ? certificate->nickname
                                                       : "",
        .trust = toStoreTrust(certificate),
    });
  }

  CERTCrlHeadNode* raw_crls = nullptr;
  if (SEC_LookupCrls(CERT_GetDefaultCertDB(), &raw_crls, SEC_CRL_TYPE) != SECSuccess) {
    throw StoreError("cannot list CRLs in NSS database " + path_ + ": " + lastNssError());
  }
  const CrlHeadPtr crls(raw_crls);
  for (const CERTCrlNode* node = crls ? crls->first : nullptr; node != nullptr; node = node->next) {
    if (node->crl == nullptr || node->crl->derCrl == nullptr) {
      continue;
    }
    snapshot.crls.push_back(StoreCrl{
        .der = toBytes(*node->crl->derCrl),
        .name = node->crl->url != nullptr ? node->crl->url : "",
    });
  }
  return snapshot;
}

}  // namespace certbridge::platform::nss
