// certbridge_test_store.exe: puts certificates into (or takes them out of) a system store the way
// an administrator's tool does, so that the end-to-end tests drive certbridge.exe through real
// CryptoAPI stores in their throwaway Wine prefix. The current user's stores by default, the
// local machine's with --local-machine (what the service reads: it runs as LocalSystem).
//   certbridge_test_store [--local-machine] add STORE FILE.pem [FRIENDLY-NAME]
//   certbridge_test_store [--local-machine] remove STORE FILE.pem
// Exits 0 on success, 1 with a message naming the store, the file and Windows' error text.
#include "platform/windows/windows_text.h"
// After windows.h (windows_text.h):
#include <wincrypt.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using certbridge::platform::windows::errorText;
using certbridge::platform::windows::toWide;

struct StoreClose {
  void operator()(HCERTSTORE store) const {
    // Committing is what writes a change (a removal above all) to the registry.
    CertControlStore(store, 0, CERT_STORE_CTRL_COMMIT, nullptr);
    CertCloseStore(store, 0);
  }
};
using StoreHandle = std::unique_ptr<void, StoreClose>;

struct ContextFree {
  void operator()(PCCERT_CONTEXT context) const { CertFreeCertificateContext(context); }
};
using CertContextPtr = std::unique_ptr<const CERT_CONTEXT, ContextFree>;

std::vector<BYTE> derFromPemFile(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + file);
  }
  const std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  DWORD size = 0;
  if (!CryptStringToBinaryA(pem.c_str(), 0, CRYPT_STRING_BASE64HEADER, nullptr, &size, nullptr,
                            nullptr)) {
    throw std::runtime_error(file + " holds no PEM certificate: " + errorText(GetLastError()));
  }
  std::vector<BYTE> der(size);
  if (!CryptStringToBinaryA(pem.c_str(), 0, CRYPT_STRING_BASE64HEADER, der.data(), &size, nullptr,
                            nullptr)) {
    throw std::runtime_error(file + " holds no PEM certificate: " + errorText(GetLastError()));
  }
  der.resize(size);
  return der;
}

struct StoreLocation {
  DWORD flags;
  const char* name;
};
constexpr StoreLocation kCurrentUser{CERT_SYSTEM_STORE_CURRENT_USER, "current_user"};
constexpr StoreLocation kLocalMachine{CERT_SYSTEM_STORE_LOCAL_MACHINE, "local_machine"};

StoreHandle openForWriting(const StoreLocation& location, const std::string& name) {
  const std::wstring wide_name = toWide(name);
  HCERTSTORE store =
      CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, location.flags, wide_name.c_str());
  if (store == nullptr) {
    throw std::runtime_error("cannot open " + std::string(location.name) + " store " + name +
                             " for writing: " + errorText(GetLastError()));
  }
  return StoreHandle(store);
}

void add(const StoreLocation& location, const std::string& store_name, const std::string& file,
         const std::string& friendly) {
  const StoreHandle store = openForWriting(location, store_name);
  const std::vector<BYTE> der = derFromPemFile(file);
  PCCERT_CONTEXT added = nullptr;
  if (!CertAddEncodedCertificateToStore(store.get(), X509_ASN_ENCODING, der.data(),
                                        static_cast<DWORD>(der.size()),
                                        CERT_STORE_ADD_REPLACE_EXISTING, &added)) {
    throw std::runtime_error("cannot add " + file + " to " + store_name + ": " +
                             errorText(GetLastError()));
  }
  const CertContextPtr context(added);
  if (!friendly.empty()) {
    std::wstring wide_friendly = toWide(friendly);
    CRYPT_DATA_BLOB blob{static_cast<DWORD>((wide_friendly.size() + 1) * sizeof(wchar_t)),
                         reinterpret_cast<BYTE*>(wide_friendly.data())};
    if (!CertSetCertificateContextProperty(added, CERT_FRIENDLY_NAME_PROP_ID, 0, &blob)) {
      throw std::runtime_error("cannot name " + file + " in " + store_name + ": " +
                               errorText(GetLastError()));
    }
  }
}

void remove(const StoreLocation& location, const std::string& store_name, const std::string& file) {
  const StoreHandle store = openForWriting(location, store_name);
  const std::vector<BYTE> der = derFromPemFile(file);
  const CertContextPtr wanted(
      CertCreateCertificateContext(X509_ASN_ENCODING, der.data(), static_cast<DWORD>(der.size())));
  if (!wanted) {
    throw std::runtime_error(file + " does not parse: " + errorText(GetLastError()));
  }
  PCCERT_CONTEXT found = CertFindCertificateInStore(store.get(), X509_ASN_ENCODING, 0,
                                                    CERT_FIND_EXISTING, wanted.get(), nullptr);
  if (found == nullptr) {
    throw std::runtime_error(file + " is not in " + store_name);
  }
  // CertDeleteCertificateFromStore frees the context, even when it fails.
  if (!CertDeleteCertificateFromStore(found)) {
    throw std::runtime_error("cannot remove " + file + " from " + store_name + ": " +
                             errorText(GetLastError()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  StoreLocation location = kCurrentUser;
  if (!arguments.empty() && arguments[0] == "--local-machine") {
    location = kLocalMachine;
    arguments.erase(arguments.begin());
  }
  try {
    if (arguments.size() >= 3 && arguments.size() <= 4 && arguments[0] == "add") {
      add(location, arguments[1], arguments[2], arguments.size() == 4 ? arguments[3] : "");
      return 0;
    }
    if (arguments.size() == 3 && arguments[0] == "remove") {
      remove(location, arguments[1], arguments[2]);
      return 0;
    }
    std::cerr << "usage: certbridge_test_store [--local-machine] add STORE FILE.pem [NAME]\n"
                 "       certbridge_test_store [--local-machine] remove STORE FILE.pem\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "certbridge_test_store: " << error.what() << "\n";
    return 1;
  }
}
