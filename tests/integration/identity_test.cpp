#include <gtest/gtest.h>

#include <sstream>

#include "tests/integration/mtls_edge.h"
#include "tests/support/http_server.h"

namespace certbridge::testing {
namespace {

// nginx in front of a loopback backend that echoes the headers it receives, with
// mtls-proxy.conf included in the proxying location.
class BackendIdentity : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    backend_.set("/backend/", HttpReply{.echo_headers = true});
    nginx_ = std::make_unique<NginxServer>(root_.path() / "nginx", pki("server.pem"),
                                           pki("server.key"), root_.file("out"), backend_.port());
    writeConfig("pid_file = " + nginx_->pidFile());
  }

  std::string backendSees(const std::string& client, const std::string& curl_arguments = "") {
    return nginx_->bodyFor("/backend/", pki(client + ".pem"), pki(client + ".key"), pki("root.pem"),
                           curl_arguments);
  }

  TestHttpServer backend_;
};

TEST_F(BackendIdentity, BackendGetsTheVerifiedIdentityAndNeverWhatTheClientSent) {
  publishAndStartNginx();
  const std::string headers =
      backendSees("bob",
                  "-H 'X-Client-Name: admin' -H 'X-Client-Verify: SUCCESS-forged' "
                  "-H 'X-Client-Fingerprint: 0000'");
  EXPECT_NE(headers.find("X-Client-Name: bob\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Client-Verify: SUCCESS\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Client-DN: CN=bob,O=certbridge demo\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Client-Fingerprint: " + fingerprint("bob", "sha1") + "\n"),
            std::string::npos)
      << headers;
  EXPECT_NE(headers.find("X-Client-Serial: "), std::string::npos) << headers;
  EXPECT_EQ(headers.find("admin"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("forged"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("0000"), std::string::npos) << headers;
  // A client of a trusted CA that is not on the list never reaches the backend.
  EXPECT_EQ(backend_.requests("/backend/"), 1);
  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  EXPECT_EQ(backendSees("dave").find("X-Client-Name"), std::string::npos);
  EXPECT_EQ(backend_.requests("/backend/"), 1);
}

// Nothing in a certificate's subject or a store's nickname can change what nginx reads:
// certbridge's files with such a client pass real `nginx -t` (the publish runs it), and nginx
// serves the client under its reduced name.
TEST_F(BackendIdentity, HostileSubjectAndNicknameCannotChangeNginxsConfiguration) {
  const std::string hostile = "x\";} default ok; { $host \\\\ \n }";
  const std::string subject = "/O=certbridge demo/CN=eve" + hostile;
  const ShellResult issued = shell(
      "cd " + quoted(pki("")) + " && openssl genpkey -algorithm EC -pkeyopt " +
      "ec_paramgen_curve:P-256 -out eve.key && openssl req -new -key eve.key -subj " +
      quoted(subject) + " -out eve.csr && printf 'basicConstraints=CA:FALSE\\n" +
      "extendedKeyUsage=clientAuth\\n' > eve.ext && openssl x509 -req -in eve.csr -CA root.pem " +
      "-CAkey root.key -days 30 -extfile eve.ext -set_serial 0x5e5e -out eve.pem && certutil -A " +
      "-d sql:nssdb -t ,, -n " + quoted("eve" + hostile) + " -i eve.pem");
  ASSERT_EQ(issued.exit_code, 0) << issued.output;

  publishAndStartNginx();
  // The hostile text may only stand in comments, each on its own line.
  std::string directives;
  for (const char* file : {"clients.map", "mtls.conf", "client-ca.pem"}) {
    std::istringstream lines(readFile(out(file)));
    for (std::string line; std::getline(lines, line);) {
      directives += line.substr(0, line.find('#')) + "\n";
    }
  }
  EXPECT_EQ(directives.find("default ok"), std::string::npos) << directives;
  EXPECT_EQ(directives.find("$host"), std::string::npos) << directives;
  EXPECT_EQ(countOccurrences(directives, "{"), 2) << directives;  // the map and mtls.conf's if
  const std::string headers = backendSees("eve");
  EXPECT_NE(headers.find("X-Client-Name: evex-default-ok-host\n"), std::string::npos) << headers;
  EXPECT_NE(headers.find("X-Client-DN: CN=evex\\\"\\;} default ok\\; { $host"), std::string::npos)
      << headers;
  EXPECT_EQ(statusFor("stranger"), 403);
}

}  // namespace
}  // namespace certbridge::testing
