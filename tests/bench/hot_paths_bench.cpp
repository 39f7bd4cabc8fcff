// Google Benchmark microbenchmarks of certbridge's hot paths; run by ./scripts/bench.
#include <benchmark/benchmark.h>

#include <ctime>
#include <map>

#include "agent/nginx/nginx_files.h"
#include "agent/pki/certificate.h"
#include "agent/pki/crl.h"
#include "agent/pki/trust_material.h"
#include "storage/certificate_repository.h"
#include "storage/crl_repository.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace {

using certbridge::testing::TestCertificate;
namespace agent = certbridge::agent;
namespace storage = certbridge::storage;

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// A root trusted for clients, 10 intermediates and `clients` clients spread over them, as
// storage hands them to rendering. Made once per size.
const std::vector<storage::CertificateView>& pki(std::size_t clients) {
  static std::map<std::size_t, std::vector<storage::CertificateView>> made;
  auto& views = made[clients];
  if (!views.empty()) {
    return views;
  }
  const auto view = [](const TestCertificate& certificate, bool anchor, bool client) {
    storage::CertificateView result;
    result.certificate = agent::Certificate::fromDer(certificate.der(), "bench").record();
    result.anchor = anchor;
    result.client = client;
    result.present = true;
    if (client) {
      result.trust = storage::TrustState::trusted;
    }
    result.sources = "bench/x";
    return result;
  };
  const TestCertificate root =
      TestCertificate::issue({.common_name = "Root", .ca = true, .key_seed = 1}, nullptr);
  views.push_back(view(root, true, false));
  std::vector<TestCertificate> issuers;
  for (int i = 0; i < 10; ++i) {
    issuers.push_back(TestCertificate::issue(
        {.common_name = "CA " + std::to_string(i), .ca = true, .key_seed = 10u + i}, &root));
    views.push_back(view(issuers.back(), false, false));
  }
  for (std::size_t i = 0; i < clients; ++i) {
    views.push_back(view(
        TestCertificate::issue({.common_name = "client " + std::to_string(i), .key_seed = 1000 + i},
                               &issuers[i % issuers.size()]),
        false, true));
  }
  return views;
}

void BM_ParseAndClassify(benchmark::State& state) {
  const TestCertificate root = TestCertificate::issue({.common_name = "R", .ca = true}, nullptr);
  const std::vector<unsigned char> der = TestCertificate::issue({.common_name = "c"}, &root).der();
  for (auto _ : state) {
    const agent::Certificate certificate = agent::Certificate::fromDer(der, "bench");
    benchmark::DoNotOptimize(agent::classify(certificate, {}));
  }
}
BENCHMARK(BM_ParseAndClassify);

void BM_BuildTrustMaterial(benchmark::State& state) {
  const auto& views = pki(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(agent::buildTrustMaterial(views, now()));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BuildTrustMaterial)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_RenderNginxFiles(benchmark::State& state) {
  const agent::TrustMaterial material =
      agent::buildTrustMaterial(pki(static_cast<std::size_t>(state.range(0))), now());
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        agent::renderNginxFiles(material, "/etc/nginx/certbridge", std::nullopt));
  }
}
BENCHMARK(BM_RenderNginxFiles)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_RevokedSerialLookup(benchmark::State& state) {
  certbridge::testing::TempDir dir;
  storage::Database database(dir.file("bench.db"));
  const TestCertificate ca = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const agent::Certificate parsed = agent::Certificate::fromDer(ca.der(), "ca");
  storage::CertificateRepository(database).applySnapshot(
      {"bench", "nss", "x", "auto"}, {{parsed.record(), "ca", storage::CertificateRole::anchor}},
      "d", now());
  storage::CrlRepository crls(database);
  const std::vector<unsigned char> der = ca.largeCrlDer(100000);
  storage::CrlRecord record;
  record.ca_sha256 = parsed.record().sha256;
  record.issuer = parsed.record().subject;
  record.sha256 = std::string(64, '0');
  crls.replace(record, der, [&](const auto& insert) {
    return static_cast<std::int64_t>(agent::Crl::parse(der, "bench").forEachRevokedSerial(insert));
  });
  std::int64_t serial = 0;
  for (auto _ : state) {
    // Half the serials looked up are in the CRL (1..100,000), half are not.
    std::string hex(16, '\0');
    hex.resize(static_cast<std::size_t>(std::snprintf(
        hex.data(), hex.size() + 1, "%06llX", static_cast<unsigned long long>(++serial % 200000))));
    benchmark::DoNotOptimize(crls.isRevoked(record.ca_sha256, hex));
  }
}
BENCHMARK(BM_RevokedSerialLookup);

}  // namespace

BENCHMARK_MAIN();
