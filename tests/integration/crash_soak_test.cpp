// Crash safety, measured: `certbridge run` is killed with SIGKILL at random moments while it
// publishes store changes, and restarted, round after round. After every kill the published files
// parse whole, the database passes PRAGMA integrity_check and nginx still serves; after every
// restart the files converge to exactly the store's state.
//
// CERTBRIDGE_SOAK_SEED repeats a run (the seed is printed); CERTBRIDGE_SOAK_ROUNDS changes the
// number of rounds (default 50).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mtls_edge.h"

namespace certbridge::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kLeftoverSuffixes[] = {".certbridge-new", ".certbridge-previous",
                                             ".certbridge-absent"};

std::uint64_t environmentNumber(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::stoull(value) : fallback;
}

class CrashSoak : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    // The certificates the rounds add to and remove from the store; none is in it at first.
    for (const auto& [client, issuer] : {std::pair{"dave", "intermediate"},
                                         {"erin", "root"},
                                         {"frank", "intermediate"},
                                         {"gina", "root"}}) {
      const ShellResult made = demoPki("client", std::string(client) + " " + issuer);
      ASSERT_EQ(made.exit_code, 0) << made.output;
      in_store_[client] = false;
    }
    for (const std::string client : {"alice", "bob", "carol", "dave", "erin", "frank", "gina"}) {
      sha1_[client] = fingerprint(client, "sha1");
    }
    // A second nginx configuration, never started, that also includes mtls-proxy.conf: its
    // `nginx -t` checks every file certbridge writes.
    checker_ = std::make_unique<NginxServer>(root_.path() / "nginx-check", pki("server.pem"),
                                             pki("server.key"), root_.file("out"), 1);
    writeConfig("pid_file = " + nginx_->pidFile(), "auto", "[sync]\ninterval = 3600\n");
    publishAndStartNginx();
  }

  void TearDown() override {
    if (agent_pid_ != 0) {
      kill(agent_pid_);
    }
  }

  // Starts `certbridge run` in the background, its log in run-N.log.
  void startAgent() {
    ++starts_;
    log_ = root_.file("run-" + std::to_string(starts_) + ".log");
    const std::string& log = log_;  // const: std::quoted would take a mutable string by ADL
    const ShellResult started =
        shell(quoted(certbridgeBinary()) + " --config " + quoted(configFile()) + " run > " +
              quoted(log) + " 2>&1 & echo $!");
    agent_pid_ = std::stoi(started.output);
  }

  // SIGKILL, then waits until the process is gone (or a zombie: nothing runs any more).
  static void kill(int pid) {
    const std::string proc = "/proc/" + std::to_string(pid);
    shell("kill -KILL " + std::to_string(pid) + " 2>/dev/null");
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      const ShellResult state = shell("awk '{print $3}' " + proc + "/stat 2>/dev/null");
      if (state.output.empty() || state.output.starts_with("Z")) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "certbridge (pid " << pid << ") still runs 10 s after SIGKILL";
  }

  void killAgent() {
    kill(agent_pid_);
    agent_pid_ = 0;
    ++kills_;
  }

  // Adds the certificate to the NSS store, or removes it.
  void toggle(const std::string& client) {
    const ShellResult changed = demoPki(in_store_[client] ? "remove" : "import", client);
    ASSERT_EQ(changed.exit_code, 0) << changed.output;
    in_store_[client] = !in_store_[client];
  }

  std::set<std::string> expectedFingerprints() const {
    std::set<std::string> expected{sha1_.at("alice"), sha1_.at("bob"), sha1_.at("carol")};
    for (const auto& [client, present] : in_store_) {
      if (present) {
        expected.insert(sha1_.at(client));
      }
    }
    return expected;
  }

  std::set<std::string> publishedFingerprints() const {
    const std::string map = readFile(out("clients.map"));
    static const std::regex line(R"((^|\n)\s*([0-9a-f]{40})\s)");
    std::set<std::string> found;
    for (auto match = std::sregex_iterator(map.begin(), map.end(), line);
         match != std::sregex_iterator(); ++match) {
      found.insert((*match)[2].str());
    }
    return found;
  }

  std::vector<std::string> leftovers() const {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(root_.file("out"))) {
      const std::string name = entry.path().filename().string();
      for (const char* suffix : kLeftoverSuffixes) {
        if (name.ends_with(suffix)) {
          found.push_back(name);
        }
      }
    }
    return found;
  }

  // A PEM file parses whole: openssl reads as many objects as the file has BEGIN and END lines,
  // and the file ends with a complete END line.
  void expectPemWhole(const std::string& file, int round) const {
    const std::string text = readFile(out(file));
    const int begins = countOccurrences(text, "-----BEGIN ");
    EXPECT_GT(begins, 0) << "round " << round << ": " << file << " is empty";
    EXPECT_EQ(countOccurrences(text, "-----END "), begins) << "round " << round << ": " << file;
    EXPECT_TRUE(text.ends_with("-----\n")) << "round " << round << ": " << file << " is cut";
    const ShellResult read = shell("openssl storeutl -noout " + quoted(out(file)));
    EXPECT_EQ(read.exit_code, 0) << "round " << round << ": " << read.output;
    EXPECT_NE(read.output.find("Total found: " + std::to_string(begins)), std::string::npos)
        << "round " << round << ": " << file << " has " << begins << " blocks; openssl says "
        << read.output;
  }

  // What must hold right after a SIGKILL, whenever it came.
  void checkAfterKill(int round) {
    expectPemWhole("client-ca.pem", round);
    expectPemWhole("crl.pem", round);
    const ShellResult tested = shell(checker_->testCommand() + " 2>&1");
    EXPECT_EQ(tested.exit_code, 0) << "round " << round << ": nginx -t: " << tested.output;
    const ShellResult integrity =
        shell("sqlite3 " + quoted(database()) + " 'PRAGMA integrity_check'");
    EXPECT_EQ(integrity.output, "ok\n") << "round " << round;
    // alice is always trusted: nginx serves her whichever files it loaded last.
    EXPECT_EQ(waitForStatus(200, "alice"), 200) << "round " << round;
  }

  // After a restart: clients.map holds exactly the store's clients, nginx enforces it, and no
  // half-done publish is left behind.
  void checkConverged(int round, const std::string& toggled) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    std::set<std::string> published;
    while (Clock::now() < deadline) {
      published = publishedFingerprints();
      if (published == expectedFingerprints() && leftovers().empty()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(published, expectedFingerprints())
        << "round " << round << ": clients.map did not converge\n"
        << readFile(log_);
    EXPECT_EQ(leftovers(), std::vector<std::string>{}) << "round " << round;
    const int expected = in_store_[toggled] ? 200 : 403;
    EXPECT_EQ(waitForStatus(expected, toggled), expected) << "round " << round << ", " << toggled;
  }

  std::unique_ptr<NginxServer> checker_;
  std::map<std::string, bool> in_store_;
  std::map<std::string, std::string> sha1_;
  int agent_pid_ = 0;
  int starts_ = 0;
  int kills_ = 0;
  std::string log_;
};

TEST_F(CrashSoak, SigkillDuringPublishesLeavesWholeFilesAndConverges) {
  const std::uint64_t seed = environmentNumber("CERTBRIDGE_SOAK_SEED", std::random_device{}());
  const int rounds = static_cast<int>(environmentNumber("CERTBRIDGE_SOAK_ROUNDS", 50));
  std::printf("crash soak: seed %llu (CERTBRIDGE_SOAK_SEED=%llu repeats it), %d rounds\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), rounds);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 random(seed);
  const std::vector<std::string> pool{"dave", "erin", "frank", "gina"};
  int kills_mid_publish = 0;   // the change was not yet published when the kill came
  int kills_half_swapped = 0;  // the kill left a publish's temporary or backup files behind
  int kills_at_start = 0;

  startAgent();
  for (int round = 1; round <= rounds && !HasFatalFailure(); ++round) {
    const std::string client = pool[random() % pool.size()];
    // One round in four kills the agent during the sync it makes when it starts, with the change
    // made while it was down; the others while it publishes a change it was watching for.
    const bool at_start = random() % 4 == 0;
    if (at_start) {
      killAgent();
      toggle(client);
      startAgent();
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 700));
      ++kills_at_start;
    } else {
      toggle(client);
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 1500));
    }
    const std::string log_before_kill = readFile(log_);
    killAgent();
    const std::string published_line = "published ";
    if (at_start ? log_before_kill.find(published_line) == std::string::npos
                 : log_before_kill.rfind(published_line) == std::string::npos ||
                       log_before_kill.rfind(published_line) <
                           log_before_kill.rfind("store change detected")) {
      ++kills_mid_publish;
    }
    if (!leftovers().empty()) {
      ++kills_half_swapped;
    }
    checkAfterKill(round);
    startAgent();
    checkConverged(round, client);
  }
  killAgent();
  // One kill per round at a random moment; the others stop an idle agent (before a round that
  // kills during the start, and at the end).
  std::printf(
      "crash soak: %d rounds, %d SIGKILLs in all; %d at a random moment: %d during the sync at "
      "start, %d before the change was published, %d with a publish half done (its temporary or "
      "backup files left)\n",
      rounds, kills_, rounds, kills_at_start, kills_mid_publish, kills_half_swapped);
  RecordProperty("rounds", rounds);
  RecordProperty("kills", kills_);
  RecordProperty("kills_before_publish", kills_mid_publish);
  RecordProperty("kills_half_swapped", kills_half_swapped);
}

}  // namespace
}  // namespace certbridge::testing
