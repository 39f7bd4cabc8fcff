#include "tests/bench/nss_bulk_import.h"

#include <cert.h>
#include <keyhi.h>
#include <nss.h>
#include <nssb64.h>
#include <pk11pub.h>
#include <prerror.h>
#include <secasn1.h>
#include <secitem.h>
#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "platform/nss/nss_handles.h"
#include "tests/support/temp_dir.h"

namespace certbridge::bench {

namespace {

using platform::nss::NssContextPtr;
using platform::nss::SlotPtr;

using platform::nss::ArenaPtr;
using platform::nss::lastNssError;
using testing::readFile;

struct PublicKeyDeleter {
  void operator()(SECKEYPublicKey* key) const { SECKEY_DestroyPublicKey(key); }
};
using PublicKeyPtr = std::unique_ptr<SECKEYPublicKey, PublicKeyDeleter>;

struct ItemDeleter {
  void operator()(SECItem* item) const { SECITEM_FreeItem(item, PR_TRUE); }
};
using ItemPtr = std::unique_ptr<SECItem, ItemDeleter>;

// Only the wrapper is freed: the object stays in the token.
struct GenericObjectDeleter {
  void operator()(PK11GenericObject* object) const { PK11_DestroyGenericObject(object); }
};
using GenericObjectPtr = std::unique_ptr<PK11GenericObject, GenericObjectDeleter>;

// Closed after NSS's connections (declared before the NSS context, destroyed after it).
struct SqliteCloser {
  void operator()(sqlite3* connection) const { sqlite3_close(connection); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;

// The DER of the first certificate in a PEM file.
ItemPtr pemToDer(const std::string& path) {
  const std::string pem = readFile(path);
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  const auto start = pem.find(begin);
  const auto end = pem.find("-----END CERTIFICATE-----");
  if (start == std::string::npos || end == std::string::npos || end < start) {
    throw std::runtime_error(path + " holds no PEM certificate");
  }
  const std::string base64 = pem.substr(start + begin.size(), end - start - begin.size());
  ItemPtr der(NSSBase64_DecodeBuffer(nullptr, nullptr, base64.data(),
                                     static_cast<PRUint32>(base64.size())));
  if (!der) {
    throw std::runtime_error("cannot decode the PEM certificate in " + path + ": " +
                             lastNssError());
  }
  return der;
}

// CKA_ID as PK11_ImportCert makes it for a certificate without a private key: the SHA-1 of the
// public key's value (pk11_mkcertKeyID).
ItemPtr keyId(CERTCertificate& certificate, const std::string& path) {
  const PublicKeyPtr key(SECKEY_ExtractPublicKey(&certificate.subjectPublicKeyInfo));
  if (!key) {
    throw std::runtime_error("cannot read the public key of " + path + ": " + lastNssError());
  }
  SECItem* value = nullptr;
  switch (key->keyType) {
    case rsaKey: value = &key->u.rsa.modulus; break;
    case ecKey: value = &key->u.ec.publicValue; break;
    default:
      throw std::runtime_error("the public key of " + path +
                               " is neither RSA nor EC, which this importer does not handle");
  }
  ItemPtr id(PK11_MakeIDFromPubKey(value));
  if (!id) {
    throw std::runtime_error("cannot make the key ID of " + path + ": " + lastNssError());
  }
  return id;
}

void importOne(PK11SlotInfo& slot, const std::string& nickname, const std::string& path) {
  const ItemPtr der = pemToDer(path);
  // Decoded with NSS's certificate template only: CERT_NewTempCertificate would look the
  // certificate up in the database by issuer and serial, the cost this importer avoids.
  const ArenaPtr arena(PORT_NewArena(DER_DEFAULT_CHUNKSIZE));
  if (!arena) {
    throw std::runtime_error("out of memory decoding " + path);
  }
  CERTCertificate* certificate = PORT_ArenaZNew(arena.get(), CERTCertificate);
  if (!certificate ||
      SEC_QuickDERDecodeItem(arena.get(), certificate, SEC_ASN1_GET(SEC_SignedCertificateTemplate),
                             der.get()) != SECSuccess) {
    throw std::runtime_error("cannot parse the certificate in " + path + ": " + lastNssError());
  }
  const ItemPtr id = keyId(*certificate, path);
  // NSS stores the serial as a DER INTEGER (nssPKIX509_GetIssuerAndSerialFromDER).
  const ItemPtr serial(SEC_ASN1EncodeItem(nullptr, nullptr, &certificate->serialNumber,
                                          SEC_ASN1_GET(SEC_IntegerTemplate)));
  if (!serial) {
    throw std::runtime_error("cannot encode the serial of " + path + ": " + lastNssError());
  }
  CK_OBJECT_CLASS object_class = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE certificate_type = CKC_X_509;
  CK_BBOOL on_token = CK_TRUE;
  std::vector<char> label(nickname.begin(), nickname.end());
  const auto attribute = [](CK_ATTRIBUTE_TYPE type, void* value, std::size_t length) {
    return CK_ATTRIBUTE{type, value, static_cast<CK_ULONG>(length)};
  };
  // The attributes nssToken_ImportCertificate gives a certificate without an e-mail address
  // (the bench's clients have none; a difference would show in the comparison with certutil).
  std::vector<CK_ATTRIBUTE> attributes{
      attribute(CKA_TOKEN, &on_token, sizeof on_token),
      attribute(CKA_CLASS, &object_class, sizeof object_class),
      attribute(CKA_CERTIFICATE_TYPE, &certificate_type, sizeof certificate_type),
      attribute(CKA_ID, id->data, id->len),
      attribute(CKA_LABEL, label.data(), label.size()),
      attribute(CKA_VALUE, der->data, der->len),
      attribute(CKA_ISSUER, certificate->derIssuer.data, certificate->derIssuer.len),
      attribute(CKA_SUBJECT, certificate->derSubject.data, certificate->derSubject.len),
      attribute(CKA_SERIAL_NUMBER, serial->data, serial->len)};
  const GenericObjectPtr object(PK11_CreateGenericObject(
      &slot, attributes.data(), static_cast<int>(attributes.size()), PR_TRUE));
  if (!object) {
    throw std::runtime_error("cannot store " + path + " as " + nickname + ": " + lastNssError());
  }
}

}  // namespace

std::size_t importUntrustedCertificates(const std::string& database_dir,
                                        const std::string& batch_path) {
  std::ifstream batch(batch_path);
  if (!batch) {
    throw std::runtime_error("cannot read " + batch_path);
  }
  // NSS's sql database opens a new SQLite connection for every write transaction, so each
  // certificate's uniqueness check (softoken looks up class, issuer and serial, which the issuer
  // index narrows to the certificates of the same issuer only) reads those rows from the file
  // into a cold page cache: that is what grows with the database. With SQLite's shared cache the
  // connections of this process share one page cache, and NSS still writes every row itself.
  // Process-wide, and it must precede NSS's first connection.
  if (sqlite3_enable_shared_cache(1) != SQLITE_OK) {
    throw std::runtime_error("cannot enable SQLite's shared cache for importing into " +
                             database_dir);
  }
  // SQLite's default page cache (2 MiB) holds a fraction of a 100,000-certificate database (99 MiB)
  // and the issuers take turns, so it is raised on a connection of our own, which shares it with
  // NSS's and stays open while they come and go (600 imports at 100,000: 3.4 s, then 1.1 s).
  const std::string certificate_file = database_dir + "/cert9.db";
  sqlite3* raw_connection = nullptr;
  const int opened =
      sqlite3_open_v2(certificate_file.c_str(), &raw_connection, SQLITE_OPEN_READWRITE, nullptr);
  const SqlitePtr cache_holder(raw_connection);
  if (opened != SQLITE_OK) {
    throw std::runtime_error("cannot open " + certificate_file + " (made by certutil -N?): " +
                             (raw_connection ? sqlite3_errmsg(raw_connection) : "out of memory"));
  }
  if (sqlite3_exec(cache_holder.get(), "PRAGMA cache_size = -524288", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    throw std::runtime_error("cannot raise the page cache of " + certificate_file + ": " +
                             sqlite3_errmsg(cache_holder.get()));
  }
  const std::string config_dir = "sql:" + database_dir;
  const NssContextPtr context(NSS_InitContext(config_dir.c_str(), "", "", "", nullptr,
                                              NSS_INIT_NOROOTINIT | NSS_INIT_NOMODDB));
  if (!context) {
    throw std::runtime_error("cannot open NSS database " + database_dir + ": " + lastNssError());
  }
  const SlotPtr slot(PK11_GetInternalKeySlot());
  if (!slot) {
    throw std::runtime_error("cannot open the key slot of " + database_dir + ": " + lastNssError());
  }
  std::size_t imported = 0;
  std::string line;
  for (std::size_t number = 1; std::getline(batch, line); ++number) {
    if (line.empty()) {
      continue;
    }
    std::istringstream words(line);
    std::string add, name_flag, nickname, trust_flag, trust, input_flag, path, rest;
    words >> add >> name_flag >> nickname >> trust_flag >> trust >> input_flag >> path;
    if (add != "-A" || name_flag != "-n" || trust_flag != "-t" || input_flag != "-i" ||
        path.empty() || (words >> rest)) {
      throw std::runtime_error(batch_path + ":" + std::to_string(number) +
                               ": not of the form \"-A -n NAME -t ,, -i FILE\": " + line);
    }
    if (trust != ",,") {
      throw std::runtime_error(batch_path + ":" + std::to_string(number) + ": trust \"" + trust +
                               "\" for " + nickname + " needs a trust object: use certutil -B");
    }
    importOne(*slot, nickname, path);
    ++imported;
  }
  return imported;
}

}  // namespace certbridge::bench
