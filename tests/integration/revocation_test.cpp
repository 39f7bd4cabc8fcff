#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/mtls_edge.h"
#include "tests/support/http_server.h"
#include "tests/support/test_pki.h"

namespace certbridge::testing {
namespace {

// A 20-octet serial, the most RFC 5280 allows.
const std::string kTwentyOctets = "7F0102030405060708090A0B0C0D0E0F10111213";

// The demo PKI with its issuing CA's CRL served over HTTP instead of from the NSS database, so
// that each test decides exactly what that CRL says.
class RevocationEdge : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    ASSERT_EQ(dropStoreCrl("intermediate").exit_code, 0);
  }

  ShellResult dropStoreCrl(const std::string& issuer) {
    return shell("crlutil -D -d sql:" + quoted(nssdb()) + " -n " + issuer);
  }

  TestCertificate demoCa(const std::string& name) const {
    return TestCertificate::fromPem(readFile(pki(name + ".pem")), readFile(pki(name + ".key")));
  }

  // A client of the demo's issuing CA with exactly this serial, in the NSS database.
  void addClient(const std::string& name, const std::string& serial_hex) {
    const TestCertificate issuer = demoCa("intermediate");
    const TestCertificate client = TestCertificate::issue(
        {.common_name = name, .organization = "certbridge demo", .serial_hex = serial_hex},
        &issuer);
    writeFile(pki(name + ".pem"), client.pem());
    writeFile(pki(name + ".key"), client.keyPem());
    const ShellResult imported = demoPki("import", name);
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
  }

  std::string serialOf(const std::string& name) const {
    return shell("openssl x509 -noout -serial -in " + quoted(pki(name + ".pem")) +
                 " | cut -d= -f2 | tr -d '\\n'")
        .output;
  }

  // Serves `crl` as the issuing CA's CRL and points certbridge at it; `extra` adds keys.
  void serveIntermediateCrl(const std::vector<unsigned char>& crl, const std::string& extra = "") {
    server_.set("/intermediate.crl", HttpReply{.body = crl});
    writeConfig("pid_file = " + nginx_->pidFile(), "auto",
                extra + "[crl.urls]\n" + fingerprint("intermediate") + " = " +
                    server_.url("/intermediate.crl") + "\n");
  }

  bool inClientsMap(const std::string& name) const {
    return readFile(out("clients.map")).find(fingerprint(name, "sha1")) != std::string::npos;
  }

  TestHttpServer server_;
};

// Serials are signed: -1 (DER FF) is not 255 (DER 00 FF). Each client is revoked exactly when
// the CRL lists its number, in status, in clients.map and in real nginx.
TEST_F(RevocationEdge, SerialsAreExactSignedNumbersEverywhere) {
  const std::vector<std::pair<std::string, std::string>> clients = {
      {"minus1", "-01"},   {"plus255", "FF"},         {"plus128", "0080"},
      {"minus128", "-80"}, {"twenty", kTwentyOctets}, {"minustwenty", "-" + kTwentyOctets}};
  for (const auto& [name, serial] : clients) {
    addClient(name, serial);
  }
  ASSERT_EQ(serialOf("minus1"), "-01");
  ASSERT_EQ(serialOf("plus128"), "80") << "DER 00 80: a leading 00 byte";
  serveIntermediateCrl(demoCa("intermediate").crlDer({"-01", "80", kTwentyOctets}));
  publishAndStartNginx();

  const ShellResult status = certbridge("status");
  for (const std::string revoked : {"minus1", "plus128", "twenty"}) {
    EXPECT_FALSE(inClientsMap(revoked)) << revoked;
    EXPECT_EQ(statusFor(revoked), 400) << revoked << ": nginx's own CRL check refuses it";
    EXPECT_NE(status.output.find("revoked  client    CN=" + revoked + ",O=certbridge demo"),
              std::string::npos)
        << revoked << "\n"
        << status.output;
  }
  for (const std::string spared : {"plus255", "minus128", "minustwenty"}) {
    EXPECT_TRUE(inClientsMap(spared)) << spared;
    EXPECT_EQ(statusFor(spared), 200) << spared;
    EXPECT_NE(status.output.find("trusted  client    CN=" + spared + ",O=certbridge demo"),
              std::string::npos)
        << spared << "\n"
        << status.output;
  }
  EXPECT_NE(status.output.find("'CN=minus1,O=certbridge demo' (serial -01) is revoked by the CRL "
                               "of 'CN=Demo Issuing CA,O=certbridge demo'"),
            std::string::npos)
      << status.output;
}

// clients.map is certbridge's own enforcement: with crl.missing = omit nginx checks no CRL,
// and a client under a revoked intermediate, or revoked itself, is still refused.
TEST_F(RevocationEdge, ARevokedIntermediateTakesItsClientsEvenWithoutSslCrl) {
  ASSERT_EQ(demoPki("revoke", "intermediate root").exit_code, 0);
  writeConfig("pid_file = " + nginx_->pidFile(), "auto", "[crl]\nmissing = omit\n");
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_NE(synced.output.find("published WITHOUT ssl_crl"), std::string::npos) << synced.output;
  const std::string because = "'CN=Demo Issuing CA,O=certbridge demo' (serial " +
                              serialOf("intermediate") +
                              ") is revoked by the CRL of 'CN=Demo Root CA,O=certbridge demo'";
  EXPECT_NE(synced.output.find("is left out of clients.map: " + because), std::string::npos)
      << synced.output;
  ASSERT_EQ(readFile(out("mtls.conf")).find("ssl_crl"), std::string::npos);
  nginx_->start();
  EXPECT_EQ(statusFor("bob"), 403) << "not 200: refused by clients.map";
  EXPECT_EQ(statusFor("carol"), 403);
  EXPECT_EQ(statusFor("alice"), 200) << "a client of the root is not affected";
  EXPECT_FALSE(inClientsMap("bob"));

  const ShellResult status = certbridge("status");
  EXPECT_NE(status.output.find("revoked  client    CN=bob,O=certbridge demo"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("revoked  CA        CN=Demo Issuing CA"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find(because), std::string::npos) << status.output;
  const ShellResult json = certbridge("status --json");
  EXPECT_NE(json.output.find("\"revocation\": \"" + because + "\""), std::string::npos)
      << json.output;
}

TEST_F(RevocationEdge, ARevokedClientIsRefusedWithoutSslCrlToo) {
  serveIntermediateCrl(demoCa("intermediate").crlDer({serialOf("bob")}), "[crl]\nmissing = omit\n");
  ASSERT_EQ(dropStoreCrl("root").exit_code, 0);
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  ASSERT_EQ(readFile(out("mtls.conf")).find("ssl_crl"), std::string::npos);
  nginx_->start();
  EXPECT_EQ(statusFor("bob"), 403) << "not 200: refused by clients.map";
  EXPECT_EQ(statusFor("carol"), 200);
}

// A CRL certbridge must not use is refused like any bad CRL: the one held stays in use, and
// status says why, naming the extension's OID.
TEST_F(RevocationEdge, ARefusedCrlLeavesTheHeldOneInUseAndStatusSaysWhy) {
  serveIntermediateCrl(demoCa("intermediate").crlDer(CrlSpec{}));
  publishAndStartNginx();
  ASSERT_EQ(statusFor("bob"), 200);
  const std::string held = readFile(out("crl.pem"));

  server_.set(
      "/intermediate.crl",
      HttpReply{.body = demoCa("intermediate")
                            .crlDer(CrlSpec{.revoked_serials = {serialOf("bob")},
                                            .number = 50,
                                            .extensions = {RawExtension{
                                                "1.3.6.1.4.1.99999.7", true, {0x05, 0x00}}}})});
  const ShellResult refreshed = certbridge("crl refresh --ca " + fingerprint("intermediate"));
  EXPECT_NE(refreshed.output.find("critical CRL extension 1.3.6.1.4.1.99999.7"), std::string::npos)
      << refreshed.output;
  const ShellResult synced = certbridge("sync --once");
  EXPECT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_EQ(readFile(out("crl.pem")), held) << "the CRL held stays in use";
  EXPECT_EQ(statusFor("bob"), 200);
  const ShellResult status = certbridge("status");
  EXPECT_NE(status.output.find("last fetch failed: "), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("critical CRL extension 1.3.6.1.4.1.99999.7"), std::string::npos)
      << status.output;
}

// With no CRL held, a refused one leaves the CA without a CRL: crl.missing decides.
TEST_F(RevocationEdge, ARefusedCrlWithNoneHeldFollowsCrlMissing) {
  serveIntermediateCrl(
      demoCa("intermediate")
          .crlDer(CrlSpec{
              .extensions = {RawExtension{"2.5.29.28", true, {0x30, 0x03, 0x84, 0x01, 0xff}}}}));
  const ShellResult refused = certbridge("sync --once");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("is an indirect CRL"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("no current CRL for 'CN=Demo Issuing CA"), std::string::npos)
      << refused.output;
  const ShellResult status = certbridge("status");
  EXPECT_NE(status.output.find("no CRL held: "), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("is an indirect CRL (issuingDistributionPoint indirectCRL)"),
            std::string::npos)
      << status.output;

  serveIntermediateCrl(
      demoCa("intermediate")
          .crlDer(CrlSpec{
              .extensions = {RawExtension{"2.5.29.28", true, {0x30, 0x03, 0x84, 0x01, 0xff}}}}),
      "[crl]\nmissing = omit\n");
  const ShellResult omitted = certbridge("sync --once");
  EXPECT_EQ(omitted.exit_code, 0) << omitted.output;
  EXPECT_NE(omitted.output.find("published WITHOUT ssl_crl"), std::string::npos) << omitted.output;
}

}  // namespace
}  // namespace certbridge::testing
