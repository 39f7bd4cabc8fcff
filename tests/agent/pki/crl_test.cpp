#include "agent/pki/crl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "agent/pki/der_reader.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::agent {
namespace {

using testing::CrlSpec;
using testing::RawExtension;
using testing::TestCertificate;

std::string refusal(const std::vector<unsigned char>& der) {
  try {
    const Crl crl = Crl::parse(der, "test.crl");
    crl.forEachRevokedSerial([](const std::string&) {});
  } catch (const CrlError& error) {
    return error.what();
  }
  return "accepted";
}

// A 20-octet positive serial (the most RFC 5280 allows) and the same magnitude, negative.
const std::string kTwentyOctets = "7F0102030405060708090A0B0C0D0E0F10111213";

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

// Serials are signed INTEGERs: DER FF is -1 and 00 FF is 255. A CRL entry and a certificate
// with the same number get the same text, and numbers that differ never do.
TEST_F(CrlTest, SerialsAreExactSignedNumbers) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"-01", "-01"},
      {"FF", "FF"},
      {"-80", "-80"},
      {"80", "80"},
      {"00", "00"},
      {"0100", "0100"},
      {"-FF", "-FF"},
      {"7F", "7F"},
      {kTwentyOctets, kTwentyOctets},
      {"-" + kTwentyOctets, "-" + kTwentyOctets}};
  std::vector<std::string> revoked;
  for (const auto& [hex, text] : cases) {
    revoked.push_back(hex);
  }
  const std::vector<unsigned char> der = ca_.crlDer(revoked);
  const Crl crl = Crl::parse(der, "test");
  std::set<std::string> listed;
  EXPECT_EQ(crl.forEachRevokedSerial([&](const std::string& serial) { listed.insert(serial); }),
            cases.size());
  for (const auto& [hex, text] : cases) {
    const TestCertificate client =
        TestCertificate::issue({.common_name = "c", .serial_hex = hex}, &ca_);
    const Certificate parsed = Certificate::fromDer(client.der(), "client " + hex);
    EXPECT_EQ(parsed.record().serial, text) << hex;
    EXPECT_EQ(listed.count(text), 1u) << hex;
  }
  // Same magnitude, opposite sign: a CRL revoking -1 and 128 spares 255 (DER 00 FF) and -128.
  std::set<std::string> only;
  const std::vector<unsigned char> only_der = ca_.crlDer({"-01", "80"});
  Crl::parse(only_der, "test").forEachRevokedSerial([&](const std::string& s) { only.insert(s); });
  EXPECT_EQ(only, (std::set<std::string>{"-01", "80"}));
  for (const char* spared : {"FF", "-80", "01"}) {
    const TestCertificate client =
        TestCertificate::issue({.common_name = "c", .serial_hex = spared}, &ca_);
    EXPECT_EQ(only.count(Certificate::fromDer(client.der(), "c").record().serial), 0u) << spared;
  }
}

// The text is what nginx's $ssl_client_serial and `openssl x509 -serial` print.
TEST_F(CrlTest, SerialTextIsWhatOpensslPrints) {
  testing::TempDir dir;
  for (const std::string& hex :
       std::vector<std::string>{"-01", "FF", "-80", "0080", "-" + kTwentyOctets}) {
    const TestCertificate client =
        TestCertificate::issue({.common_name = "c", .serial_hex = hex}, &ca_);
    testing::writeFile(dir.file("c.pem"), client.pem());
    const std::string printed = testing::shell("openssl x509 -noout -serial -in " +
                                               dir.file("c.pem") + " | cut -d= -f2 | tr -d '\\n'")
                                    .output;
    EXPECT_EQ(Certificate::fromDer(client.der(), "c").record().serial, printed) << hex;
  }
}

// DER allows one encoding per number; OpenSSL, and so nginx, refuses a padded INTEGER.
TEST_F(CrlTest, ANonMinimalSerialIsRefused) {
  auto der = ca_.largeCrlDer(128);
  const unsigned char serial_128[] = {0x02, 0x02, 0x00, 0x80, 0x17};
  const auto at = std::search(der.begin(), der.end(), std::begin(serial_128), std::end(serial_128));
  ASSERT_NE(at, der.end());
  *(at + 3) = 0x01;  // 00 01: the number 1 with a padding byte
  const std::string error = refusal(der);
  EXPECT_NE(error.find("revoked entry 128 is malformed (serial number is not a minimally encoded "
                       "INTEGER)"),
            std::string::npos)
      << error;
}

TEST_F(CrlTest, DeltaCrlsAreRefused) {
  const std::string error = refusal(
      ca_.crlDer(CrlSpec{.revoked_serials = {"01"},
                         .extensions = {RawExtension{"2.5.29.27", true, {0x02, 0x01, 0x01}}}}));
  EXPECT_NE(error.find("test.crl: is a delta CRL"), std::string::npos) << error;
}

TEST_F(CrlTest, AnUnknownCriticalExtensionIsRefusedByItsOid) {
  const std::string error = refusal(
      ca_.crlDer(CrlSpec{.revoked_serials = {"01"},
                         .extensions = {RawExtension{"1.3.6.1.4.1.99999.7", true, {0x05, 0x00}}}}));
  EXPECT_NE(error.find("test.crl: has the critical CRL extension 1.3.6.1.4.1.99999.7"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("must not be used"), std::string::npos) << error;
  // cRLNumber must not be critical, and nginx's OpenSSL refuses it when it is.
  const std::string number = refusal(ca_.crlDer(
      CrlSpec{.number = 0, .extensions = {RawExtension{"2.5.29.20", true, {0x02, 0x01, 0x05}}}}));
  EXPECT_NE(number.find("critical CRL extension 2.5.29.20"), std::string::npos) << number;
}

TEST_F(CrlTest, KnownOrNonCriticalExtensionsAreAccepted) {
  EXPECT_EQ(refusal(ca_.crlDer(CrlSpec{
                .revoked_serials = {"01"},
                .extensions = {RawExtension{"1.3.6.1.4.1.99999.7", false, {0x05, 0x00}},
                               RawExtension{"2.5.29.35", true, {0x30, 0x03, 0x80, 0x01, 0xab}},
                               RawExtension{"2.5.29.28", true, {0x30, 0x00}}},
                .entry_extensions = {RawExtension{"2.5.29.21", false, {0x0a, 0x01, 0x01}},
                                     RawExtension{"1.3.6.1.4.1.99999.8", false, {0x05, 0x00}}}})),
            "accepted");
}

TEST_F(CrlTest, AnExtensionTwiceIsMalformed) {
  const std::string error = refusal(ca_.crlDer(
      CrlSpec{.extensions = {RawExtension{"1.3.6.1.4.1.99999.7", false, {0x05, 0x00}},
                             RawExtension{"2.5.29.35", false, {0x30, 0x03, 0x80, 0x01, 0xab}},
                             RawExtension{"1.3.6.1.4.1.99999.7", false, {0x05, 0x00}}}}));
  EXPECT_NE(error.find("not a valid CRL (extension 1.3.6.1.4.1.99999.7 appears twice)"),
            std::string::npos)
      << error;
}

TEST_F(CrlTest, AnUnknownCriticalEntryExtensionIsRefusedByItsOid) {
  const std::string error = refusal(ca_.crlDer(
      CrlSpec{.revoked_serials = {"01", "02"},
              .entry_extensions = {RawExtension{"1.3.6.1.4.1.99999.9", true, {0x05, 0x00}}}}));
  EXPECT_NE(error.find("test.crl: revoked entry 1 has the critical entry extension "
                       "1.3.6.1.4.1.99999.9"),
            std::string::npos)
      << error;
}

TEST_F(CrlTest, IndirectCrlsAreRefused) {
  const std::string by_entry = refusal(
      ca_.crlDer(CrlSpec{.revoked_serials = {"01"},
                         .entry_extensions = {RawExtension{
                             "2.5.29.29", true, {0x30, 0x06, 0x82, 0x04, 'a', '.', 'e', 'x'}}}}));
  EXPECT_NE(by_entry.find("revoked entry 1 names another issuer (certificateIssuer)"),
            std::string::npos)
      << by_entry;
  const std::string by_flag = refusal(ca_.crlDer(
      CrlSpec{.extensions = {RawExtension{"2.5.29.28", true, {0x30, 0x03, 0x84, 0x01, 0xff}}}}));
  EXPECT_NE(by_flag.find("test.crl: is an indirect CRL (issuingDistributionPoint indirectCRL)"),
            std::string::npos)
      << by_flag;
}

TEST_F(CrlTest, PartitionedCrlsAreRefused) {
  const std::vector<std::pair<std::vector<unsigned char>, std::string>> scopes = {
      {{0x30, 0x03, 0x81, 0x01, 0xff}, "onlyContainsUserCerts"},
      {{0x30, 0x03, 0x82, 0x01, 0xff}, "onlyContainsCACerts"},
      {{0x30, 0x04, 0x83, 0x02, 0x07, 0x80}, "onlySomeReasons"},
      {{0x30, 0x03, 0x85, 0x01, 0xff}, "onlyContainsAttributeCerts"},
      {{0x30, 0x10, 0xa0, 0x0e, 0xa0, 0x0c, 0x86, 0x0a, 'h', 't', 't', 'p', ':', '/', '/', 'a', '/',
        'c'},
       "distributionPoint"}};
  for (const auto& [value, name] : scopes) {
    for (const bool critical : {true, false}) {
      const std::string error = refusal(ca_.crlDer(CrlSpec{
          .revoked_serials = {"01"}, .extensions = {RawExtension{"2.5.29.28", critical, value}}}));
      EXPECT_NE(error.find("test.crl: is a partitioned CRL"), std::string::npos) << error;
      EXPECT_NE(error.find(name), std::string::npos) << error;
    }
  }
}

TEST_F(CrlTest, ASignatureWithUnusedBitsIsAMalformedSignature) {
  auto der = ca_.crlDer({"01"});
  DerReader outer(der);
  DerReader list(outer.read(kDerSequence, "CRL").contents);
  list.read(kDerSequence, "tbs");
  list.read(kDerSequence, "algorithm");
  const DerElement signature = list.read(kDerBitString, "signature");
  der[static_cast<std::size_t>(signature.contents.data() - der.data())] = 0x03;
  const std::string error = refusal(der);
  EXPECT_NE(error.find("test.crl: malformed signature (its BIT STRING has 3 unused bits"),
            std::string::npos)
      << error;
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
