#include "agent/pki/trust_material.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "agent/nginx/nginx_files.h"
#include "tests/support/test_pki.h"

namespace certbridge::agent {
namespace {

using storage::CertificateView;
using storage::TrustState;
using testing::TestCertificate;

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

CertificateView view(const TestCertificate& certificate, bool anchor, const std::string& nickname,
                     std::optional<TrustState> trust = std::nullopt) {
  const Certificate parsed = Certificate::fromDer(certificate.der(), nickname);
  CertificateView result;
  result.certificate = parsed.record();
  result.anchor = anchor;
  result.client = parsed.isClientAuthCapable();
  result.present = true;
  result.trust = trust;
  result.sources = "test/" + nickname;
  return result;
}

bool bundleHas(const TrustMaterial& material, const TestCertificate& certificate) {
  const std::string sha256 = Certificate::fromDer(certificate.der(), "x").record().sha256;
  return std::any_of(material.client_cas.begin(), material.client_cas.end(),
                     [&](const BundledCa& ca) { return ca.sha256 == sha256; });
}

bool mapHas(const TrustMaterial& material, const TestCertificate& certificate) {
  const std::string sha1 = Certificate::fromDer(certificate.der(), "x").record().sha1;
  return std::any_of(material.clients.begin(), material.clients.end(),
                     [&](const TrustedClient& client) { return client.sha1 == sha1; });
}

bool warned(const TrustMaterial& material, const std::string& fragment) {
  return std::any_of(
      material.warnings.begin(), material.warnings.end(),
      [&](const std::string& warning) { return warning.find(fragment) != std::string::npos; });
}

class TrustMaterialTest : public ::testing::Test {
 protected:
  TestCertificate root_ = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  TestCertificate intermediate_ =
      TestCertificate::issue({.common_name = "Issuing", .ca = true}, &root_);
  TestCertificate alice_ = TestCertificate::issue({.common_name = "alice"}, &root_);
  TestCertificate bob_ = TestCertificate::issue({.common_name = "bob"}, &intermediate_);
};

TEST_F(TrustMaterialTest, ClientsOfAnIntermediateBringTheChainAndDepthTwo) {
  const TrustMaterial material =
      buildTrustMaterial({view(root_, true, "root"), view(intermediate_, false, "intermediate"),
                          view(bob_, false, "bob", TrustState::trusted)},
                         now());
  EXPECT_TRUE(bundleHas(material, root_));
  EXPECT_TRUE(bundleHas(material, intermediate_));
  EXPECT_TRUE(mapHas(material, bob_));
  EXPECT_EQ(material.verify_depth, 2);
  EXPECT_TRUE(material.warnings.empty());
}

TEST_F(TrustMaterialTest, ClientOfTheRootNeedsDepthOneAndNoIntermediate) {
  const TrustMaterial material =
      buildTrustMaterial({view(root_, true, "root"), view(intermediate_, false, "intermediate"),
                          view(alice_, false, "alice", TrustState::trusted)},
                         now());
  EXPECT_TRUE(bundleHas(material, root_));
  EXPECT_FALSE(bundleHas(material, intermediate_)) << "no trusted client needs it";
  EXPECT_EQ(material.verify_depth, 1);
}

TEST_F(TrustMaterialTest, OnlyTrustedClientsReachTheMap) {
  const TestCertificate carol = TestCertificate::issue({.common_name = "carol"}, &root_);
  const TestCertificate dave = TestCertificate::issue({.common_name = "dave"}, &root_);
  const TrustMaterial material = buildTrustMaterial(
      {view(root_, true, "root"), view(alice_, false, "alice", TrustState::trusted),
       view(carol, false, "carol", TrustState::pending),
       view(dave, false, "dave", TrustState::blocked)},
      now());
  EXPECT_TRUE(mapHas(material, alice_));
  EXPECT_FALSE(mapHas(material, carol));
  EXPECT_FALSE(mapHas(material, dave));
}

TEST_F(TrustMaterialTest, GoneCertificatesAreIgnored) {
  CertificateView gone = view(alice_, false, "alice", TrustState::trusted);
  gone.present = false;
  const TrustMaterial material = buildTrustMaterial({view(root_, true, "root"), gone}, now());
  EXPECT_FALSE(mapHas(material, alice_));
}

TEST_F(TrustMaterialTest, ClientOfAnUntrustedCaIsLeftOutWithAWarning) {
  const TestCertificate other =
      TestCertificate::issue({.common_name = "Other", .ca = true}, nullptr);
  const TestCertificate mallory = TestCertificate::issue({.common_name = "mallory"}, &other);
  const TrustMaterial material =
      buildTrustMaterial({view(root_, true, "root"), view(other, false, "other"),
                          view(mallory, false, "mallory", TrustState::trusted)},
                         now());
  EXPECT_FALSE(mapHas(material, mallory));
  EXPECT_FALSE(bundleHas(material, other));
  EXPECT_TRUE(warned(material, "CN=mallory")) << material.warnings.size();
  EXPECT_TRUE(warned(material, "trust flag T"));
}

TEST_F(TrustMaterialTest, MissingIntermediateLeavesTheClientOutAndSaysWhichIssuer) {
  const TrustMaterial material = buildTrustMaterial(
      {view(root_, true, "root"), view(bob_, false, "bob", TrustState::trusted)}, now());
  EXPECT_FALSE(mapHas(material, bob_));
  EXPECT_TRUE(warned(material, "CN=Issuing,O=certbridge test"));
}

TEST_F(TrustMaterialTest, ExpiredCertificatesAreLeftOutWithAWarning) {
  const TestCertificate old_root = TestCertificate::issue({.common_name = "Old Root",
                                                           .ca = true,
                                                           .not_before_offset = -20 * 86400,
                                                           .not_after_offset = -86400},
                                                          nullptr);
  const TestCertificate old_client = TestCertificate::issue(
      {.common_name = "old", .not_before_offset = -20 * 86400, .not_after_offset = -60}, &root_);
  const TrustMaterial material =
      buildTrustMaterial({view(root_, true, "root"), view(old_root, true, "old-root"),
                          view(old_client, false, "old", TrustState::trusted)},
                         now());
  EXPECT_FALSE(bundleHas(material, old_root));
  EXPECT_FALSE(mapHas(material, old_client));
  EXPECT_TRUE(warned(material, "CN=Old Root"));
  EXPECT_TRUE(warned(material, "CN=old,"));
}

TEST_F(TrustMaterialTest, AnchorOnAnIntermediateBringsItsRootForNginx) {
  // T on the issuing CA only: nginx still needs the chain up to a self-signed root.
  const TrustMaterial material =
      buildTrustMaterial({view(root_, false, "root"), view(intermediate_, true, "intermediate"),
                          view(bob_, false, "bob", TrustState::trusted),
                          view(alice_, false, "alice", TrustState::trusted)},
                         now());
  EXPECT_TRUE(bundleHas(material, intermediate_));
  EXPECT_TRUE(bundleHas(material, root_));
  EXPECT_TRUE(mapHas(material, bob_));
  EXPECT_FALSE(mapHas(material, alice_)) << "alice's chain does not pass the trusted CA";
}

TEST_F(TrustMaterialTest, NoAnchorAtAllIsAnError) {
  EXPECT_THROW(
      buildTrustMaterial(
          {view(root_, false, "root"), view(alice_, false, "alice", TrustState::trusted)}, now()),
      RenderError);
}

TEST_F(TrustMaterialTest, OutputDoesNotDependOnInputOrder) {
  const TestCertificate carol = TestCertificate::issue({.common_name = "carol"}, &intermediate_);
  std::vector<CertificateView> views = {view(root_, true, "root"),
                                        view(intermediate_, false, "intermediate"),
                                        view(alice_, false, "alice", TrustState::trusted),
                                        view(bob_, false, "bob", TrustState::trusted),
                                        view(carol, false, "carol", TrustState::trusted)};
  const auto render = [&] {
    return renderNginxFiles(buildTrustMaterial(views, now()), "/etc/nginx/certbridge",
                            std::nullopt);
  };
  const std::vector<OutputFile> first = render();
  std::mt19937 random(42);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(views.begin(), views.end(), random);
    const std::vector<OutputFile> again = render();
    for (std::size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(first[i].content, again[i].content) << first[i].name;
    }
  }
}

std::string sha256Of(const TestCertificate& certificate) {
  return Certificate::fromDer(certificate.der(), "x").record().sha256;
}

// What a sync answers while it parses (IssuerVerdictSeeder) is every question the render then
// asks, with the render's own answers: the render computes nothing more and publishes the same.
TEST_F(TrustMaterialTest, SeededVerdictsAnswerEveryQuestionOfTheRenderAlike) {
  const TestCertificate stranger = TestCertificate::issue({.common_name = "Issuing", .ca = true},
                                                          nullptr);  // same subject, other key
  const TestCertificate mallory = TestCertificate::issue({.common_name = "mallory"}, &stranger);
  const std::vector<CertificateView> views = {view(root_, true, "root"),
                                              view(intermediate_, false, "intermediate"),
                                              view(stranger, false, "stranger"),
                                              view(alice_, false, "alice", TrustState::trusted),
                                              view(bob_, false, "bob", TrustState::trusted),
                                              view(mallory, false, "mallory", TrustState::trusted)};
  IssuerVerdicts verdicts;
  IssuerVerdictSeeder seeder(verdicts);
  for (const TestCertificate* ca :
       std::vector<const TestCertificate*>{&root_, &intermediate_, &stranger}) {
    seeder.addIssuer(Certificate::fromDer(ca->der(), "ca"));
  }
  seeder.answerForIssuers();
  for (const TestCertificate* client :
       std::vector<const TestCertificate*>{&alice_, &bob_, &mallory}) {
    seeder.record(seeder.answersFor(Certificate::fromDer(client->der(), "client")));
  }
  const std::size_t seeded = verdicts.computed();
  const TrustMaterial seeded_material = buildTrustMaterial(views, now(), &verdicts);
  EXPECT_EQ(verdicts.computed(), seeded);
  const TrustMaterial own_material = buildTrustMaterial(views, now());
  const auto seeded_files =
      renderNginxFiles(seeded_material, "/etc/nginx/certbridge", std::nullopt);
  const auto own_files = renderNginxFiles(own_material, "/etc/nginx/certbridge", std::nullopt);
  ASSERT_EQ(seeded_files.size(), own_files.size());
  for (std::size_t i = 0; i < own_files.size(); ++i) {
    EXPECT_EQ(seeded_files[i].content, own_files[i].content) << own_files[i].name;
  }
  EXPECT_TRUE(mapHas(seeded_material, bob_));
  EXPECT_FALSE(mapHas(seeded_material, mallory));  // its issuer is no anchor's
  EXPECT_EQ(seeded_material.warnings, own_material.warnings);
}

// A CA revoked by its issuer's CRL takes every client under it out of clients.map, whether or
// not nginx checks CRLs itself; the warning says which certificate and which CRL.
TEST_F(TrustMaterialTest, ARevokedIntermediateTakesItsClientsWithIt) {
  TrustMaterial material =
      buildTrustMaterial({view(root_, true, "root"), view(intermediate_, false, "intermediate"),
                          view(bob_, false, "bob", TrustState::trusted),
                          view(alice_, false, "alice", TrustState::trusted)},
                         now());
  const std::string intermediate_serial =
      Certificate::fromDer(intermediate_.der(), "x").record().serial;
  std::vector<std::pair<std::string, std::string>> asked;
  removeRevokedClients(material, [&](const std::string& issuer, const std::string& serial) {
    asked.emplace_back(issuer, serial);
    return issuer == sha256Of(root_) && serial == intermediate_serial;
  });
  EXPECT_FALSE(mapHas(material, bob_));
  EXPECT_TRUE(mapHas(material, alice_));
  EXPECT_TRUE(warned(material,
                     "trusted client test/bob is left out of clients.map: "
                     "'CN=Issuing,O=certbridge test' (serial " +
                         intermediate_serial +
                         ") is revoked by the CRL of 'CN=Root,O=certbridge test'"));
  EXPECT_EQ(std::count(asked.begin(), asked.end(),
                       std::pair{sha256Of(intermediate_),
                                 Certificate::fromDer(bob_.der(), "x").record().serial}),
            1)
      << "bob's own serial is asked of the intermediate's CRL";
}

TEST_F(TrustMaterialTest, RevocationMatchesTheExactSignedSerial) {
  const TestCertificate minus_one =
      TestCertificate::issue({.common_name = "minus-one", .serial_hex = "-01"}, &intermediate_);
  const TestCertificate plus_255 =
      TestCertificate::issue({.common_name = "plus-255", .serial_hex = "FF"}, &intermediate_);
  TrustMaterial material =
      buildTrustMaterial({view(root_, true, "root"), view(intermediate_, false, "intermediate"),
                          view(minus_one, false, "minus-one", TrustState::trusted),
                          view(plus_255, false, "plus-255", TrustState::trusted)},
                         now());
  removeRevokedClients(material, [&](const std::string& issuer, const std::string& serial) {
    return issuer == sha256Of(intermediate_) && serial == "-01";
  });
  EXPECT_FALSE(mapHas(material, minus_one));
  EXPECT_TRUE(mapHas(material, plus_255));
  EXPECT_TRUE(warned(material,
                     "'CN=minus-one,O=certbridge test' (serial -01) is revoked by the "
                     "CRL of 'CN=Issuing,O=certbridge test'"));
}

TEST(Classify, MapsStoreTrustAndCertificateToARole) {
  const TestCertificate ca = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const TestCertificate client = TestCertificate::issue({.common_name = "c"}, &ca);
  const TestCertificate server =
      TestCertificate::issue({.common_name = "s", .extended_key_usage = "serverAuth"}, &ca);
  const platform::StoreTrust trusted{.trusted_client_ca = true};
  const platform::StoreTrust plain{};
  const auto parse = [](const TestCertificate& c) { return Certificate::fromDer(c.der(), "t"); };
  EXPECT_EQ(classify(parse(ca), trusted), storage::CertificateRole::anchor);
  EXPECT_EQ(classify(parse(ca), plain), storage::CertificateRole::intermediate);
  EXPECT_EQ(classify(parse(client), plain), storage::CertificateRole::client);
  EXPECT_EQ(classify(parse(server), plain), storage::CertificateRole::other);
}

}  // namespace
}  // namespace certbridge::agent
