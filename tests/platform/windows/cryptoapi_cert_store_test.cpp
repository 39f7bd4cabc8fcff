// The CryptoAPI reader against real system stores, run under Wine on Linux (and natively on
// Windows): certificates and a CRL are added with CertAddEncoded*ToStore, read back through the
// reader, removed, and the registry watcher sees the change. Only the platform library and
// CryptoAPI are used here: no OpenSSL.
// wincrypt.h needs windows.h before it.
// clang-format off
#include <windows.h>
#include <wincrypt.h>
// clang-format on
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "platform/cert_store.h"
#include "platform/store_watcher.h"

namespace certbridge::platform {
namespace {

// Made once with openssl (EC P-256, valid 100 years): a root, an intermediate it issued, a
// client (EKU clientAuth) and a server (EKU serverAuth only) the intermediate issued, and the
// root's empty CRL.
constexpr const char* kRootPem = R"(-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIBATAKBggqhkjOPQQDAjAxMRgwFgYDVQQKDA9jZXJ0YnJp
ZGdlIHRlc3QxFTATBgNVBAMMDFdpbmUgUm9vdCBDQTAgFw0yNjExMjMyMzQ0MzBa
GA8yMTI2MTAzMDIzNDQzMFowMTEYMBYGA1UECgwPY2VydGJyaWRnZSB0ZXN0MRUw
EwYDVQQDDAxXaW5lIFJvb3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQn
p5wxxhcRsC0VRtn7/KerPA9Qb5h1SoFvy1fi+Ek3nJCVmayo3EHZxPOS16dbUWDJ
EB/eYshbaBNE5O9CjvLgo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQE
AwIBBjAdBgNVHQ4EFgQUHgLXPw8yTIKRWPWdEffxzbhjtLMwCgYIKoZIzj0EAwID
SQAwRgIhAPDvJFisqSkfAkq8Ifz5OFHGcJpilPC3YsS+gUQXvCLBAiEAlL+3YRue
7jrac3jsKDwLG74fTaAGrjcFsxAzY2XQIZE=
-----END CERTIFICATE-----
)";
constexpr const char* kIssuingPem = R"(-----BEGIN CERTIFICATE-----
MIIBuTCCAV+gAwIBAgIBAjAKBggqhkjOPQQDAjAxMRgwFgYDVQQKDA9jZXJ0YnJp
ZGdlIHRlc3QxFTATBgNVBAMMDFdpbmUgUm9vdCBDQTAgFw0yNjExMjMyMzQ0MzBa
GA8yMTI2MTAzMDIzNDQzMFowNDEYMBYGA1UECgwPY2VydGJyaWRnZSB0ZXN0MRgw
FgYDVQQDDA9XaW5lIElzc3VpbmcgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AARIlFyAQT5siBHSbBpU2vc346PEUe3cC19UcHW199LJkwyRYr9xefn33QAgOUiJ
LXGyUDVzyGgGLbuOH3NaeniMo2MwYTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB
/wQEAwIBBjAdBgNVHQ4EFgQU/AThrsiYEQbzRx1xOneEt9XO5q0wHwYDVR0jBBgw
FoAUHgLXPw8yTIKRWPWdEffxzbhjtLMwCgYIKoZIzj0EAwIDSAAwRQIgKgAUp/Ju
57R0y25Ozqp5MLG1MQUf438P3NR9erlTCD8CIQDOxPL6TFzvrB6ygcyoHwBtSO2W
hgudmOd5b3aqaR8/Wg==
-----END CERTIFICATE-----
)";
constexpr const char* kClientPem = R"(-----BEGIN CERTIFICATE-----
MIIByjCCAW+gAwIBAgIDEiMzMAoGCCqGSM49BAMCMDQxGDAWBgNVBAoMD2NlcnRi
cmlkZ2UgdGVzdDEYMBYGA1UEAwwPV2luZSBJc3N1aW5nIENBMCAXDTI2MTEyMzIz
NDQzMFoYDzIxMjYxMDMwMjM0NDMwWjAwMRgwFgYDVQQKDA9jZXJ0YnJpZGdlIHRl
c3QxFDASBgNVBAMMC3dpbmUgY2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAEgp5KEBVrbk92tV9ENShycaKmRh3PCwUDBqQ/M6LYypdcd/YDF2Baphyv9HJ9
nQg+TJQbGn2VM2i/TUlh4YQCVqNyMHAwCQYDVR0TBAIwADAOBgNVHQ8BAf8EBAMC
B4AwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFGm53nkkoAQQlh0Ph1+P
t/jQL9+8MB8GA1UdIwQYMBaAFPwE4a7ImBEG80cdcTp3hLfVzuatMAoGCCqGSM49
BAMCA0kAMEYCIQC6es0fq0PbRvM3H+s7wZGEfqgXdYSq++CNZcrkJyNviwIhAM25
9QWDX0PP4f9TypUaojjvNyiO1V2G69iolO8qnfk+
-----END CERTIFICATE-----
)";
constexpr const char* kServerPem = R"(-----BEGIN CERTIFICATE-----
MIIByTCCAW+gAwIBAgIDEYFzMAoGCCqGSM49BAMCMDQxGDAWBgNVBAoMD2NlcnRi
cmlkZ2UgdGVzdDEYMBYGA1UEAwwPV2luZSBJc3N1aW5nIENBMCAXDTI2MTEyMzIz
NDQzMFoYDzIxMjYxMDMwMjM0NDMwWjAwMRgwFgYDVQQKDA9jZXJ0YnJpZGdlIHRl
c3QxFDASBgNVBAMMC3dpbmUgc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAEP1FBDx4fSjvSMD4LC0a7fgnfTBZbcIS1SfIEARhpyXfn3Pt0a0lIMDGK2zMX
c/QT2bduCsWoB4aPErUAT0i9c6NyMHAwCQYDVR0TBAIwADAOBgNVHQ8BAf8EBAMC
B4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFBmc+O533DGHd1gIvl9F
jVYVteH2MB8GA1UdIwQYMBaAFPwE4a7ImBEG80cdcTp3hLfVzuatMAoGCCqGSM49
BAMCA0gAMEUCIQDMKQ6b0Dugja4fY7t1LG7NFOjUbeil8+DvJg4E9ZYrdQIgRLSy
e+3aBF2HGVVDTyCPJbNWyGun1g+d7MkAtZs6x0Y=
-----END CERTIFICATE-----
)";
constexpr const char* kRootCrlPem = R"(-----BEGIN X509 CRL-----
MIHLMHICAQEwCgYIKoZIzj0EAwIwMTEYMBYGA1UECgwPY2VydGJyaWRnZSB0ZXN0
MRUwEwYDVQQDDAxXaW5lIFJvb3QgQ0EXDTI2MTEyMzIzNDQzMFoYDzIxMjYxMDMw
MjM0NDMwWqAOMAwwCgYDVR0UBAMCAQEwCgYIKoZIzj0EAwIDSQAwRgIhANgtRQdn
Yc52XYZjBvU9/kEk8jWpQB3AfFpAEeXPZxbwAiEAjLxEOtpIRpKlrRq+wi4jGKMf
oy5FMAC8wdZ78Qn2XfU=
-----END X509 CRL-----
)";

constexpr const char* kClientStore = "CertbridgeTestClients";

// Commits before closing: under Wine 8 a deletion reaches the registry only on
// CERT_STORE_CTRL_COMMIT (an addition also on close).
struct CommitAndClose {
  void operator()(void* store) const {
    CertControlStore(store, 0, CERT_STORE_CTRL_COMMIT, nullptr);
    CertCloseStore(store, 0);
  }
};
using StoreHandle = std::unique_ptr<void, CommitAndClose>;

struct ContextFree {
  void operator()(const CERT_CONTEXT* context) const { CertFreeCertificateContext(context); }
};
using CertContextPtr = std::unique_ptr<const CERT_CONTEXT, ContextFree>;

DerBytes derOf(const char* pem) {
  DWORD size = 0;
  CryptStringToBinaryA(pem, 0, CRYPT_STRING_BASE64HEADER, nullptr, &size, nullptr, nullptr);
  DerBytes der(size);
  if (!CryptStringToBinaryA(pem, 0, CRYPT_STRING_BASE64HEADER, der.data(), &size, nullptr,
                            nullptr)) {
    throw std::runtime_error("bad test PEM");
  }
  der.resize(size);
  return der;
}

std::wstring wide(const std::string& text) {
  return std::wstring(text.begin(), text.end());
}

// A writable current-user system store, as an administrator's tool would use it. Committing and
// closing it is what writes the change to the registry.
StoreHandle openForWriting(const std::string& name) {
  const std::wstring store_name = wide(name);
  HCERTSTORE store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_CURRENT_USER,
                                   store_name.c_str());
  if (store == nullptr) {
    throw std::runtime_error("cannot open " + name +
                             " for writing: " + std::to_string(GetLastError()));
  }
  return StoreHandle(store);
}

void addCertificate(const std::string& store_name, const char* pem,
                    const std::wstring& friendly_name = L"") {
  const StoreHandle store = openForWriting(store_name);
  const DerBytes der = derOf(pem);
  PCCERT_CONTEXT added = nullptr;
  ASSERT_TRUE(CertAddEncodedCertificateToStore(store.get(), X509_ASN_ENCODING, der.data(),
                                               static_cast<DWORD>(der.size()),
                                               CERT_STORE_ADD_REPLACE_EXISTING, &added))
      << GetLastError();
  const CertContextPtr context(added);
  if (!friendly_name.empty()) {
    CRYPT_DATA_BLOB blob{static_cast<DWORD>((friendly_name.size() + 1) * sizeof(wchar_t)),
                         reinterpret_cast<BYTE*>(const_cast<wchar_t*>(friendly_name.c_str()))};
    ASSERT_TRUE(CertSetCertificateContextProperty(added, CERT_FRIENDLY_NAME_PROP_ID, 0, &blob));
  }
}

void addCrl(const std::string& store_name, const char* pem) {
  const StoreHandle store = openForWriting(store_name);
  const DerBytes der = derOf(pem);
  ASSERT_TRUE(CertAddEncodedCRLToStore(store.get(), X509_ASN_ENCODING, der.data(),
                                       static_cast<DWORD>(der.size()),
                                       CERT_STORE_ADD_REPLACE_EXISTING, nullptr))
      << GetLastError();
}

void removeCertificate(const std::string& store_name, const char* pem) {
  const StoreHandle store = openForWriting(store_name);
  const DerBytes der = derOf(pem);
  // Deleting while enumerating upsets the enumeration: collect first, then delete.
  std::vector<PCCERT_CONTEXT> matches;
  for (CertContextPtr held(CertEnumCertificatesInStore(store.get(), nullptr)); held;
       held.reset(CertEnumCertificatesInStore(store.get(), held.release()))) {
    if (DerBytes(held->pbCertEncoded, held->pbCertEncoded + held->cbCertEncoded) == der) {
      matches.push_back(CertDuplicateCertificateContext(held.get()));
    }
  }
  for (PCCERT_CONTEXT match : matches) {
    ASSERT_TRUE(CertDeleteCertificateFromStore(match)) << GetLastError();  // frees `match`
  }
}

const StoreCertificate* find(const StoreSnapshot& snapshot, const char* pem) {
  const DerBytes der = derOf(pem);
  const auto found = std::find_if(snapshot.certificates.begin(), snapshot.certificates.end(),
                                  [&](const StoreCertificate& entry) { return entry.der == der; });
  return found == snapshot.certificates.end() ? nullptr : &*found;
}

class CryptoApiStore : public ::testing::Test {
 protected:
  void SetUp() override {
    // The Wine prefix outlives a run: start from stores without the test's certificates.
    for (const char* store : {"Root", "CA", kClientStore}) {
      for (const char* pem : {kRootPem, kIssuingPem, kClientPem, kServerPem}) {
        removeCertificate(store, pem);
      }
    }
    addCertificate("Root", kRootPem);
    addCertificate("CA", kIssuingPem);
    addCrl("CA", kRootCrlPem);
    addCertificate(kClientStore, kClientPem, L"wine client \u00e9");
    addCertificate(kClientStore, kServerPem);
  }

  std::unique_ptr<CertStore> reader() const {
    return openCertStore({.type = "cryptoapi",
                          .path = "current_user",
                          .system_stores = {"Root", "CA", kClientStore}});
  }
};

TEST_F(CryptoApiStore, ReadsEachStoreWithItsRoleFriendlyNameAndCrls) {
  const StoreSnapshot snapshot = reader()->read();

  const StoreCertificate* root = find(snapshot, kRootPem);
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(root->trust.trusted_client_ca);
  EXPECT_FALSE(root->trust.trusted_peer);

  const StoreCertificate* issuing = find(snapshot, kIssuingPem);
  ASSERT_NE(issuing, nullptr);
  EXPECT_FALSE(issuing->trust.trusted_client_ca);
  EXPECT_FALSE(issuing->trust.trusted_peer);

  const StoreCertificate* client = find(snapshot, kClientPem);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->trust.trusted_peer);
  EXPECT_EQ(client->nickname, "wine client \xc3\xa9");

  // serverAuth only: not a client, whatever store it sits in.
  EXPECT_EQ(find(snapshot, kServerPem), nullptr);

  const DerBytes crl = derOf(kRootCrlPem);
  const auto held = std::find_if(snapshot.crls.begin(), snapshot.crls.end(),
                                 [&](const StoreCrl& entry) { return entry.der == crl; });
  ASSERT_NE(held, snapshot.crls.end());
  EXPECT_NE(held->name.find("Wine Root CA"), std::string::npos) << held->name;
}

TEST_F(CryptoApiStore, RemovedCertificateIsGoneAtTheNextRead) {
  const auto store = reader();
  ASSERT_NE(find(store->read(), kClientPem), nullptr);
  removeCertificate(kClientStore, kClientPem);
  EXPECT_EQ(find(store->read(), kClientPem), nullptr);
}

TEST_F(CryptoApiStore, CertificateInTwoStoresIsReportedOnceWithBothRoles) {
  addCertificate(kClientStore, kRootPem);
  const StoreSnapshot snapshot = reader()->read();
  const auto copies =
      std::count_if(snapshot.certificates.begin(), snapshot.certificates.end(),
                    [&](const StoreCertificate& entry) { return entry.der == derOf(kRootPem); });
  EXPECT_EQ(copies, 1);
  const StoreCertificate* root = find(snapshot, kRootPem);
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(root->trust.trusted_client_ca);
  EXPECT_TRUE(root->trust.trusted_peer);
}

TEST_F(CryptoApiStore, WatcherSeesAStoreChangeThroughTheRegistry) {
  const auto store = reader();
  const std::vector<std::string> keys = store->watchLocations();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0], "HKCU\\Software\\Microsoft\\SystemCertificates\\Root");
  const auto watcher = makeStoreWatcher(keys);
  EXPECT_FALSE(watcher->waitForChange(std::chrono::milliseconds(300)));

  std::thread writer([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    removeCertificate(kClientStore, kClientPem);
  });
  const auto started = std::chrono::steady_clock::now();
  const bool changed = watcher->waitForChange(std::chrono::seconds(10));
  const auto waited = std::chrono::steady_clock::now() - started;
  writer.join();
  EXPECT_TRUE(changed);
  std::printf("registry change seen after %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()));
  EXPECT_EQ(find(store->read(), kClientPem), nullptr);
  // Re-armed: a second change is seen as well.
  std::thread second([] { addCertificate(kClientStore, kClientPem); });
  EXPECT_TRUE(watcher->waitForChange(std::chrono::seconds(10)));
  second.join();
}

TEST_F(CryptoApiStore, MissingStoreIsAnErrorNamingItWithWindowsText) {
  try {
    openCertStore(
        {.type = "cryptoapi", .path = "current_user", .system_stores = {"CertbridgeNoSuchStore"}})
        ->read();
    FAIL() << "opened a store that does not exist";
  } catch (const StoreError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("CertbridgeNoSuchStore"), std::string::npos) << message;
    EXPECT_NE(message.find("(error 2)"), std::string::npos) << message;
  }
}

TEST(CryptoApiLocation, UnknownLocationAndNssAreClearErrors) {
  EXPECT_THROW(openCertStore({.type = "cryptoapi", .path = "everywhere", .system_stores = {"My"}}),
               StoreError);
  EXPECT_THROW(openCertStore({.type = "cryptoapi", .path = "local_machine", .system_stores = {}}),
               StoreError);
  EXPECT_THROW(openCertStore({.type = "nss", .path = "sql:/etc/pki/nssdb"}), StoreError);
  const auto service = openCertStore(
      {.type = "cryptoapi", .path = "service:nginx", .system_stores = {"NginxClients"}});
  EXPECT_EQ(service->watchLocations().at(0),
            "HKLM\\SOFTWARE\\Microsoft\\Cryptography\\Services\\nginx\\SystemCertificates\\"
            "NginxClients");
  EXPECT_EQ(service->describe(), "cryptoapi:service:nginx:NginxClients");
}

}  // namespace
}  // namespace certbridge::platform
