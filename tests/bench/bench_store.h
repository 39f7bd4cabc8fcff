#pragma once
// What the bench's NSS data set holds: one root (trusted with T), CAS-1 intermediates and CLIENTS
// clients spread over them, with fixed names, seeds and serials. ./scripts/bench keys its cached
// data sets on this file (with tests/support/test_pki.*), so only a change here, which changes
// the certificates, their nicknames or trust, makes new ones; how they are imported does not.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::bench {

using certbridge::testing::TestCertificate;

constexpr std::uint64_t kSeed = 20261123;

inline TestCertificate benchRoot() {
  return TestCertificate::issue(
      {.common_name = "Bench Root CA", .ca = true, .key_seed = kSeed, .serial = 1}, nullptr);
}

inline TestCertificate benchIntermediate(const TestCertificate& root, std::size_t index) {
  return TestCertificate::issue({.common_name = "Bench Issuing CA " + std::to_string(index),
                                 .ca = true,
                                 .key_seed = kSeed + 1 + index,
                                 .serial = 2 + index},
                                &root);
}

// Writes DIR/root.pem, DIR/pem/NAME.pem for every certificate and DIR/import.batch, the
// `certutil -B` lines that make the database (nickname and trust of each certificate).
inline int makeStore(const std::string& dir, std::size_t clients, std::size_t cas) {
  std::filesystem::create_directories(dir + "/pem");
  const TestCertificate anchor = benchRoot();
  certbridge::testing::writeFile(dir + "/root.pem", anchor.pem());
  std::ofstream batch(dir + "/import.batch");
  batch << "-A -n bench-root -t T,, -i " << dir << "/root.pem\n";
  std::vector<TestCertificate> issuers;
  for (std::size_t i = 1; i < cas; ++i) {
    issuers.push_back(benchIntermediate(anchor, i));
    const std::string name = "bench-ca-" + std::to_string(i);
    certbridge::testing::writeFile(dir + "/pem/" + name + ".pem", issuers.back().pem());
    batch << "-A -n " << name << " -t ,, -i " << dir << "/pem/" << name << ".pem\n";
  }
  for (std::size_t i = 0; i < clients; ++i) {
    const TestCertificate client =
        TestCertificate::issue({.common_name = "client-" + std::to_string(i),
                                .key_seed = kSeed + 100000 + i,
                                .serial = 100000 + i},
                               &issuers[i % issuers.size()]);
    const std::string name = "client-" + std::to_string(i);
    certbridge::testing::writeFile(dir + "/pem/" + name + ".pem", client.pem());
    batch << "-A -n " << name << " -t ,, -i " << dir << "/pem/" << name << ".pem\n";
  }
  std::cout << dir << ": 1 root, " << issuers.size() << " intermediates, " << clients
            << " clients\n";
  return 0;
}

}  // namespace certbridge::bench
