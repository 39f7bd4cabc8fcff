#include "agent/crl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::agent {
namespace {

using testing::CrlSpec;
using testing::TestCertificate;

class CrlTest : public ::testing::Test {
 protected:
  TestCertificate ca_ = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  Certificate ca_parsed_ = Certificate::fromDer(ca_.der(), "ca");
};

TEST_F(CrlTest, ReadsHeaderAndRevokedSerials) {
  const auto der = ca_.crlDer(CrlSpec{.revoked_serials = {"0A", "1234", "00FF"}, .number = 7});
  const Crl crl = Crl::parse(der, "test");
  EXPECT_EQ(crl.issuer(), "CN=CA,O=certbridge test");
  EXPECT_EQ(crl.number(), "07");
  ASSERT_TRUE(crl.nextUpdate().has_value());
  EXPECT_NEAR(static_cast<double>(*crl.nextUpdate() - crl.thisUpdate()), 86460, 2);
  std::set<std::string> serials;
  EXPECT_EQ(crl.forEachRevokedSerial([&](const std::string& serial) { serials.insert(serial); }),
            3u);
  EXPECT_EQ(serials, (std::set<std::string>{"0A", "1234", "FF"}));
  EXPECT_TRUE(crl.isIssuedBy(ca_parsed_));
  EXPECT_NO_THROW(crl.verifySignature(ca_parsed_));
}

TEST_F(CrlTest, SerialsAreWrittenAsCertificatesWriteThem) {
  const TestCertificate client = TestCertificate::issue({.common_name = "c"}, &ca_);
  const Certificate parsed = Certificate::fromDer(client.der(), "client");
  const std::vector<unsigned char> der = ca_.crlDer({parsed.record().serial});
  const Crl crl = Crl::parse(der, "test");
  std::string seen;
  crl.forEachRevokedSerial([&](const std::string& serial) { seen = serial; });
  EXPECT_EQ(seen, parsed.record().serial);
}

TEST_F(CrlTest, AnotherKeyDoesNotVerify) {
  const TestCertificate impostor =
      TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const auto der = impostor.crlDer({"01"});
  const Crl crl = Crl::parse(der, "forged");
  EXPECT_TRUE(crl.isIssuedBy(ca_parsed_)) << "same name";
  try {
    crl.verifySignature(ca_parsed_);
    FAIL() << "a forged CRL verified";
  } catch (const CrlError& error) {
    EXPECT_NE(std::string(error.what()).find("forged: signature does not verify"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(CrlTest, TamperedContentDoesNotVerify) {
  auto der = ca_.crlDer({"0102030405"});
  const unsigned char serial[] = {0x01, 0x02, 0x03, 0x04, 0x05};
  const auto at = std::search(der.begin(), der.end(), std::begin(serial), std::end(serial));
  ASSERT_NE(at, der.end());
  *(at + 4) = 0x06;
  EXPECT_THROW(Crl::parse(der, "tampered").verifySignature(ca_parsed_), CrlError);
}

TEST_F(CrlTest, GarbageAndTruncationAreClearErrors) {
  const std::vector<unsigned char> garbage(100, 0x41);
  try {
    Crl::parse(garbage, "http://127.0.0.1/x.crl");
    FAIL();
  } catch (const CrlError& error) {
    EXPECT_NE(std::string(error.what()).find("http://127.0.0.1/x.crl: not a valid CRL"),
              std::string::npos);
  }
  auto der = ca_.crlDer({"01"});
  der.resize(der.size() - 10);
  EXPECT_THROW(Crl::parse(der, "short"), CrlError);
  der = ca_.crlDer({"01"});
  der.push_back(0);
  EXPECT_THROW(Crl::parse(der, "long"), CrlError);
}

TEST_F(CrlTest, PemAndDerAreBothAccepted) {
  const auto der = ca_.crlDer({"01"});
  const std::string pem = crlToPem(der);
  EXPECT_EQ(crlDerFromBytes(std::vector<unsigned char>(pem.begin(), pem.end()), "pem"), der);
  EXPECT_EQ(crlDerFromBytes(der, "der"), der);
  const std::string html = "<html>not found</html>";
  EXPECT_THROW(crlDerFromBytes(std::vector<unsigned char>(html.begin(), html.end()), "html"),
               CrlError);
}

TEST_F(CrlTest, OurPemIsWhatOpensslReads) {
  testing::TempDir dir;
  testing::writeFile(dir.file("crl.pem"), crlToPem(ca_.crlDer({"0A"})));
  const auto result = testing::shell("openssl crl -noout -text -in " + dir.file("crl.pem"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("Serial Number: 0A"), std::string::npos) << result.output;
}

TEST_F(CrlTest, LargeCrlWalksEveryEntryAndOpensslAgrees) {
  const auto der = ca_.largeCrlDer(1000, 3);
  const Crl crl = Crl::parse(der, "large");
  EXPECT_NO_THROW(crl.verifySignature(ca_parsed_));
  EXPECT_EQ(crl.number(), "03");
  EXPECT_EQ(crl.forEachRevokedSerial([](const std::string&) {}), 1000u);

  testing::TempDir dir;
  testing::writeFile(dir.file("large.crl"), std::string(der.begin(), der.end()));
  testing::writeFile(dir.file("ca.pem"), ca_.pem());
  const auto result = testing::shell("openssl crl -inform DER -noout -in " + dir.file("large.crl") +
                                     " -CAfile " + dir.file("ca.pem") + " -verify");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("verify OK"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace certbridge::agent
