#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "tests/integration/mtls_edge.h"
#include "tests/support/notify_socket.h"

namespace certbridge::testing {
namespace {

// `certbridge run` in the background, with an interval far longer than the test: only the
// store watch can make it publish in time.
class RunCommand : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    writeConfig("pid_file = " + nginx_->pidFile(), "auto", "[sync]\ninterval = 3600\n");
    publishAndStartNginx();
    beforeAgentStarts();
    const ShellResult started =
        shell(agentEnvironment() + quoted(certbridgeBinary()) + " --config " +
              quoted(configFile()) + " run > " + quoted(root_.file("run.log")) + " 2>&1 & echo $!");
    agent_pid_ = std::stoi(started.output);
    waitForLog("running:");
  }

  void TearDown() override { stopAgent(); }

  int stopAgent() {
    if (agent_pid_ == 0) {
      return 0;
    }
    const ShellResult stopped =
        shell("kill -TERM " + std::to_string(agent_pid_) + "; for i in $(seq 100); do kill -0 " +
              std::to_string(agent_pid_) + " 2>/dev/null || exit 0; sleep 0.1; done; exit 1");
    agent_pid_ = 0;
    return stopped.exit_code;
  }

  // Waits until `text` appears `times` times in the agent's log.
  void waitForLog(const std::string& text, int times = 1) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (countOccurrences(readFile(root_.file("run.log")), text) >= times) {
        return;
      }
      shell("sleep 0.05");
    }
    FAIL() << "'" << text << "' never appeared in the agent's log:\n"
           << readFile(root_.file("run.log"));
  }

  virtual void beforeAgentStarts() {}

  // How many publishes that reloaded nginx the agent has logged so far.
  int publishedCount() {
    return countOccurrences(readFile(root_.file("run.log")), "reloaded nginx\n");
  }

  // Variables to start the agent with, as "NAME=value " words.
  virtual std::string agentEnvironment() const { return ""; }

  int agent_pid_ = 0;
};

// As systemd starts it with Type=notify and WatchdogSec=1.
class RunUnderSystemd : public RunCommand {
 protected:
  std::string agentEnvironment() const override {
    return "NOTIFY_SOCKET=" + quoted(notify_.name()) + " WATCHDOG_USEC=1000000 ";
  }

  NotifySocket notify_{root_.file("notify.sock")};
};

TEST_F(RunCommand, PublishesAStoreChangeWithoutWaitingForTheInterval) {
  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  ASSERT_EQ(statusFor("dave"), 403);

  const auto added = std::chrono::steady_clock::now();
  ASSERT_EQ(demoPki("import", "dave").exit_code, 0);
  EXPECT_EQ(waitForStatus(200, "dave"), 200) << readFile(root_.file("run.log"));
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - added);
  // A figure for the reader, not an assertion: timings belong to ./scripts/bench.
  std::printf("change to enforcement: %.3f s\n", elapsed.count());
  RecordProperty("change_to_enforcement_ms", static_cast<int>(elapsed.count() * 1000));

  ASSERT_EQ(demoPki("remove", "dave").exit_code, 0);
  // Wait for the agent first: just after a reload an old nginx worker may still answer with
  // the configuration before dave was added.
  waitForLog("published clients.map and reloaded nginx\n", 2);
  EXPECT_EQ(waitForStatus(403, "dave"), 403) << readFile(root_.file("run.log"));

  const std::string log = readFile(root_.file("run.log"));
  EXPECT_NE(log.find("store change detected"), std::string::npos) << log;
  EXPECT_NE(log.find("store demo: added dave"), std::string::npos) << log;
  EXPECT_NE(log.find("store demo: gone dave"), std::string::npos) << log;
  EXPECT_NE(log.find("published clients.map and reloaded nginx"), std::string::npos) << log;
}

TEST_F(RunCommand, StopsCleanlyOnSigterm) {
  EXPECT_EQ(stopAgent(), 0) << "the agent did not exit within 10 s of SIGTERM";
  EXPECT_NE(readFile(root_.file("run.log")).find("certbridge stopping"), std::string::npos);
}

TEST_F(RunUnderSystemd, ReportsReadyWatchdogAndStoppingToSystemd) {
  // READY comes after the first sync: its warning about mallory is already in the log.
  EXPECT_EQ(notify_.receive(10), "READY=1");
  EXPECT_NE(readFile(root_.file("run.log")).find("mallory"), std::string::npos)
      << readFile(root_.file("run.log"));
  EXPECT_EQ(notify_.receive(), "WATCHDOG=1");
  EXPECT_EQ(notify_.receive(), "WATCHDOG=1") << "pinged again within the watchdog interval";
  ASSERT_EQ(stopAgent(), 0);
  std::string last;
  for (std::string message = notify_.receive(); message != "(nothing)";
       message = notify_.receive()) {
    last = message;
  }
  EXPECT_EQ(last, "STOPPING=1");
}

TEST_F(RunCommand, KeepsRunningThroughAFailedSync) {
  writeFile(nssdb() + "/cert9.db.tmp", std::string(16384, 'Z'));
  ASSERT_EQ(shell("mv " + quoted(nssdb() + "/cert9.db.tmp") + " " + quoted(nssdb() + "/cert9.db"))
                .exit_code,
            0);
  waitForLog("cannot open NSS database");
  EXPECT_EQ(statusFor("alice"), 200) << "published files untouched";
  EXPECT_EQ(shell("kill -0 " + std::to_string(agent_pid_)).exit_code, 0) << "agent still running";
}

// Config management writes a new NSS database folder and renames it into place: the running
// agent picks up what the new folder holds, and watches the new folder from then on.
TEST_F(RunCommand, PicksUpAStoreFolderReplacedByRename) {
  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  const std::string replacement = nssdb() + ".new";
  ASSERT_EQ(shell("cp -a " + quoted(nssdb()) + " " + quoted(replacement) + " && certutil -A -d " +
                  quoted("sql:" + replacement) + " -n dave -t ,, -i " + quoted(pki("dave.pem")))
                .exit_code,
            0);
  const int published = publishedCount();
  ASSERT_EQ(shell("mv " + quoted(nssdb()) + " " + quoted(nssdb() + ".old") + " && mv " +
                  quoted(replacement) + " " + quoted(nssdb()))
                .exit_code,
            0);
  EXPECT_EQ(waitForStatus(200, "dave"), 200) << readFile(root_.file("run.log"));
  waitForLog("reloaded nginx\n", published + 1);

  // The folder now in place is the one watched: removing dave from it is published too.
  ASSERT_EQ(shell("certutil -D -d " + quoted("sql:" + nssdb()) + " -n dave").exit_code, 0);
  waitForLog("store demo: gone dave");
  waitForLog("reloaded nginx\n", published + 2);
  EXPECT_EQ(waitForStatus(403, "dave"), 403) << readFile(root_.file("run.log"));
}

// The store's folder is missing when the agent starts (a fresh host before config management
// has run): a per-store error, retried with back-off (5 s, then 10 s), not an exit; once the
// folder appears it is picked up without a restart. The missing watch is logged once.
class RunWithoutStoreFolder : public RunCommand {
 protected:
  void beforeAgentStarts() override {
    ASSERT_EQ(shell("mv " + quoted(nssdb()) + " " + quoted(nssdb() + ".away")).exit_code, 0);
  }
};

TEST_F(RunWithoutStoreFolder, RetriesWithBackOffAndPicksTheFolderUpWhenItAppears) {
  waitForLog("next attempt in 5s");
  waitForLog("next attempt in 10s");  // the real back-off: 5 s after the first retry
  EXPECT_EQ(shell("kill -0 " + std::to_string(agent_pid_)).exit_code, 0) << "agent still running";
  EXPECT_EQ(statusFor("alice"), 200) << "the files published before stay";
  std::string log = readFile(root_.file("run.log"));
  EXPECT_EQ(countOccurrences(log, "cannot watch " + nssdb() + " for changes: No such file"), 1)
      << log;
  EXPECT_EQ(countOccurrences(log, "next attempt in 5s"), 1) << log;

  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  ASSERT_EQ(shell("certutil -A -d " + quoted("sql:" + nssdb() + ".away") + " -n dave -t ,, -i " +
                  quoted(pki("dave.pem")))
                .exit_code,
            0);
  ASSERT_EQ(shell("mv " + quoted(nssdb() + ".away") + " " + quoted(nssdb())).exit_code, 0);
  EXPECT_EQ(waitForStatus(200, "dave"), 200) << readFile(root_.file("run.log"));
  waitForLog("every store folder is watched again");
  log = readFile(root_.file("run.log"));
  EXPECT_NE(log.find("store change detected"), std::string::npos) << log;
  EXPECT_NE(log.find("store demo: added dave"), std::string::npos) << log;
}

}  // namespace
}  // namespace certbridge::testing
