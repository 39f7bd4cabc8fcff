// Writes benchmark data, the same every run (keys from fixed seeds, fixed names and serials):
//   certbridge_bench_fixtures crl DIR COUNT
//       DIR/ca.pem and DIR/large.crl, a CRL of that CA revoking COUNT serials (DER)
//   certbridge_bench_fixtures store DIR CLIENTS CAS
//       DIR/root.pem (to be trusted with T), CAS-1 intermediates, CLIENTS client certificates
//       spread over them, each as DIR/pem/NAME.pem, and DIR/import.batch for `certutil -B`
//       (what they are: tests/bench/bench_store.h)
//   certbridge_bench_fixtures import-untrusted NSSDB BATCH
//       imports the lines of a `certutil -B` batch that carry no trust (",,") into the NSS
//       database NSSDB through NSS's PKCS#11 API, the same database as certutil -B makes in a
//       fraction of its time (tests/bench/nss_bulk_import.h says why)
//   certbridge_bench_fixtures client DIR NAME
//       one more client of the first intermediate, as DIR/pem/NAME.pem and NAME.key
//   certbridge_bench_fixtures read-store DIR [LISTING]
//       reads the NSS database DIR with certbridge's reader and prints the count and a digest of
//       what it read (DER, nickname, trust); LISTING picks a candidate reader: pkcs11_objects
//       (the default), pkcs11_attribute_each or certificate_layer
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "platform/nss/nss_cert_store.h"
#include "storage/database.h"
#include "tests/bench/bench_store.h"
#include "tests/bench/nss_bulk_import.h"
#include "tests/support/bulk_certificates.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace {

using certbridge::bench::benchIntermediate;
using certbridge::bench::benchRoot;
using certbridge::bench::makeStore;
using certbridge::testing::TestCertificate;

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "crl" && argc == 4) {
    const std::string dir = argv[2];
    const auto count = static_cast<std::size_t>(std::strtoull(argv[3], nullptr, 10));
    const TestCertificate ca =
        TestCertificate::issue({.common_name = "Bench CA", .ca = true}, nullptr);
    const std::vector<unsigned char> crl = ca.largeCrlDer(count);
    certbridge::testing::writeFile(dir + "/ca.pem", ca.pem());
    certbridge::testing::writeFile(dir + "/large.crl", std::string(crl.begin(), crl.end()));
    std::cout << dir << "/large.crl: " << count << " entries, " << crl.size() << " bytes\n";
    return 0;
  }
  if (command == "store" && argc == 5) {
    return makeStore(argv[2], std::strtoull(argv[3], nullptr, 10),
                     std::strtoull(argv[4], nullptr, 10));
  }
  if (command == "client" && argc == 4) {
    const std::string dir = argv[2];
    const std::string name = argv[3];
    // The seeded keys make this the same intermediate as the one in the store.
    const TestCertificate issuer = benchIntermediate(benchRoot(), 1);
    const TestCertificate client = TestCertificate::issue({.common_name = name}, &issuer);
    std::filesystem::create_directories(dir + "/pem");
    certbridge::testing::writeFile(dir + "/pem/" + name + ".pem", client.pem());
    certbridge::testing::writeFile(dir + "/pem/" + name + ".key", client.keyPem());
    return 0;
  }
  if (command == "import-untrusted" && argc == 4) {
    try {
      const std::size_t imported = certbridge::bench::importUntrustedCertificates(argv[2], argv[3]);
      std::cout << argv[2] << ": " << imported << " certificates imported\n";
      return 0;
    } catch (const std::exception& error) {
      std::cerr << "import-untrusted: " << error.what() << "\n";
      return 1;
    }
  }
  if (command == "fill-database" && argc == 4) {
    // For web_status_100k: the status page over this many (pending, made-up) clients.
    certbridge::storage::Database database(argv[2]);
    certbridge::testing::addBulkClients(database, std::atoi(argv[3]),
                                        static_cast<std::int64_t>(std::time(nullptr)), false);
    return 0;
  }
  if (command == "read-store" && (argc == 3 || argc == 4)) {
    using certbridge::platform::nss::NssListing;
    const std::string listing_name = argc == 4 ? argv[3] : "pkcs11_objects";
    const std::map<std::string, NssListing> listings{
        {"pkcs11_objects", NssListing::pkcs11_objects},
        {"pkcs11_attribute_each", NssListing::pkcs11_attribute_each},
        {"certificate_layer", NssListing::certificate_layer}};
    const auto listing = listings.find(listing_name);
    if (listing == listings.end()) {
      std::cerr << "unknown listing " << listing_name << "\n";
      return 2;
    }
    const auto snapshot = certbridge::platform::nss::NssCertStore(argv[2], listing->second).read();
    // Order-independent, so that candidates that list in different orders compare equal.
    std::vector<std::string> lines;
    for (const auto& certificate : snapshot.certificates) {
      lines.push_back(std::string(certificate.der.begin(), certificate.der.end()) + "|" +
                      certificate.nickname + "|" +
                      (certificate.trust.trusted_client_ca ? "T" : "-") +
                      (certificate.trust.trusted_server_ca ? "C" : "-") +
                      (certificate.trust.trusted_peer ? "P" : "-"));
    }
    std::sort(lines.begin(), lines.end());
    std::size_t digest = 0;
    for (const std::string& line : lines) {
      digest = digest * 1000003 ^ std::hash<std::string>{}(line);
    }
    std::cout << snapshot.certificates.size() << " " << std::hex << digest << "\n";
    return 0;
  }
  std::cerr << "usage: certbridge_bench_fixtures crl DIR COUNT | store DIR CLIENTS CAS | "
               "client DIR NAME | import-untrusted NSSDB BATCH | fill-database DB COUNT | "
               "read-store DIR [LISTING]\n";
  return 2;
}
