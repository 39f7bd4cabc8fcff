#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/integration/mtls_edge.h"
#include "tests/support/http_server.h"

namespace certbridge::testing {
namespace {

using namespace std::chrono_literals;

class CrlEdge : public MtlsEdge {
 protected:
  // A new CRL for `issuer` made by the demo PKI's own `openssl ca`, valid for `seconds`.
  std::vector<unsigned char> freshCrl(const std::string& issuer, int seconds) {
    const ShellResult made = shell(
        "openssl ca -config " + quoted(pki(issuer + ".ca.cnf")) + " -gencrl -crlsec " +
        std::to_string(seconds) + " -keyfile " + quoted(pki(issuer + ".key")) + " -cert " +
        quoted(pki(issuer + ".pem")) + " -out " + quoted(pki(issuer + ".http.crl")) + " 2>&1");
    EXPECT_EQ(made.exit_code, 0) << made.output;
    const std::string pem = readFile(pki(issuer + ".http.crl"));
    return std::vector<unsigned char>(pem.begin(), pem.end());
  }

  ShellResult removeStoreCrl(const std::string& issuer) {
    return shell("crlutil -D -d sql:" + quoted(nssdb()) + " -n " + issuer);
  }
};

TEST_F(CrlEdge, StoreCrlsArePublishedForEveryCaInTheBundle) {
  publishAndStartNginx();
  EXPECT_NE(readFile(out("mtls.conf")).find("ssl_crl \"" + out("crl.pem") + "\";"),
            std::string::npos);
  EXPECT_EQ(countOccurrences(readFile(out("crl.pem")), "BEGIN X509 CRL"), 2);
  EXPECT_EQ(statusFor("bob"), 200) << "CRLs for the intermediate and the root are both there";
  const ShellResult status = certbridge("status");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_EQ(countOccurrences(status.output, "from store:demo"), 2) << status.output;
}

TEST_F(CrlEdge, ARevokedClientIsRefusedAfterTheRefresh) {
  publishAndStartNginx();
  ASSERT_EQ(statusFor("bob"), 200);
  ASSERT_EQ(demoPki("revoke", "bob intermediate").exit_code, 0);
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_NE(
      synced.output.find("trusted client demo/bob is left out of clients.map: 'CN=bob,O=certbridge "
                         "demo' (serial "),
      std::string::npos)
      << synced.output;
  EXPECT_EQ(waitForStatus(400, "bob"), 400) << "nginx rejects the revoked certificate";
  EXPECT_EQ(statusFor("carol"), 200);

  const std::string bob_sha1 = fingerprint("bob", "sha1");
  EXPECT_EQ(readFile(out("clients.map")).find(bob_sha1), std::string::npos)
      << "a revoked client is left out of clients.map as well";
  const ShellResult status = certbridge("status");
  EXPECT_NE(status.output.find("revoked  client    CN=bob"), std::string::npos) << status.output;
}

// The nginx fact behind "one CRL for every CA": with ssl_crl set, a client of the intermediate
// needs the root's CRL too. certbridge never publishes such a partial set.
TEST_F(CrlEdge, AClientOfAnIntermediateNeedsTheCrlsOfBothCas) {
  publishAndStartNginx();
  ASSERT_EQ(statusFor("bob"), 200);
  writeFile(out("crl.pem"), readFile(pki("intermediate.crl.pem")));
  ASSERT_EQ(shell(nginx_->reloadCommand()).exit_code, 0);
  EXPECT_EQ(waitForStatus(400, "bob"), 400) << "only the intermediate's CRL: nginx refuses";

  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_EQ(countOccurrences(readFile(out("crl.pem")), "BEGIN X509 CRL"), 2);
  EXPECT_EQ(waitForStatus(200, "bob"), 200) << "both CRLs published again";
}

class MissingCrlEdge : public CrlEdge {
 protected:
  void SetUp() override {
    CrlEdge::SetUp();
    const ShellResult removed = removeStoreCrl("root");
    ASSERT_EQ(removed.exit_code, 0) << removed.output;
  }
};

TEST_F(MissingCrlEdge, RefuseKeepsEverythingAndRaisesTheAlarm) {
  const ShellResult synced = certbridge("sync --once");
  EXPECT_EQ(synced.exit_code, 1);
  EXPECT_NE(synced.output.find("no current CRL for 'CN=Demo Root CA,O=certbridge demo' (no CRL "
                               "held)"),
            std::string::npos)
      << synced.output;
  EXPECT_FALSE(std::filesystem::exists(out("mtls.conf"))) << "nothing published";
  const ShellResult status = certbridge("status");
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.output.find("ERROR    CN=Demo Root CA"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("no CRL held"), std::string::npos) << status.output;
}

TEST_F(MissingCrlEdge, OmitPublishesWithoutSslCrlAndRaisesTheAlarm) {
  writeConfig("pid_file = " + nginx_->pidFile(), "auto", "[crl]\nmissing = omit\n");
  const ShellResult synced = certbridge("sync --once");
  EXPECT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_NE(synced.output.find("published WITHOUT ssl_crl"), std::string::npos) << synced.output;
  EXPECT_EQ(readFile(out("mtls.conf")).find("ssl_crl"), std::string::npos);
  nginx_->start();
  EXPECT_EQ(statusFor("bob"), 200);
  EXPECT_EQ(certbridge("status").exit_code, 1) << "a missing CRL is an error in status";
}

TEST_F(MissingCrlEdge, CrlRefreshFetchesAConfiguredUrlNow) {
  TestHttpServer server;
  server.set("/root.crl", HttpReply{.body = freshCrl("root", 3600)});
  writeConfig("pid_file = " + nginx_->pidFile(), "auto",
              "[crl.urls]\n" + fingerprint("root") + " = " + server.url("/root.crl") + "\n");
  const ShellResult refreshed = certbridge("crl refresh --ca " + fingerprint("root"));
  EXPECT_EQ(refreshed.exit_code, 0) << refreshed.output;
  EXPECT_EQ(server.requests("/root.crl"), 1);
  EXPECT_NE(refreshed.output.find("CRL for 'CN=Demo Root CA,O=certbridge demo' updated from " +
                                  server.url("/root.crl")),
            std::string::npos)
      << refreshed.output;
  nginx_->start();
  EXPECT_EQ(statusFor("bob"), 200);

  EXPECT_EQ(certbridge("crl refresh --ca nothex").exit_code, 2);
  EXPECT_EQ(certbridge("crl").exit_code, 2);
}

// Seconds-long CRLs: the agent must fetch the next one before the current one expires, with
// no sync interval to help (interval = 3600).
TEST_F(CrlEdge, TheSchedulerReplacesACrlBeforeItExpires) {
  ASSERT_EQ(removeStoreCrl("intermediate").exit_code, 0);
  TestHttpServer server;
  server.set("/intermediate.crl", std::function<HttpReply()>([&] {
               return HttpReply{.body = freshCrl("intermediate", 12)};
             }));
  writeConfig("pid_file = " + nginx_->pidFile(), "auto",
              "[sync]\ninterval = 3600\n[crl]\nmin_lead = 1\nretry_initial = 1\n[crl.urls]\n" +
                  fingerprint("intermediate") + " = " + server.url("/intermediate.crl") + "\n");
  publishAndStartNginx();
  ASSERT_EQ(server.requests("/intermediate.crl"), 1);
  const std::string log = root_.file("run.log");
  const ShellResult started =
      shell(quoted(certbridgeBinary()) + " --config " + quoted(configFile()) + " run > " +
            quoted(log) + " 2>&1 & echo $!");
  const std::string pid = started.output.substr(0, started.output.find('\n'));

  // The first CRL is valid for 12 s; 80 % is 9.6 s. Wait for the second fetch, up to 30 s.
  int fetches = server.requests("/intermediate.crl");
  for (int i = 0; i < 300 && fetches < 3; ++i) {
    std::this_thread::sleep_for(100ms);
    fetches = server.requests("/intermediate.crl");
  }
  const ShellResult status = certbridge("status --json");
  shell("kill -TERM " + pid);
  EXPECT_GE(fetches, 3) << readFile(log);
  EXPECT_NE(readFile(log).find("CRL for 'CN=Demo Issuing CA,O=certbridge demo' updated"),
            std::string::npos)
      << readFile(log);
  EXPECT_EQ(statusFor("bob"), 200) << "the CRL in use never expired";
  writeFile(root_.file("status.json"), status.output);
  const ShellResult checked = shell(
      "python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); "
      "c=[c for c in s[\"crls\"] if c[\"ca_subject\"].startswith(\"CN=Demo Issuing\")][0]; "
      "print(int(c[\"crl_number\"], 16) >= 3, c[\"seconds_left\"] > 0, c[\"level\"] != "
      "\"error\")' " +
      quoted(root_.file("status.json")));
  EXPECT_EQ(checked.output, "True True True\n") << status.output;
}

}  // namespace
}  // namespace certbridge::testing
