// A daemon that runs as root for years (issue 17): bounded commands, SIGHUP only to nginx, the
// publish window, and numbers with ranges; against a real nginx and the real certbridge binary.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "agent/nginx/nginx_publisher.h"
#include "tests/integration/mtls_edge.h"

namespace certbridge::testing {
namespace {

class DaemonSafety : public MtlsEdge {
 protected:
  // The edge's configuration with other [nginx] keys (the test command among them).
  void writeNginxSection(const std::string& nginx_keys) {
    writeFile(configFile(), "[storage]\npath = " + database() +
                                "\n[store.demo]\ntype = nss\npath = sql:" + nssdb() +
                                "\n[nginx]\noutput_dir = " + root_.file("out") + "\n" + nginx_keys +
                                "\n[web]\nlisten = 127.0.0.1:0\n");
  }

  // A real program that is not nginx, as a stale or forged pid file would name it.
  long startSleeper() {
    const ShellResult started = shell("sleep 600 >/dev/null 2>&1 & echo $!");
    EXPECT_EQ(started.exit_code, 0) << started.output;
    sleeper_ = std::stol(started.output);
    return sleeper_;
  }

  void TearDown() override {
    if (sleeper_ > 0) {
      ::kill(static_cast<pid_t>(sleeper_), SIGKILL);
    }
  }

  long sleeper_ = 0;
};

TEST_F(DaemonSafety, ATestCommandPastItsDeadlineIsKilledAndNothingIsPublished) {
  publishAndStartNginx();
  const std::string map_before = readFile(out("clients.map"));
  writeNginxSection(
      "test_command = sh -c 'sleep 600 & sleep 600'\ncommand_timeout = 1\npid_file = " +
      nginx_->pidFile());
  ASSERT_EQ(demoPki("remove", "alice").exit_code, 0);

  const ShellResult failed = certbridge("sync --once");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("timed out after 1 s"), std::string::npos) << failed.output;
  EXPECT_EQ(readFile(out("clients.map")), map_before) << "previous files restored";
  EXPECT_EQ(statusFor("alice"), 200) << "nothing reloaded";

  const ShellResult status = certbridge("status");
  EXPECT_EQ(status.exit_code, 1) << status.output;
  EXPECT_NE(status.output.find("timed out after 1 s"), std::string::npos) << status.output;
}

TEST_F(DaemonSafety, APidFileNamingAnotherProgramIsNotSignalled) {
  publishAndStartNginx();
  const std::string map_before = readFile(out("clients.map"));
  const long sleeper = startSleeper();
  writeFile(root_.file("forged.pid"), std::to_string(sleeper) + "\n");
  writeConfig("pid_file = " + root_.file("forged.pid"));
  ASSERT_EQ(demoPki("remove", "alice").exit_code, 0);

  const ShellResult failed = certbridge("sync --once");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("pid " + std::to_string(sleeper) + " from " +
                               root_.file("forged.pid") + " is 'sleep 600'"),
            std::string::npos)
      << failed.output;
  EXPECT_EQ(::kill(static_cast<pid_t>(sleeper), 0), 0) << "the sleep survived";
  EXPECT_EQ(readFile(out("clients.map")), map_before) << "previous files restored";

  // The real nginx master from its own pid file is signalled, and reloads.
  writeConfig("pid_file = " + nginx_->pidFile());
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_EQ(waitForStatus(403, "alice"), 403);
}

TEST_F(DaemonSafety, DoctorGivesUpOnADumpCommandPastItsDeadline) {
  writeNginxSection("dump_command = sh -c 'sleep 600'\ncommand_timeout = 1");
  const ShellResult doctor = certbridge("doctor");
  EXPECT_EQ(doctor.exit_code, 1) << doctor.output;
  EXPECT_NE(doctor.output.find("did not finish"), std::string::npos) << doctor.output;
  EXPECT_NE(doctor.output.find("timed out after 1 s"), std::string::npos) << doctor.output;
}

TEST_F(DaemonSafety, AbsurdNumbersExitTwoNamingKeyValueAndRange) {
  for (const auto& [section, line, range] :
       {std::tuple{"sync", "interval = 9223372037", "from 1 to 604800"},
        std::tuple{"web", "session_timeout = 9223372036854775807", "from 60 to 2592000"}}) {
    writeConfig("pid_file = " + nginx_->pidFile(), "auto",
                std::string("[") + section + "]\n" + line + "\n");
    const ShellResult result = certbridge("sync --once");
    EXPECT_EQ(result.exit_code, 2) << result.output;
    const std::string key =
        std::string(section) + "." + std::string(line).substr(0, std::string(line).find(' '));
    const std::string value = std::string(line).substr(std::string(line).find("= ") + 2);
    EXPECT_NE(result.output.find("key '" + key + "' is '" + value + "'; expected a whole number " +
                                 range),
              std::string::npos)
        << result.output;
  }
}

// The files are renamed into place before `nginx -t` checks them (see the README, "What
// publishing guarantees"): this measures that window with a real nginx -t.
TEST_F(DaemonSafety, TheUntestedWindowIsOneRealNginxTest) {
  publishAndStartNginx();
  agent::NginxPublisher publisher({.output_dir = root_.file("out"),
                                   .test_command = nginx_->testCommand(),
                                   .reload_command = "",
                                   .pid_file = nginx_->pidFile()});
  std::vector<agent::OutputFile> files;
  for (const char* name : {"client-ca.pem", "clients.map", "mtls.conf"}) {
    files.push_back({name, readFile(out(name)) + "# changed\n"});
  }
  const agent::PublishOutcome outcome = publisher.publish(files);
  ASSERT_EQ(outcome.result, agent::PublishOutcome::Result::published) << outcome.detail;
  EXPECT_GT(outcome.untested_window.count(), 0);
  std::printf("files in place untested for %.1f ms (three files, one nginx -t)\n",
              static_cast<double>(outcome.untested_window.count()) / 1000.0);
}

}  // namespace
}  // namespace certbridge::testing
