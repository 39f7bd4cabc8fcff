#include "agent/pki/certificate.h"

#include <gtest/gtest.h>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::agent {
namespace {

using testing::CertificateSpec;
using testing::TestCertificate;

TEST(Certificate, ReadsTheFactsCertbridgeStores) {
  const TestCertificate root = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  const TestCertificate client = TestCertificate::issue(
      {.common_name = "alice", .crl_distribution_point = "http://127.0.0.1/root.crl"}, &root);

  const Certificate parsed = Certificate::fromDer(client.der(), "test");
  const storage::CertificateRecord& record = parsed.record();
  EXPECT_EQ(record.subject, "CN=alice,O=certbridge test");
  EXPECT_EQ(record.issuer, "CN=Root,O=certbridge test");
  EXPECT_EQ(record.key_type, "EC prime256v1");
  EXPECT_EQ(record.extended_key_usage, "clientAuth");
  EXPECT_EQ(record.crl_distribution_points, "http://127.0.0.1/root.crl");
  EXPECT_FALSE(record.is_ca);
  EXPECT_FALSE(parsed.isSelfSigned());
  EXPECT_TRUE(parsed.isClientAuthCapable());
  EXPECT_TRUE(parsed.isIssuedBy(Certificate::fromDer(root.der(), "root")));
  EXPECT_EQ(record.der, client.der());
  EXPECT_LT(record.not_before, record.not_after);
}

TEST(Certificate, RawNamesAreTheEncodedIssuerAndSubject) {
  const TestCertificate root = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  const TestCertificate client = TestCertificate::issue({.common_name = "alice"}, &root);
  const Certificate parsed = Certificate::fromDer(client.der(), "test");
  const auto encoded = [](const X509_NAME* name) {
    unsigned char* der = nullptr;
    const int length = i2d_X509_NAME(name, &der);
    const OpenSslStringPtr owned(reinterpret_cast<char*>(der));
    return std::vector<unsigned char>(der, der + length);
  };
  const std::vector<unsigned char> der = client.der();
  const std::optional<RawNames> names = rawNames(der);
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(std::vector(names->issuer.begin(), names->issuer.end()),
            encoded(X509_get_issuer_name(parsed.get())));
  EXPECT_EQ(std::vector(names->subject.begin(), names->subject.end()),
            encoded(X509_get_subject_name(parsed.get())));
  const std::vector<unsigned char> garbage = {0x30, 0x03, 0x02, 0x01, 0x01};
  EXPECT_FALSE(rawNames(garbage).has_value());
  EXPECT_FALSE(rawNames(std::span(der).first(20)).has_value());
}

TEST(Certificate, FingerprintsMatchTheOpensslCommand) {
  testing::TempDir dir;
  const TestCertificate client = TestCertificate::issue({.common_name = "alice"}, nullptr);
  testing::writeFile(dir.file("alice.pem"), client.pem());
  const Certificate parsed = Certificate::fromDer(client.der(), "test");

  const auto fingerprint = [&](const std::string& digest) {
    std::string text = testing::shell("openssl x509 -noout -fingerprint -" + digest + " -in " +
                                      dir.file("alice.pem") +
                                      " | cut -d= -f2 | tr -d ':\\n' | "
                                      "tr A-F a-f")
                           .output;
    return text;
  };
  EXPECT_EQ(parsed.record().sha1, fingerprint("sha1"));
  EXPECT_EQ(parsed.record().sha256, fingerprint("sha256"));
  const std::string serial = testing::shell("openssl x509 -noout -serial -in " +
                                            dir.file("alice.pem") + " | cut -d= -f2 | tr -d '\\n'")
                                 .output;
  EXPECT_EQ(parsed.record().serial, serial);
}

TEST(Certificate, ServerOnlyLeafIsNotAClient) {
  const TestCertificate server =
      TestCertificate::issue({.common_name = "www", .extended_key_usage = "serverAuth"}, nullptr);
  const Certificate parsed = Certificate::fromDer(server.der(), "test");
  EXPECT_FALSE(parsed.isClientAuthCapable());
  EXPECT_EQ(parsed.record().extended_key_usage, "serverAuth");
}

TEST(Certificate, LeafWithoutEkuMayAuthenticateClients) {
  const TestCertificate leaf =
      TestCertificate::issue({.common_name = "old", .extended_key_usage = ""}, nullptr);
  EXPECT_TRUE(Certificate::fromDer(leaf.der(), "test").isClientAuthCapable());
}

TEST(Certificate, CaIsNeverAClient) {
  const TestCertificate ca = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const Certificate parsed = Certificate::fromDer(ca.der(), "test");
  EXPECT_TRUE(parsed.record().is_ca);
  EXPECT_TRUE(parsed.isSelfSigned());
  EXPECT_FALSE(parsed.isClientAuthCapable());
}

TEST(Certificate, GarbageIsAnErrorNamingItsOrigin) {
  const std::vector<unsigned char> garbage = {0x30, 0x82, 0x01, 0x00, 0x01, 0x02};
  try {
    Certificate::fromDer(garbage, "store main, certificate 'bad'");
    FAIL() << "garbage parsed";
  } catch (const CertificateError& error) {
    EXPECT_NE(std::string(error.what()).find("store main, certificate 'bad'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("not a valid DER certificate"), std::string::npos);
  }
}

TEST(Certificate, TrailingBytesAreRejected) {
  std::vector<unsigned char> der = TestCertificate::issue({.common_name = "x"}, nullptr).der();
  der.push_back(0);
  EXPECT_THROW(Certificate::fromDer(der, "test"), CertificateError);
}

TEST(Certificate, TruncatedCertificateIsRejected) {
  std::vector<unsigned char> der = TestCertificate::issue({.common_name = "x"}, nullptr).der();
  der.resize(der.size() / 2);
  EXPECT_THROW(Certificate::fromDer(der, "test"), CertificateError);
}

TEST(Certificate, PemWithSeveralCertificates) {
  const TestCertificate first = TestCertificate::issue({.common_name = "one"}, nullptr);
  const TestCertificate second = TestCertificate::issue({.common_name = "two"}, nullptr);
  const auto parsed = Certificate::fromPem("comment\n" + first.pem() + second.pem(), "bundle");
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1].record().subject, "CN=two,O=certbridge test");
  EXPECT_EQ(Certificate::fromPem(parsed[0].toPem(), "again")[0].record().der, first.der());
}

TEST(Certificate, PemWithABrokenBlockNamesIt) {
  const TestCertificate first = TestCertificate::issue({.common_name = "one"}, nullptr);
  const std::string broken =
      first.pem() + "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
  try {
    Certificate::fromPem(broken, "upload");
    FAIL() << "broken PEM parsed";
  } catch (const CertificateError& error) {
    EXPECT_NE(std::string(error.what()).find("upload: certificate 2"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(Certificate::fromPem("no certificates here", "empty"), CertificateError);
}

}  // namespace
}  // namespace certbridge::agent
