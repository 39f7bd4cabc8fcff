#include "tests/integration/mtls_edge.h"

#include <filesystem>

namespace certbridge::testing {

void MtlsEdge::SetUp() {
  const ShellResult made = demoPki("init");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  nginx_ = std::make_unique<NginxServer>(root_.path() / "nginx", pki("server.pem"),
                                         pki("server.key"), root_.file("out"));
  writeConfig("pid_file = " + nginx_->pidFile());
}

void MtlsEdge::writeConfig(const std::string& nginx_reload_line, const std::string& policy,
                           const std::string& extra) {
  writeFile(configFile(), "[storage]\npath = " + database() +
                              "\nbusy_timeout_ms = 1000\n"
                              "[store.demo]\ntype = nss\npath = sql:" +
                              nssdb() + "\npolicy = " + policy +
                              "\n"
                              "[nginx]\noutput_dir = " +
                              root_.file("out") + "\ntest_command = " + nginx_->testCommand() +
                              "\n" + nginx_reload_line + "\n[web]\nlisten = 127.0.0.1:0\n" + extra);
}

ShellResult MtlsEdge::certbridge(const std::string& arguments) const {
  return shell(quoted(certbridgeBinary()) + " --config " + quoted(configFile()) + " " + arguments);
}

ShellResult MtlsEdge::demoPki(const std::string& command, const std::string& arguments) const {
  return shell(quoted(sourceDir() + "/scripts/demo-pki") + " " + command + " " +
               quoted(root_.file("pki")) + " " + arguments);
}

std::string MtlsEdge::fingerprint(const std::string& name, const std::string& digest) const {
  return shell("openssl x509 -noout -fingerprint -" + digest + " -in " +
               quoted(pki(name + ".pem")) + " | cut -d= -f2 | tr -d ':\\n' | tr A-F a-f")
      .output;
}

void MtlsEdge::publishAndStartNginx() {
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  nginx_->start();
}

int MtlsEdge::statusFor(const std::string& client) const {
  return client.empty()
             ? nginx_->statusFor("", "", pki("root.pem"))
             : nginx_->statusFor(pki(client + ".pem"), pki(client + ".key"), pki("root.pem"));
}

int MtlsEdge::waitForStatus(int expected, const std::string& client) const {
  return client.empty() ? nginx_->waitForStatus(expected, "", "", pki("root.pem"))
                        : nginx_->waitForStatus(expected, pki(client + ".pem"),
                                                pki(client + ".key"), pki("root.pem"));
}

}  // namespace certbridge::testing
