#include "platform/windows/cryptoapi_cert_store.h"

// wincrypt.h needs windows.h before it.
// clang-format off
#include <windows.h>
#include <wincrypt.h>
// clang-format on

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "platform/windows/windows_text.h"

namespace certbridge::platform::windows {
namespace {

struct StoreCloser {
  void operator()(void* store) const { CertCloseStore(store, 0); }
};
using StoreHandle = std::unique_ptr<void, StoreCloser>;

struct ContextFree {
  void operator()(const CERT_CONTEXT* context) const { CertFreeCertificateContext(context); }
  void operator()(const CRL_CONTEXT* context) const { CertFreeCRLContext(context); }
};
using CertContextPtr = std::unique_ptr<const CERT_CONTEXT, ContextFree>;
using CrlContextPtr = std::unique_ptr<const CRL_CONTEXT, ContextFree>;

struct ParsedLocation {
  DWORD flags = 0;
  std::wstring store_prefix;  // services: "NAME\" before the store name
  std::string registry_base;  // where the stores' keys live, for the watcher
};

ParsedLocation parseLocation(const std::string& location) {
  if (location == "local_machine") {
    return {CERT_SYSTEM_STORE_LOCAL_MACHINE, L"",
            "HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\"};
  }
  if (location == "current_user") {
    return {CERT_SYSTEM_STORE_CURRENT_USER, L"", "HKCU\\Software\\Microsoft\\SystemCertificates\\"};
  }
  constexpr std::string_view kService = "service:";
  if (location.starts_with(kService) && location.size() > kService.size()) {
    const std::string service = location.substr(kService.size());
    return {
        CERT_SYSTEM_STORE_SERVICES, toWide(service) + L"\\",
        "HKLM\\SOFTWARE\\Microsoft\\Cryptography\\Services\\" + service + "\\SystemCertificates\\"};
  }
  throw StoreError("CryptoAPI location '" + location +
                   "' is not one of local_machine, current_user, service:NAME");
}

enum class StoreRole { client_cas, intermediates, clients };

StoreRole roleOf(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name == "root") {
    return StoreRole::client_cas;
  }
  return name == "ca" ? StoreRole::intermediates : StoreRole::clients;
}

StoreTrust trustOf(StoreRole role) {
  StoreTrust trust;
  trust.trusted_client_ca = role == StoreRole::client_cas;
  trust.trusted_peer = role == StoreRole::clients;
  return trust;
}

// The extension and the store's own EKU property together, as Windows itself decides: no
// restriction at all means every use.
bool allowsClientAuth(const CERT_CONTEXT* certificate) {
  DWORD size = 0;
  if (!CertGetEnhancedKeyUsage(certificate, 0, nullptr, &size)) {
    return false;
  }
  std::vector<BYTE> buffer(size);
  auto* usage = reinterpret_cast<CERT_ENHKEY_USAGE*>(buffer.data());
  if (!CertGetEnhancedKeyUsage(certificate, 0, usage, &size)) {
    return false;
  }
  if (usage->cUsageIdentifier == 0) {
    return GetLastError() == static_cast<DWORD>(CRYPT_E_NOT_FOUND);
  }
  for (DWORD i = 0; i < usage->cUsageIdentifier; ++i) {
    const char* oid = usage->rgpszUsageIdentifier[i];
    if (std::strcmp(oid, szOID_PKIX_KP_CLIENT_AUTH) == 0 || std::strcmp(oid, "2.5.29.37.0") == 0) {
      return true;
    }
  }
  return false;
}

std::string friendlyName(const CERT_CONTEXT* certificate) {
  DWORD size = 0;
  if (!CertGetCertificateContextProperty(certificate, CERT_FRIENDLY_NAME_PROP_ID, nullptr, &size) ||
      size < sizeof(wchar_t)) {
    return "";
  }
  std::wstring name(size / sizeof(wchar_t), L'\0');
  if (!CertGetCertificateContextProperty(certificate, CERT_FRIENDLY_NAME_PROP_ID, name.data(),
                                         &size)) {
    return "";
  }
  name.resize(wcsnlen(name.c_str(), name.size()));
  return toUtf8(name);
}

std::string issuerName(const CRL_CONTEXT* crl) {
  CERT_NAME_BLOB& issuer = crl->pCrlInfo->Issuer;
  const DWORD flags = CERT_X500_NAME_STR | CERT_NAME_STR_REVERSE_FLAG;
  const DWORD length = CertNameToStrW(X509_ASN_ENCODING, &issuer, flags, nullptr, 0);
  std::wstring name(length, L'\0');
  CertNameToStrW(X509_ASN_ENCODING, &issuer, flags, name.data(), length);
  name.resize(wcsnlen(name.c_str(), name.size()));
  return toUtf8(name);
}

}  // namespace

CryptoApiCertStore::CryptoApiCertStore(std::string location, std::vector<std::string> system_stores)
    : location_(std::move(location)), system_stores_(std::move(system_stores)) {
  parseLocation(location_);
  if (system_stores_.empty()) {
    throw StoreError("CryptoAPI location " + location_ + ": no system store named to read");
  }
}

std::string CryptoApiCertStore::describe() const {
  std::string stores;
  for (const std::string& name : system_stores_) {
    stores += (stores.empty() ? "" : ",") + name;
  }
  return "cryptoapi:" + location_ + ":" + stores;
}

std::vector<std::string> CryptoApiCertStore::watchLocations() const {
  const ParsedLocation location = parseLocation(location_);
  std::vector<std::string> keys;
  for (const std::string& name : system_stores_) {
    keys.push_back(location.registry_base + name);
  }
  return keys;
}

StoreSnapshot CryptoApiCertStore::read() const {
  const ParsedLocation location = parseLocation(location_);
  StoreSnapshot snapshot;
  // A certificate held in several stores (Root and TrustedPeople, say) is reported once, with
  // what every store says about it.
  std::map<std::vector<unsigned char>, std::size_t> seen;
  for (const std::string& name : system_stores_) {
    const std::wstring parameter = location.store_prefix + toWide(name);
    const StoreHandle store(
        CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                      location.flags | CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG,
                      parameter.c_str()));
    if (!store) {
      throw StoreError("cannot open the CryptoAPI system store " + name + " (" + location_ +
                       "): " + errorText(GetLastError()));
    }
    const StoreRole role = roleOf(name);
    // Enumeration frees the context it is given and returns the next; the unique_ptr holds the
    // current one so that an exception cannot leak it.
    for (CertContextPtr certificate(CertEnumCertificatesInStore(store.get(), nullptr)); certificate;
         certificate.reset(CertEnumCertificatesInStore(store.get(), certificate.release()))) {
      if (role == StoreRole::clients && !allowsClientAuth(certificate.get())) {
        continue;
      }
      DerBytes der(certificate->pbCertEncoded,
                   certificate->pbCertEncoded + certificate->cbCertEncoded);
      const StoreTrust trust = trustOf(role);
      const auto [found, added] = seen.emplace(der, snapshot.certificates.size());
      if (!added) {
        StoreTrust& held = snapshot.certificates[found->second].trust;
        held.trusted_client_ca = held.trusted_client_ca || trust.trusted_client_ca;
        held.trusted_peer = held.trusted_peer || trust.trusted_peer;
        continue;
      }
      snapshot.certificates.push_back({std::move(der), friendlyName(certificate.get()), trust});
    }
    for (CrlContextPtr crl(CertEnumCRLsInStore(store.get(), nullptr)); crl;
         crl.reset(CertEnumCRLsInStore(store.get(), crl.release()))) {
      snapshot.crls.push_back({DerBytes(crl->pbCrlEncoded, crl->pbCrlEncoded + crl->cbCrlEncoded),
                               issuerName(crl.get())});
    }
  }
  return snapshot;
}

}  // namespace certbridge::platform::windows
