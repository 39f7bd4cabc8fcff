#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::testing {
namespace {

// Each test writes an nginx configuration under a temporary prefix that reproduces one fault (or
// does not), and runs the real `certbridge doctor --json` on it, which reads it with the real
// `nginx -T`. Endpoint tests start that nginx on a free loopback port.
class Doctor : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TestCertificate::issue({.common_name = "Doctor Root CA", .ca = true}, nullptr);
    intermediate_ =
        TestCertificate::issue({.common_name = "Doctor Issuing CA", .ca = true}, &*root_);
    client_ = TestCertificate::issue({.common_name = "client one"}, &*intermediate_);
    const auto server = TestCertificate::issue(
        {.common_name = "localhost", .extended_key_usage = "serverAuth"}, &*root_);
    writeFile(file("server.pem"), server.pem());
    writeFile(file("server.key"), server.keyPem());
    writeFile(file("client.pem"), client_->pem());
    writeFile(file("client.key"), client_->keyPem());
    writeFile(file("ca.pem"), root_->pem() + intermediate_->pem());
    writeCrls({{&*root_, week_}, {&*intermediate_, week_}});
    std::filesystem::create_directories(prefix() + "/logs");
    std::filesystem::create_directories(prefix() + "/conf");
    writeFile(dir_.file("certbridge.ini"),
              "[store.none]\ntype = nss\npath = sql:" + dir_.file("no-nssdb") +
                  "\n[nginx]\ndump_command = nginx -p " + prefix() + " -c " + configFile() +
                  " -T\n");
  }

  void TearDown() override {
    if (nginx_running_) {
      shell("nginx -p " + prefix() + " -c " + configFile() + " -s stop");
    }
  }

  std::string prefix() const { return dir_.file("nginx"); }
  std::string configFile() const { return prefix() + "/conf/nginx.conf"; }
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  void writeCrls(const std::vector<std::pair<const TestCertificate*, CrlSpec>>& crls) {
    std::string pem;
    for (const auto& [issuer, spec] : crls) {
      const std::vector<unsigned char> der = issuer->crlDer(spec);
      writeFile(file("one.crl"), std::string(der.begin(), der.end()));
      pem += shell("openssl crl -inform DER -in " + quoted(file("one.crl"))).output;
    }
    writeFile(file("crl.pem"), pem);
  }

  // A server on a free loopback port with `body` inside; `main` and `http` go at those levels.
  void writeNginx(const std::string& body, const std::string& http = "",
                  const std::string& main = "") {
    writeFile(configFile(),
              main + "pid " + prefix() + "/logs/nginx.pid;\nerror_log " + prefix() +
                  "/logs/error.log info;\nworker_processes 1;\nevents { worker_connections 64; }\n"
                  "http {\n  access_log off;\n" +
                  http + "  server {\n    listen 127.0.0.1:" + std::to_string(port_) +
                  " ssl;\n    server_name localhost;\n    ssl_certificate " + file("server.pem") +
                  ";\n    ssl_certificate_key " + file("server.key") + ";\n" + body +
                  (body.find("location") == std::string::npos
                       ? "    location / { return 200 \"ok\\n\"; }\n"
                       : "") +
                  "  }\n}\n");
  }

  // The set-up an expert would write: both CAs advertised, depth 2, CRLs of both.
  std::string goodServer() const {
    return "    ssl_verify_client on;\n    ssl_client_certificate " + file("ca.pem") +
           ";\n    ssl_verify_depth 2;\n    ssl_crl " + file("crl.pem") + ";\n";
  }

  void startNginx(const std::string& as_user = "") {
    const std::string command = "nginx -p " + prefix() + " -c " + configFile();
    const ShellResult started =
        shell(as_user.empty() ? command
                              : "setpriv --reuid " + as_user + " --regid $(id -g " + as_user +
                                    ") --clear-groups " + command);
    ASSERT_EQ(started.exit_code, 0) << started.output;
    nginx_running_ = true;
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (shell("curl -sk -o /dev/null --max-time 1 https://" + endpoint() + "/").exit_code != 7) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "nginx does not listen on " << endpoint();
  }

  struct DoctorRun {
    int exit_code = -1;
    std::string output;
    Poco::JSON::Object::Ptr json;
  };

  DoctorRun doctor(const std::string& arguments = "") const {
    const ShellResult result =
        shell(quoted(certbridgeBinary()) + " --config " + quoted(dir_.file("certbridge.ini")) +
              " doctor --json " + arguments + " 2>/dev/null");
    DoctorRun run{result.exit_code, result.output, nullptr};
    try {
      run.json = Poco::JSON::Parser().parse(result.output).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
      ADD_FAILURE() << "doctor did not print JSON:\n" << result.output;
    }
    return run;
  }

  // The check `id` of the first server, or of the top-level list when no server has it.
  static Poco::JSON::Object::Ptr findCheck(const DoctorRun& run, const std::string& id) {
    if (!run.json) {
      return nullptr;
    }
    std::vector<Poco::JSON::Array::Ptr> lists;
    const auto servers = run.json->getArray("servers");
    if (servers->size() > 0) {
      lists.push_back(servers->getObject(0)->getArray("checks"));
    }
    lists.push_back(run.json->getArray("checks"));
    for (const auto& list : lists) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        if (list->getObject(static_cast<unsigned>(i))->getValue<std::string>("id") == id) {
          return list->getObject(static_cast<unsigned>(i));
        }
      }
    }
    return nullptr;
  }

  static std::string statusOf(const DoctorRun& run, const std::string& id) {
    const auto found = findCheck(run, id);
    return found ? found->getValue<std::string>("status") : "(no check " + id + ")";
  }

  static std::string messageOf(const DoctorRun& run, const std::string& id) {
    const auto found = findCheck(run, id);
    return found ? found->getValue<std::string>("message") +
                       " | fix: " + found->getValue<std::string>("fix")
                 : "";
  }

  const CrlSpec week_{.next_update_offset = 7 * 86400};
  TempDir dir_;
  int port_ = freeLoopbackPort();
  bool nginx_running_ = false;
  std::optional<TestCertificate> root_;
  std::optional<TestCertificate> intermediate_;
  std::optional<TestCertificate> client_;
};

#define EXPECT_CHECK(run, id, status) \
  EXPECT_EQ(statusOf(run, id), status) << messageOf(run, id) << "\n" << (run).output

TEST_F(Doctor, ExpertSetUpPassesEveryCheckIncludingTheLiveOnes) {
  writeNginx(goodServer());
  startNginx();
  const DoctorRun run =
      doctor("--endpoint " + endpoint() + " --server-name localhost " + "--client-cert " +
             file("client.pem") + " --client-key " + file("client.key"));
  for (const char* id :
       {"client_ca_configured", "bundle_readable", "bundle_parses", "leaf_in_ca_file",
        "chain_complete", "verify_depth", "expiry", "ca_names_size", "crl_coverage",
        "optional_unchecked", "endpoint_ca_names", "endpoint_client"}) {
    EXPECT_CHECK(run, id, "pass");
  }
  EXPECT_EQ(run.exit_code, 0);
  const auto server = run.json->getArray("servers")->getObject(0);
  EXPECT_EQ(server->getValue<std::string>("listen"), endpoint());
  EXPECT_EQ(server->getValue<std::string>("server_name"), "localhost");
  EXPECT_NE(messageOf(run, "endpoint_ca_names").find("CN=Doctor Issuing CA"), std::string::npos);
  EXPECT_NE(messageOf(run, "endpoint_client").find("HTTP 200"), std::string::npos);

  // The human form says the same, one line per check.
  const ShellResult text = shell(quoted(certbridgeBinary()) + " --config " +
                                 quoted(dir_.file("certbridge.ini")) + " doctor");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("  PASS  verify_depth: ssl_verify_depth 2 ("), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("10 passed, 0 warning(s), 0 failed"), std::string::npos)
      << text.output;
}

TEST_F(Doctor, VerifyWithoutClientCertificateIsNginxsRefusalTranslated) {
  writeNginx("    ssl_verify_client on;\n    ssl_trusted_certificate " + file("ca.pem") + ";\n");
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "client_ca_configured", "fail");
  EXPECT_NE(messageOf(run, "client_ca_configured").find("ssl_trusted_certificate does not"),
            std::string::npos);
  EXPECT_EQ(run.json->getArray("servers")->size(), 0u);
  EXPECT_EQ(run.exit_code, 1);
}

TEST_F(Doctor, TrustedCertificateAloneAdvertisesNoNames) {
  writeNginx("    ssl_verify_client optional_no_ca;\n    ssl_trusted_certificate " +
             file("ca.pem") + ";\n    if ($ssl_client_verify != SUCCESS) { return 403; }\n");
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "client_ca_configured", "warn");
  EXPECT_NE(messageOf(run, "client_ca_configured").find("does not advertise CA names"),
            std::string::npos);
  EXPECT_CHECK(run, "optional_unchecked", "pass");

  startNginx();
  const DoctorRun live = doctor("--endpoint " + endpoint());
  EXPECT_CHECK(live, "endpoint_ca_names", "fail");
  EXPECT_NE(messageOf(live, "endpoint_ca_names").find("No client certificate CA names sent"),
            std::string::npos);
}

TEST_F(Doctor, MissingFilesAreNamed) {
  writeNginx("    ssl_verify_client on;\n    ssl_client_certificate " + file("ca.pem") +
             ";\n    ssl_crl " + file("missing-crl.pem") + ";\n");
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "bundle_readable", "fail");
  EXPECT_NE(messageOf(run, "bundle_readable").find(file("missing-crl.pem")), std::string::npos);
  EXPECT_EQ(run.exit_code, 1);
}

// nginx loads these files in its master process: what matters is whether the master's user can
// read them, not the workers'.
TEST_F(Doctor, FileTheUnprivilegedMasterCannotReadFails) {
  const bool root = ::getuid() == 0;
  const std::string master_user = root ? "nobody" : "";
  writeNginx(goodServer());
  if (root) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(prefix())) {
      shell("chown nobody " + quoted(entry.path().string()));
    }
    shell("chown nobody " + quoted(prefix()) + " && chmod 755 " + quoted(dir_.path().string()));
    for (const char* name : {"server.pem", "server.key", "ca.pem", "crl.pem"}) {
      shell("chown nobody " + quoted(file(name)));
    }
  }
  startNginx(master_user);
  DoctorRun run = doctor();
  EXPECT_CHECK(run, "bundle_readable", "pass");

  // Someone tightens the CA file: nginx keeps running, and fails at its next reload.
  shell(root ? "chown root " + quoted(file("ca.pem")) + " && chmod 600 " + quoted(file("ca.pem"))
             : "chmod 000 " + quoted(file("ca.pem")));
  run = doctor();
  EXPECT_CHECK(run, "bundle_readable", "fail");
  EXPECT_NE(messageOf(run, "bundle_readable").find("cannot read " + file("ca.pem")),
            std::string::npos);
  EXPECT_NE(messageOf(run, "bundle_readable").find("master"), std::string::npos);
  EXPECT_EQ(run.exit_code, 1);
}

TEST_F(Doctor, FileOnlyTheRootMasterCanReadIsFine) {
  if (::getuid() != 0) {
    GTEST_SKIP() << "needs root: the case is nginx's usual root master with workers as nobody";
  }
  writeNginx(goodServer(), "", "user nobody nogroup;\n");
  shell("chmod 600 " + quoted(file("ca.pem")));
  startNginx();
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "bundle_readable", "pass");
  EXPECT_NE(messageOf(run, "bundle_readable").find("not readable by the workers' user nobody"),
            std::string::npos);
  EXPECT_NE(messageOf(run, "bundle_readable").find("which is fine"), std::string::npos);
}

TEST_F(Doctor, GarbageBundleIsNginxsRefusalTranslated) {
  writeFile(file("ca.pem"), root_->pem() + "-----BEGIN CERTIFICATE-----\nnot base64!\n" +
                                "-----END CERTIFICATE-----\n");
  writeNginx(goodServer());
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "bundle_parses", "fail");
  EXPECT_NE(messageOf(run, "bundle_parses").find(file("ca.pem")), std::string::npos);
}

// nginx loads whatever PEM it finds in these files; a block of the wrong kind is named by its
// position.
TEST_F(Doctor, BlockOfTheWrongKindIsNamedByPosition) {
  writeFile(file("crl.pem"), readFile(file("crl.pem")) + root_->pem());
  writeNginx(goodServer());
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "bundle_parses", "fail");
  EXPECT_NE(messageOf(run, "bundle_parses").find(file("crl.pem") + " block 3 (line "),
            std::string::npos);
}

TEST_F(Doctor, ClientCertificateInTheCaFileIsExplained) {
  writeFile(file("ca.pem"), readFile(file("ca.pem")) + client_->pem());
  writeNginx(goodServer());
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "leaf_in_ca_file", "warn");
  EXPECT_NE(messageOf(run, "leaf_in_ca_file").find("does not restrict access"), std::string::npos);
  EXPECT_NE(messageOf(run, "leaf_in_ca_file").find("clients.map"), std::string::npos);
}

TEST_F(Doctor, ChainMustReachARootInEitherFile) {
  writeFile(file("ca.pem"), intermediate_->pem());
  writeNginx(goodServer());
  DoctorRun run = doctor();
  EXPECT_CHECK(run, "chain_complete", "fail");
  EXPECT_NE(messageOf(run, "chain_complete").find("CN=Doctor Root CA"), std::string::npos);
  // The intermediate counts, as a lower bound, even though its root is missing: never "0".
  EXPECT_NE(messageOf(run, "verify_depth").find("at least 1 intermediate CA(s)"), std::string::npos)
      << messageOf(run, "verify_depth");
  EXPECT_NE(messageOf(run, "verify_depth").find("lower bound"), std::string::npos);

  writeFile(file("root.pem"), root_->pem());
  writeNginx(goodServer() + "    ssl_trusted_certificate " + file("root.pem") + ";\n");
  run = doctor();
  EXPECT_CHECK(run, "chain_complete", "pass");
}

// OpenSSL (1.1 and later) counts only the intermediates between a client and its root: nginx's
// default depth 1 accepts a client of one intermediate and rejects a client of two.
TEST_F(Doctor, VerifyDepthCountsIntermediatesAsNginxDoes) {
  writeNginx("    ssl_verify_client on;\n    ssl_client_certificate " + file("ca.pem") + ";\n");
  startNginx();
  DoctorRun run = doctor("--endpoint " + endpoint() + " --client-cert " + file("client.pem") +
                         " --client-key " + file("client.key"));
  EXPECT_CHECK(run, "verify_depth", "pass");
  EXPECT_CHECK(run, "endpoint_client", "pass");

  const auto sub =
      TestCertificate::issue({.common_name = "Doctor Sub CA", .ca = true}, &*intermediate_);
  const auto deep = TestCertificate::issue({.common_name = "deep client"}, &sub);
  writeFile(file("ca.pem"), readFile(file("ca.pem")) + sub.pem());
  writeFile(file("deep.pem"), deep.pem());
  writeFile(file("deep.key"), deep.keyPem());
  shell("nginx -p " + prefix() + " -c " + configFile() + " -s stop");
  startNginx();
  run = doctor("--endpoint " + endpoint() + " --client-cert " + file("deep.pem") +
               " --client-key " + file("deep.key"));
  EXPECT_CHECK(run, "verify_depth", "fail");
  EXPECT_NE(messageOf(run, "verify_depth").find("nginx's default"), std::string::npos);
  EXPECT_NE(messageOf(run, "verify_depth").find("fix: ssl_verify_depth 2;"), std::string::npos);
  EXPECT_CHECK(run, "endpoint_client", "fail");
  // Past the depth, OpenSSL stops looking for issuers: nginx logs a missing issuer.
  EXPECT_NE(messageOf(run, "endpoint_client").find("verify error: (2:unable to get issuer"),
            std::string::npos)
      << messageOf(run, "endpoint_client");
}

TEST_F(Doctor, ExpiredAndExpiringCertificatesAreNamed) {
  const auto expired = TestCertificate::issue(
      {.common_name = "Old CA", .ca = true, .not_after_offset = -86400}, nullptr);
  writeFile(file("old.pem"), expired.pem());
  writeNginx(goodServer() + "    ssl_trusted_certificate " + file("old.pem") + ";\n");
  DoctorRun run = doctor();
  EXPECT_CHECK(run, "expiry", "fail");
  EXPECT_NE(messageOf(run, "expiry").find("'CN=Old CA,O=certbridge test'"), std::string::npos);

  const auto soon = TestCertificate::issue(
      {.common_name = "Soon CA", .ca = true, .not_after_offset = 10 * 86400}, nullptr);
  writeFile(file("old.pem"), soon.pem());
  run = doctor();
  EXPECT_CHECK(run, "expiry", "warn");
}

TEST_F(Doctor, CaNameListOverTheTlsLimitFails) {
  std::string bundle;
  const std::string long_name(60, 'n');
  for (int i = 0; i < 460; ++i) {
    bundle +=
        TestCertificate::issue(
            {.common_name = long_name + std::to_string(i), .organization = long_name, .ca = true},
            nullptr)
            .pem();
  }
  writeFile(file("ca.pem"), bundle);
  writeNginx("    ssl_verify_client on;\n    ssl_client_certificate " + file("ca.pem") + ";\n");
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "ca_names_size", "fail");
  EXPECT_NE(messageOf(run, "ca_names_size").find("ssl_trusted_certificate"), std::string::npos);
}

TEST_F(Doctor, EveryCaNeedsACurrentCorrectlySignedCrl) {
  writeCrls({{&*root_, week_}});
  writeNginx(goodServer());
  DoctorRun run = doctor();
  EXPECT_CHECK(run, "crl_coverage", "fail");
  EXPECT_NE(messageOf(run, "crl_coverage")
                .find("'CN=Doctor Issuing CA,O=certbridge test' has no "
                      "CRL"),
            std::string::npos);

  writeCrls({{&*root_, week_},
             {&*intermediate_, {.this_update_offset = -7200, .next_update_offset = -3600}}});
  run = doctor();
  EXPECT_CHECK(run, "crl_coverage", "fail");
  EXPECT_NE(messageOf(run, "crl_coverage").find("CRL has expired"), std::string::npos);

  // Same issuer name, another key: the signature does not verify.
  const auto impostor =
      TestCertificate::issue({.common_name = "Doctor Issuing CA", .ca = true}, nullptr);
  writeCrls({{&*root_, week_}, {&impostor, week_}});
  run = doctor();
  EXPECT_CHECK(run, "crl_coverage", "fail");

  // Within [crl] warning_margin (a day by default) of its nextUpdate.
  writeCrls({{&*root_, week_}, {&*intermediate_, {.next_update_offset = 3600}}});
  run = doctor();
  EXPECT_CHECK(run, "crl_coverage", "warn");

  writeNginx("    ssl_verify_client on;\n    ssl_client_certificate " + file("ca.pem") +
             ";\n    ssl_verify_depth 2;\n");
  run = doctor();
  EXPECT_CHECK(run, "crl_coverage", "warn");
}

TEST_F(Doctor, OptionalWithoutACheckLetsRequestsThrough) {
  const std::string optional = "    ssl_verify_client optional;\n    ssl_client_certificate " +
                               file("ca.pem") + ";\n    ssl_verify_depth 2;\n";
  writeNginx(optional + "    location / { return 200 \"ok\\n\"; }\n");
  DoctorRun run = doctor();
  EXPECT_CHECK(run, "optional_unchecked", "fail");
  EXPECT_NE(messageOf(run, "optional_unchecked").find("location /"), std::string::npos);

  writeNginx(optional + "    location / { proxy_set_header X-Verify $ssl_client_verify; " +
             "proxy_pass http://127.0.0.1:9; }\n");
  run = doctor();
  EXPECT_CHECK(run, "optional_unchecked", "warn");

  writeNginx(optional + "    location / {\n      if ($denied) { return 403; }\n" +
                 "      return 200 \"ok\\n\";\n    }\n",
             "  map $ssl_client_verify $denied { default 1; SUCCESS 0; }\n");
  run = doctor();
  EXPECT_CHECK(run, "optional_unchecked", "pass");
}

TEST_F(Doctor, RunningNginxThatWasNotReloadedSendsOldNames) {
  writeNginx(goodServer());
  startNginx();
  const auto other = TestCertificate::issue({.common_name = "Added Later CA", .ca = true}, nullptr);
  writeFile(file("ca.pem"), readFile(file("ca.pem")) + other.pem());
  writeCrls({{&*root_, week_}, {&*intermediate_, week_}, {&other, week_}});
  const DoctorRun run = doctor("--endpoint " + endpoint());
  EXPECT_CHECK(run, "endpoint_ca_names", "warn");
  EXPECT_NE(messageOf(run, "endpoint_ca_names").find("not sent: CN=Added Later CA"),
            std::string::npos);
  EXPECT_NE(messageOf(run, "endpoint_ca_names").find("nginx -s reload"), std::string::npos);
}

TEST_F(Doctor, RejectedClientGetsNginxsOwnReason) {
  writeNginx(goodServer());
  startNginx();
  const auto stranger_root =
      TestCertificate::issue({.common_name = "Stranger Root", .ca = true}, nullptr);
  const auto stranger = TestCertificate::issue({.common_name = "stranger"}, &stranger_root);
  writeFile(file("stranger.pem"), stranger.pem());
  writeFile(file("stranger.key"), stranger.keyPem());
  const DoctorRun run = doctor("--endpoint " + endpoint() + " --client-cert " +
                               file("stranger.pem") + " --client-key " + file("stranger.key"));
  EXPECT_CHECK(run, "endpoint_client", "fail");
  const std::string message = messageOf(run, "endpoint_client");
  EXPECT_NE(message.find("HTTP 400 \"The SSL certificate error\""), std::string::npos) << message;
  EXPECT_NE(message.find("client SSL certificate verify error"), std::string::npos) << message;
  EXPECT_EQ(run.exit_code, 1);
  // The key is used for the handshake only: it appears nowhere in what doctor prints.
  EXPECT_EQ(run.output.find("PRIVATE KEY"), std::string::npos);
}

TEST_F(Doctor, BadUsageExitsTwo) {
  writeNginx(goodServer());
  for (const auto& [arguments, says] :
       {std::pair{"--client-cert x.pem", "--client-cert and --client-key go together"},
        {"--client-cert x.pem --client-key x.key", "needs --endpoint"},
        {"--endpoint nowhere", "--endpoint takes HOST:PORT"},
        {"--endpoint 127.0.0.1:99999999999", "port from 1 to 65535"},
        {"--endpoint 127.0.0.1:0", "not '127.0.0.1:0'"},
        {"--endpoint 127.0.0.1:-443", "--endpoint takes HOST:PORT"},
        {"--frobnicate", "'doctor' does not take '--frobnicate'"}}) {
    const ShellResult run = shell(quoted(certbridgeBinary()) + " --config " +
                                  quoted(dir_.file("certbridge.ini")) + " doctor " + arguments);
    EXPECT_EQ(run.exit_code, 2) << arguments;
    EXPECT_NE(run.output.find(says), std::string::npos) << run.output;
  }
}

// A new user's first run: no configuration file at all, the `nginx` on PATH (here a wrapper that
// points the real nginx at the test's prefix).
TEST_F(Doctor, WorksWithoutAConfigurationFile) {
  if (std::filesystem::exists("/etc/certbridge/certbridge.ini")) {
    GTEST_SKIP() << "/etc/certbridge/certbridge.ini exists on this machine, so doctor would use it";
  }
  writeNginx("    ssl_verify_client on;\n    ssl_client_certificate " + file("ca.pem") + ";\n");
  std::filesystem::create_directories(file("bin"));
  std::string nginx = shell("command -v nginx").output;
  nginx.erase(nginx.find_last_not_of('\n') + 1);
  writeFile(file("bin/nginx"),
            "#!/bin/sh\nexec " + nginx + " -p " + prefix() + " -c " + configFile() + " \"$@\"\n");
  ::chmod(file("bin/nginx").c_str(), 0755);
  const ShellResult run =
      shell("PATH=" + quoted(file("bin")) + ":$PATH " + quoted(certbridgeBinary()) + " doctor");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("  PASS  verify_depth: ssl_verify_depth 1 (nginx's default)"),
            std::string::npos)
      << run.output;
}

TEST_F(Doctor, DumpCommandThatIsNotNginxIsAClearFailure) {
  writeFile(dir_.file("certbridge.ini"),
            "[store.none]\ntype = nss\npath = sql:/x\n"
            "[nginx]\ndump_command = true\n");
  const DoctorRun run = doctor();
  EXPECT_CHECK(run, "nginx_config", "fail");
  EXPECT_NE(messageOf(run, "nginx_config").find("nginx -T"), std::string::npos);
}

}  // namespace
}  // namespace certbridge::testing
