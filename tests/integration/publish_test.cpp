#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/integration/mtls_edge.h"

namespace certbridge::testing {
namespace {

namespace fs = std::filesystem;

using PublishToNginx = MtlsEdge;

TEST_F(PublishToNginx, NginxEnforcesExactlyTheTrustedClientList) {
  publishAndStartNginx();
  EXPECT_EQ(statusFor("alice"), 200) << "client of the trusted root";
  EXPECT_EQ(statusFor("bob"), 200) << "client of the intermediate";
  EXPECT_EQ(statusFor("mallory"), 400) << "client of a CA that is not trusted (TLS layer)";
  EXPECT_EQ(statusFor("stranger"), 403) << "trusted CA, but not on the trusted-client list";
  EXPECT_EQ(statusFor(""), 400) << "no client certificate at all";

  EXPECT_NE(readFile(out("mtls.conf")).find("ssl_verify_depth 2;"), std::string::npos);
  const std::string bundle = readFile(out("client-ca.pem"));
  EXPECT_EQ(countOccurrences(bundle, "BEGIN CERTIFICATE"), 2) << bundle;
  EXPECT_EQ(bundle.find("Untrusted"), std::string::npos);
}

TEST_F(PublishToNginx, LogGoesToTheConfiguredFileAsWell) {
  writeConfig("pid_file = " + nginx_->pidFile(), "auto",
              "[log]\nfile = " + root_.file("certbridge.log") + "\n");
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  const std::string log = readFile(root_.file("certbridge.log"));
  EXPECT_NE(log.find("Notice: published client-ca.pem"), std::string::npos) << log;
  EXPECT_NE(synced.output.find("Notice: published client-ca.pem"), std::string::npos)
      << "standard error still has it";
}

TEST_F(PublishToNginx, FilesAreWorldReadableAndHoldNoPrivateKey) {
  publishAndStartNginx();
  for (const char* name : {"client-ca.pem", "clients.map", "mtls.conf"}) {
    struct stat status {};
    ASSERT_EQ(::stat(out(name).c_str(), &status), 0) << name;
    EXPECT_EQ(status.st_mode & 0777, 0644u) << name;
    EXPECT_EQ(readFile(out(name)).find("PRIVATE KEY"), std::string::npos) << name;
  }
}

TEST_F(PublishToNginx, AClientRemovedFromTheStoreIsRefused) {
  publishAndStartNginx();
  ASSERT_EQ(statusFor("carol"), 200);
  ASSERT_EQ(demoPki("remove", "carol").exit_code, 0);
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_NE(synced.output.find("gone carol"), std::string::npos) << synced.output;
  EXPECT_EQ(waitForStatus(403, "carol"), 403);
  EXPECT_EQ(statusFor("alice"), 200);
}

TEST_F(PublishToNginx, AClientAddedToTheStoreIsAcceptedAfterSync) {
  publishAndStartNginx();
  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  EXPECT_EQ(statusFor("dave"), 403);
  ASSERT_EQ(demoPki("import", "dave").exit_code, 0);
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_EQ(waitForStatus(200, "dave"), 200);
}

TEST_F(PublishToNginx, AnUnchangedStoreWritesNothingAndDoesNotReload) {
  publishAndStartNginx();
  ASSERT_EQ(certbridge("sync --once").exit_code, 0);
  const auto map_time = fs::last_write_time(out("clients.map"));
  const auto reloads_before = countOccurrences(readFile(nginx_->errorLog()), "reconfiguring");

  writeConfig("pid_file = " + nginx_->pidFile(), "auto", "[log]\nlevel = debug\n");
  const ShellResult again = certbridge("sync --once");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nginx files unchanged"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("store demo unchanged since its last sync (not read)"),
            std::string::npos)
      << "an unchanged NSS database is not even opened\n"
      << again.output;
  EXPECT_EQ(fs::last_write_time(out("clients.map")), map_time);
  EXPECT_EQ(countOccurrences(readFile(nginx_->errorLog()), "reconfiguring"), reloads_before);
}

TEST_F(PublishToNginx, AHandEditedFileIsPutRightByTheNextSync) {
  publishAndStartNginx();
  const std::string map = readFile(out("clients.map"));
  writeFile(out("clients.map"), "map $ssl_client_fingerprint $certbridge_client { default 1; }\n");
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_NE(synced.output.find("published"), std::string::npos) << synced.output;
  EXPECT_EQ(readFile(out("clients.map")), map);
}

TEST_F(PublishToNginx, ReloadThroughTheConfiguredCommandWorksToo) {
  publishAndStartNginx();  // `nginx -s reload` needs a running nginx, so it comes second
  writeConfig("reload_command = " + nginx_->reloadCommand());
  ASSERT_EQ(demoPki("remove", "alice").exit_code, 0);
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_EQ(waitForStatus(403, "alice"), 403);
}

TEST_F(PublishToNginx, ManualStoreWaitsForApproval) {
  writeConfig("pid_file = " + nginx_->pidFile(), "manual");
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  nginx_->start();
  EXPECT_EQ(statusFor("alice"), 403) << "pending until a person approves";
  const ShellResult status = certbridge("status");
  EXPECT_NE(status.output.find("pending"), std::string::npos) << status.output;
}

TEST_F(PublishToNginx, BrokenNginxConfigKeepsTheOldFilesAndNginxServing) {
  publishAndStartNginx();
  const std::string map_before = readFile(out("clients.map"));
  const std::string good_config = readFile(nginx_->configFile());
  writeFile(
      nginx_->configFile(),
      std::string(good_config).insert(good_config.find("http {") + 6, "\n  bogus_directive on;"));

  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  ASSERT_EQ(demoPki("import", "dave").exit_code, 0);
  const ShellResult failed = certbridge("sync --once");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("unknown directive \"bogus_directive\""), std::string::npos)
      << failed.output;
  EXPECT_NE(failed.output.find("previous files restored"), std::string::npos) << failed.output;
  EXPECT_EQ(readFile(out("clients.map")), map_before);
  EXPECT_EQ(statusFor("alice"), 200) << "nginx keeps serving the old configuration";
  EXPECT_EQ(statusFor("dave"), 403);

  const ShellResult status = certbridge("status");
  EXPECT_EQ(status.exit_code, 1) << status.output;
  EXPECT_NE(status.output.find("failed"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("bogus_directive"), std::string::npos) << status.output;

  writeFile(nginx_->configFile(), good_config);
  const ShellResult fixed = certbridge("sync --once");
  EXPECT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_EQ(waitForStatus(200, "dave"), 200);
}

TEST_F(PublishToNginx, FailedReloadRestoresThePreviousFiles) {
  publishAndStartNginx();
  const std::string map_before = readFile(out("clients.map"));
  writeConfig("reload_command = sh -c 'echo reload refused >&2; exit 1'");
  ASSERT_EQ(demoPki("remove", "bob").exit_code, 0);
  const ShellResult failed = certbridge("sync --once");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("reload refused"), std::string::npos) << failed.output;
  EXPECT_EQ(readFile(out("clients.map")), map_before);
  EXPECT_EQ(statusFor("bob"), 200);
}

}  // namespace
}  // namespace certbridge::testing
