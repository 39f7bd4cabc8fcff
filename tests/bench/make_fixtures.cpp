// Writes benchmark data: `certbridge_bench_fixtures crl DIR COUNT` makes DIR/ca.pem and
// DIR/large.crl, a CRL of that CA revoking COUNT serials (DER).
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

int main(int argc, char** argv) {
  if (argc != 4 || std::string(argv[1]) != "crl") {
    std::cerr << "usage: certbridge_bench_fixtures crl DIR COUNT\n";
    return 2;
  }
  const std::string dir = argv[2];
  const auto count = static_cast<std::size_t>(std::strtoull(argv[3], nullptr, 10));
  using certbridge::testing::TestCertificate;
  const TestCertificate ca =
      TestCertificate::issue({.common_name = "Bench CA", .ca = true}, nullptr);
  const std::vector<unsigned char> crl = ca.largeCrlDer(count);
  certbridge::testing::writeFile(dir + "/ca.pem", ca.pem());
  certbridge::testing::writeFile(dir + "/large.crl", std::string(crl.begin(), crl.end()));
  std::cout << dir << "/large.crl: " << count << " entries, " << crl.size() << " bytes\n";
  return 0;
}
