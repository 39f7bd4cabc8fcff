#include "platform/nss/nss_cert_store.h"

#include <pk11pub.h>
#include <pkcs11n.h>
#include <sechash.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <system_error>
#include <unordered_map>

#include "platform/nss/nss_handles.h"

namespace certbridge::platform::nss {
namespace {

constexpr std::string_view kSqlPrefix = "sql:";

std::mutex& nssMutex() {
  static std::mutex mutex;
  return mutex;
}

DerBytes toBytes(const SECItem& item) {
  return DerBytes(item.data, item.data + item.len);
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

// What NSS's CERT_GetCertTrust makes of a trust object's two SSL values (NSS's
// cert_trust_from_stan_trust): "T" is client-auth TRUSTED_DELEGATOR, "C" server-auth
// TRUSTED_DELEGATOR, and "P" (TRUSTED, which NSS records as terminal and trusted) either.
StoreTrust toStoreTrust(CK_TRUST server_auth, CK_TRUST client_auth) {
  return StoreTrust{
      .trusted_client_ca = client_auth == CKT_NSS_TRUSTED_DELEGATOR,
      .trusted_server_ca = server_auth == CKT_NSS_TRUSTED_DELEGATOR,
      .trusted_peer = server_auth == CKT_NSS_TRUSTED || client_auth == CKT_NSS_TRUSTED,
  };
}

std::vector<StoreCertificate> listThroughCertificateLayer(PK11SlotInfo* slot,
                                                          const std::string& path) {
  // The database's own slot: PK11_ListCerts walks every token and looks each certificate up
  // again, which grows faster than linearly still (10,000 certificates: 38 s against 9 s here).
  const CertListPtr certificates(PK11_ListCertsInSlot(slot));
  if (!certificates) {
    throw StoreError("cannot list certificates in NSS database " + path + ": " + lastNssError());
  }
  std::vector<StoreCertificate> listed;
  // CERT_LIST_END is a C cast; the list head is the sentinel node.
  const void* end = &certificates->list;
  for (CERTCertListNode* node = CERT_LIST_HEAD(certificates.get()); static_cast<void*>(node) != end;
       node = CERT_LIST_NEXT(node)) {
    const CERTCertificate* certificate = node->cert;
    listed.push_back(StoreCertificate{
        .der = toBytes(certificate->derCert),
        // PK11_ListCertsInSlot puts the token's nickname in appData.
        .nickname = node->appData != nullptr           ? static_cast<const char*>(node->appData)
                    : certificate->nickname != nullptr ? certificate->nickname
                                                       : "",
        .trust = toStoreTrust(certificate),
    });
  }
  return listed;
}

// Attribute values of one PKCS#11 object in the order asked; nullopt for an attribute the object
// does not have.
using AttributeValues = std::vector<std::optional<DerBytes>>;

AttributeValues readEachAttribute(PK11GenericObject* object,
                                  std::span<const CK_ATTRIBUTE_TYPE> types) {
  AttributeValues values;
  for (const CK_ATTRIBUTE_TYPE type : types) {
    SECItem item{siBuffer, nullptr, 0};
    if (PK11_ReadRawAttribute(PK11_TypeGeneric, object, type, &item) != SECSuccess) {
      values.emplace_back();
      continue;
    }
    const SecItemDataGuard guard(&item);
    values.emplace_back(toBytes(item));
  }
  return values;
}

// One C_GetAttributeValue round for all `types`; when the object lacks one of them the token
// refuses the whole template, so that object is read attribute by attribute instead.
AttributeValues readAttributesTogether(PLArenaPool* arena, PK11GenericObject* object,
                                       std::span<const CK_ATTRIBUTE_TYPE> types) {
  std::array<CK_ATTRIBUTE, 4> attributes{};
  const std::size_t count = std::min(types.size(), attributes.size());
  for (std::size_t i = 0; i < count; ++i) {
    attributes[i] = CK_ATTRIBUTE{types[i], nullptr, 0};
  }
  void* mark = PORT_ArenaMark(arena);
  if (count != types.size() ||
      PK11_ReadRawAttributes(arena, PK11_TypeGeneric, object, attributes.data(),
                             static_cast<unsigned int>(count)) != SECSuccess) {
    PORT_ArenaRelease(arena, mark);
    return readEachAttribute(object, types);
  }
  AttributeValues values;
  for (std::size_t i = 0; i < count; ++i) {
    const auto* data = static_cast<const unsigned char*>(attributes[i].pValue);
    values.emplace_back(DerBytes(data, data + attributes[i].ulValueLen));
  }
  PORT_ArenaRelease(arena, mark);
  return values;
}

std::optional<CK_ULONG> toUlong(const std::optional<DerBytes>& value) {
  CK_ULONG number = 0;
  if (!value || value->size() != sizeof(number)) {
    return std::nullopt;
  }
  std::memcpy(&number, value->data(), sizeof(number));
  return number;
}

std::string sha1Key(std::span<const unsigned char> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A read transaction of certbridge's own on cert9.db, held while NSS reads it. NSS's softoken
// runs one SQLite statement per attribute read, each in a transaction of its own, and SQLite
// takes and drops its file lock (two fcntl calls each way) for every one: 10,000 certificates
// cost some 80,000 fcntl calls. Within one process SQLite shares a file's lock among its
// connections (this relies on NSS's softoken and certbridge loading the same SQLite library, as
// on Debian: two copies in one process would not know each other's POSIX locks), so while this
// one holds the shared lock NSS's statements take it without a system call. A writer (certutil
// adding a certificate) cannot commit while any shared lock is held, and gives up after a few
// seconds: so the lock is let go every kObjectsPerLock objects (some 50 ms), when a waiting writer
// takes its turn. Best effort: when the lock cannot be taken, NSS reads as it would alone.
class SharedReadLock {
 public:
  explicit SharedReadLock(std::filesystem::path database) : database_(std::move(database)) {
    take();
  }

  // Counts one object read; every kObjectsPerLock objects, lets a waiting writer in.
  void objectRead() {
    if (++objects_ % kObjectsPerLock == 0) {
      connection_.reset();
      take();
    }
  }

 private:
  static constexpr std::size_t kObjectsPerLock = 1000;

  void take() {
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(database_.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      sqlite3_close_v2(raw);
      return;
    }
    connection_.reset(raw);
    // A writer that has announced itself (SQLite's pending lock) goes first; wait for it.
    sqlite3_busy_timeout(raw, 1000);
    // A read transaction starts with its first read: the schema's first page.
    if (sqlite3_exec(raw, "BEGIN; SELECT count(*) FROM sqlite_master;", nullptr, nullptr,
                     nullptr) != SQLITE_OK) {
      connection_.reset();
    }
  }

  struct Closer {
    void operator()(sqlite3* connection) const {
      sqlite3_exec(connection, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close_v2(connection);
    }
  };
  std::filesystem::path database_;
  std::size_t objects_ = 0;
  std::unique_ptr<sqlite3, Closer> connection_;
};

std::vector<StoreCertificate> listPkcs11Objects(PK11SlotInfo* slot, const std::string& path,
                                                bool together, SharedReadLock& lock) {
  const ArenaPtr arena(PORT_NewArena(DER_DEFAULT_CHUNKSIZE));
  if (!arena) {
    throw StoreError("cannot read NSS database " + path + ": out of memory");
  }
  const auto read = [&](PK11GenericObject* object, std::span<const CK_ATTRIBUTE_TYPE> types) {
    return together ? readAttributesTogether(arena.get(), object, types)
                    : readEachAttribute(object, types);
  };

  // Trust objects name their certificate by its SHA-1 (CKA_CERT_SHA1_HASH), which is how NSS
  // itself matches them; a certificate without one is stored but trusted for nothing.
  std::unordered_map<std::string, StoreTrust> trust_by_sha1;
  constexpr std::array<CK_ATTRIBUTE_TYPE, 3> kTrustAttributes{
      CKA_CERT_SHA1_HASH, CKA_TRUST_SERVER_AUTH, CKA_TRUST_CLIENT_AUTH};
  // PK11_FindGenericObjects returns null for "none" as for a failure; NSS sets the error only
  // for a failure.
  PORT_SetError(0);
  const GenericObjectsPtr trust_objects(PK11_FindGenericObjects(slot, CKO_NSS_TRUST));
  if (!trust_objects && PORT_GetError() != 0) {
    throw StoreError("cannot list trust objects in NSS database " + path + ": " + lastNssError());
  }
  for (PK11GenericObject* object = trust_objects.get(); object != nullptr;
       object = PK11_GetNextGenericObject(object)) {
    const AttributeValues values = read(object, kTrustAttributes);
    lock.objectRead();
    if (!values[0]) {
      continue;
    }
    trust_by_sha1.emplace(sha1Key(*values[0]),
                          toStoreTrust(toUlong(values[1]).value_or(CKT_NSS_MUST_VERIFY_TRUST),
                                       toUlong(values[2]).value_or(CKT_NSS_MUST_VERIFY_TRUST)));
  }

  PORT_SetError(0);
  const GenericObjectsPtr certificate_objects(PK11_FindGenericObjects(slot, CKO_CERTIFICATE));
  if (!certificate_objects && PORT_GetError() != 0) {
    throw StoreError("cannot list certificates in NSS database " + path + ": " + lastNssError());
  }
  constexpr std::array<CK_ATTRIBUTE_TYPE, 2> kCertificateAttributes{CKA_VALUE, CKA_LABEL};
  std::vector<StoreCertificate> listed;
  for (PK11GenericObject* object = certificate_objects.get(); object != nullptr;
       object = PK11_GetNextGenericObject(object)) {
    AttributeValues values = read(object, kCertificateAttributes);
    lock.objectRead();
    if (!values[0]) {
      throw StoreError(
          "NSS database " + path +
          " holds a certificate object without a value (CKA_VALUE): " + lastNssError());
    }
    StoreCertificate certificate{.der = std::move(*values[0])};
    if (values[1]) {
      // Labels are UTF-8 without a terminating NUL, but tolerate one.
      certificate.nickname.assign(values[1]->begin(), values[1]->end());
      if (const auto nul = certificate.nickname.find('\0'); nul != std::string::npos) {
        certificate.nickname.resize(nul);
      }
    }
    unsigned char sha1[SHA1_LENGTH];
    if (PK11_HashBuf(SEC_OID_SHA1, sha1, certificate.der.data(),
                     static_cast<PRInt32>(certificate.der.size())) != SECSuccess) {
      throw StoreError("cannot hash a certificate of NSS database " + path + ": " + lastNssError());
    }
    if (const auto trust = trust_by_sha1.find(sha1Key(sha1)); trust != trust_by_sha1.end()) {
      certificate.trust = trust->second;
    }
    listed.push_back(std::move(certificate));
  }
  return listed;
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

NssCertStore::NssCertStore(std::string path, NssListing listing)
    : path_(std::move(path)), listing_(listing) {
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

  SharedReadLock read_lock(std::filesystem::path(directory_) / "cert9.db");
  StoreSnapshot snapshot;
  const SlotPtr slot(PK11_GetInternalKeySlot());
  if (!slot) {
    throw StoreError("cannot open the certificate slot of NSS database " + path_ + ": " +
                     lastNssError());
  }
  snapshot.certificates =
      listing_ == NssListing::certificate_layer
          ? listThroughCertificateLayer(slot.get(), path_)
          : listPkcs11Objects(slot.get(), path_, listing_ == NssListing::pkcs11_objects, read_lock);

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
