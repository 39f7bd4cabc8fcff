// The fleet end to end (README, Fleet): a real PostgreSQL from initdb, `certbridge fleet init`,
// the least-privilege agent role, and two or three hosts, each a real `certbridge run` with its
// own SQLite, NSS store (copies of one demo PKI) and real nginx on loopback.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/digest.h"
#include "tests/support/nginx_server.h"
#include "tests/support/postgres_server.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "fleet-api-token";
constexpr const char* kAgentPassword = "agent-password-for-tests";

struct HttpReply {
  int status = 0;
  std::string body;
};

// One edge host: its folder, its nginx, its running agent.
struct Host {
  std::string name;
  std::filesystem::path dir;
  std::unique_ptr<NginxServer> nginx;
  int agent_pid = 0;
  int web_port = 0;

  std::string file(const std::string& name_in_dir) const { return (dir / name_in_dir).string(); }
  std::string config() const { return file("certbridge.ini"); }
  std::string database() const { return file("certbridge.db"); }
};

class Fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    postgres_ = std::make_unique<PostgresServer>();
    postgres_->createDatabase("fleet");
    const ShellResult pki =
        shell(quoted(sourceDir() + "/scripts/demo-pki") + " init " + quoted(root_.file("pki")));
    ASSERT_EQ(pki.exit_code, 0) << pki.output;

    // The schema made by the command the README gives, as its owner.
    const ShellResult init = shell(quoted(certbridgeBinary()) + " fleet init --postgres " +
                                   quoted(postgres_->conninfo("fleet")));
    ASSERT_EQ(init.exit_code, 0) << init.output;
    EXPECT_NE(init.output.find("schema version 0 -> 1"), std::string::npos) << init.output;
    const ShellResult again = shell(quoted(certbridgeBinary()) + " fleet init --postgres " +
                                    quoted(postgres_->conninfo("fleet")));
    EXPECT_NE(again.output.find("schema version 1, nothing to do"), std::string::npos)
        << again.output;
    EXPECT_EQ(again.output.find("password"), std::string::npos) << again.output;

    // The agents connect as the least-privilege role of agent_role.sql.
    postgres_->psql(readFile(sourceDir() + "/storage/fleet/agent_role.sql") +
                        "ALTER ROLE certbridge_agent PASSWORD '" + kAgentPassword + "';",
                    "fleet");
    writeFile(root_.file("agent.pgpass"),
              std::string("*:*:*:certbridge_agent:") + kAgentPassword + "\n");
    ::chmod(root_.file("agent.pgpass").c_str(), 0600);
  }

  void TearDown() override {
    for (const auto& host : hosts_) {
      if (host->agent_pid != 0) {
        shell("kill -TERM " + std::to_string(host->agent_pid));
      }
    }
    for (const auto& host : hosts_) {
      waitUntilGone(*host);
    }
  }

  std::string pki(const std::string& file) const { return root_.file("pki/" + file); }

  std::string agentConninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(postgres_->port()) +
           " dbname=fleet user=certbridge_agent sslmode=disable connect_timeout=2 passfile=" +
           root_.file("agent.pgpass");
  }

  // A host with a copy of the demo NSS store (every client trusted by policy auto), its nginx
  // serving, and its agent running.
  Host& addHost(const std::string& name) {
    auto host = std::make_unique<Host>();
    host->name = name;
    host->dir = root_.path() / name;
    std::filesystem::create_directories(host->dir / "out");
    std::filesystem::copy(pki("nssdb"), host->dir / "nssdb");
    host->nginx = std::make_unique<NginxServer>(host->dir / "nginx", pki("server.pem"),
                                                pki("server.key"), host->file("out"));
    writeFile(host->config(),
              "[storage]\npath = " + host->database() +
                  "\nbusy_timeout_ms = 5000\n"
                  "[store.demo]\ntype = nss\npath = sql:" +
                  host->file("nssdb") +
                  "\npolicy = auto\n"
                  "[nginx]\noutput_dir = " +
                  host->file("out") + "\ntest_command = " + host->nginx->testCommand() +
                  "\npid_file = " + host->nginx->pidFile() +
                  "\n[sync]\ninterval = 5\n"
                  "[web]\nlisten = 127.0.0.1:0\napi_token_sha256 = " +
                  storage::sha256Hex(kToken) + "\n[fleet]\npostgres = " + agentConninfo() +
                  "\nnode = " + name + "\nheartbeat = 1\n");
    const ShellResult synced = certbridge(*host, "sync --once");
    EXPECT_EQ(synced.exit_code, 0) << synced.output;
    host->nginx->start();
    startAgent(*host);
    hosts_.push_back(std::move(host));
    return *hosts_.back();
  }

  ShellResult certbridge(const Host& host, const std::string& arguments) const {
    return shell(quoted(certbridgeBinary()) + " --config " + quoted(host.config()) + " " +
                 arguments);
  }

  void startAgent(Host& host) {
    const std::size_t logged = readLog(host).size();
    const ShellResult started =
        shell(quoted(certbridgeBinary()) + " --config " + quoted(host.config()) + " run >> " +
              quoted(host.file("run.log")) + " 2>&1 & echo $!");
    host.agent_pid = std::stoi(started.output);
    host.web_port = 0;
    const std::regex listening("web page on http://127\\.0\\.0\\.1:([0-9]+)/");
    const auto deadline = Clock::now() + 20s;
    while (host.web_port == 0 && Clock::now() < deadline) {
      std::smatch match;
      const std::string log = readLog(host).substr(logged);
      if (std::regex_search(log, match, listening)) {
        host.web_port = std::stoi(match[1].str());
      }
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_NE(host.web_port, 0) << readLog(host);
  }

  void stopAgent(Host& host, const char* signal) {
    shell(std::string("kill -") + signal + " " + std::to_string(host.agent_pid));
    waitUntilGone(host);
    host.agent_pid = 0;
  }

  static void waitUntilGone(const Host& host) {
    if (host.agent_pid == 0) {
      return;
    }
    const auto deadline = Clock::now() + 20s;
    // The shell that started it has exited, so the agent is not this process's child: it is
    // gone when signal 0 finds no such process.
    while (::kill(host.agent_pid, 0) == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
  }

  static std::string readLog(const Host& host) {
    return std::filesystem::exists(host.file("run.log")) ? readFile(host.file("run.log")) : "";
  }

  HttpReply http(const Host& host, const std::string& method, const std::string& path,
                 const std::string& body = "", const std::string& content_type = "") const {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(host.web_port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", std::string("Bearer ") + kToken);
    if (!body.empty()) {
      request.setContentType(content_type);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    HttpReply reply;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), reply.body);
    reply.status = response.getStatus();
    return reply;
  }

  HttpReply setTrust(const Host& host, const std::string& client, const std::string& state) {
    return http(host, "POST", "/api/v1/certificates/" + sha256Of(client) + "/trust",
                "{\"state\": \"" + state + "\"}", "application/json");
  }

  std::string sha256Of(const std::string& client) const {
    return shell("openssl x509 -noout -fingerprint -sha256 -in " + quoted(pki(client + ".pem")) +
                 " | cut -d= -f2 | tr -d ':\\n' | tr A-F a-f")
        .output;
  }

  int statusFor(const Host& host, const std::string& client) const {
    return host.nginx->statusFor(pki(client + ".pem"), pki(client + ".key"), pki("root.pem"));
  }

  // Polls nginx until it answers `expected` to `client` or `within` passes; the last status.
  int waitForStatus(const Host& host, const std::string& client, int expected,
                    std::chrono::milliseconds within) const {
    const auto deadline = Clock::now() + within;
    int status = 0;
    do {
      status = statusFor(host, client);
      if (status == expected) {
        return status;
      }
      std::this_thread::sleep_for(10ms);
    } while (Clock::now() < deadline);
    return status;
  }

  // The trust decisions and the applied fleet position, as text: equal text, equal state.
  static std::string decisions(const Host& host) {
    return shell("sqlite3 " + quoted(host.database()) +
                 " \"SELECT sha256, state FROM trust_decisions ORDER BY 1;"
                 " SELECT sha256 FROM certificate_sources WHERE store_name = 'upload' AND"
                 " gone_at IS NULL ORDER BY 1;\"")
        .output;
  }

  static std::int64_t appliedEventId(const Host& host) {
    const std::string text =
        shell("sqlite3 " + quoted(host.database()) +
              " \"SELECT COALESCE(MAX(applied_event_id), 0) FROM fleet_position\"")
            .output;
    return text.empty() ? 0 : std::stoll(text);
  }

  std::int64_t latestEventId() const {
    const std::string text =
        postgres_->psql("SELECT COALESCE(max(id), 0) FROM certbridge.events", "fleet");
    return std::stoll(text);
  }

  // Waits until every host enforces the log's newest event with the same decisions.
  bool waitForConvergence(std::chrono::seconds within) const {
    const auto deadline = Clock::now() + within;
    do {
      const std::int64_t latest = latestEventId();
      bool converged = latest > 0;
      for (const auto& host : hosts_) {
        converged = converged && appliedEventId(*host) == latest &&
                    decisions(*host) == decisions(*hosts_.front());
      }
      if (converged) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    } while (Clock::now() < deadline);
    return false;
  }

  // Polls `path` of the host's web page until its body holds `text`.
  bool waitForBody(const Host& host, const std::string& path, const std::string& text,
                   std::chrono::seconds within) const {
    const auto deadline = Clock::now() + within;
    do {
      if (http(host, "GET", path).body.find(text) != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    } while (Clock::now() < deadline);
    return false;
  }

  TempDir root_;
  std::unique_ptr<PostgresServer> postgres_;
  std::vector<std::unique_ptr<Host>> hosts_;
};

// The first promise: a block on one host's API is enforced by the other host's nginx
// within 2 s; approving again lets the client in again; a client certificate uploaded on the
// second host is accepted by the first one's nginx.
TEST_F(Fleet, ABlockOnOneHostIsEnforcedByTheOtherWithinTwoSecondsAndAnUploadEverywhere) {
  Host& a = addHost("edge-a");
  Host& b = addHost("edge-b");
  ASSERT_EQ(statusFor(a, "alice"), 200);
  ASSERT_EQ(statusFor(b, "alice"), 200);
  ASSERT_TRUE(waitForBody(a, "/api/v1/status", "\"state\":\"connected\"", 20s))
      << http(a, "GET", "/api/v1/status").body << readLog(a);
  ASSERT_TRUE(waitForBody(b, "/api/v1/status", "\"state\":\"connected\"", 20s)) << readLog(b);

  // scripts/bench runs this test for its fleet_propagation figure with more rounds.
  const char* rounds_text = std::getenv("CERTBRIDGE_FLEET_PROPAGATION_RUNS");
  const int rounds = rounds_text ? std::max(1, std::atoi(rounds_text)) : 1;
  std::string expected_events;
  for (int round = 0; round < rounds; ++round) {
    const HttpReply blocked = setTrust(a, "alice", "blocked");
    ASSERT_EQ(blocked.status, 200) << blocked.body;
    const auto blocked_at = Clock::now();
    ASSERT_EQ(waitForStatus(b, "alice", 403, 2s), 403) << "B enforces A's block within 2 s\n"
                                                       << readLog(a) << readLog(b);
    std::printf("fleet_propagation %.3f (block on A -> 403 on B)\n",
                std::chrono::duration<double>(Clock::now() - blocked_at).count());
    EXPECT_EQ(waitForStatus(a, "alice", 403, 15s), 403);

    const HttpReply approved = setTrust(a, "alice", "trusted");
    ASSERT_EQ(approved.status, 200) << approved.body;
    const auto approved_at = Clock::now();
    ASSERT_EQ(waitForStatus(b, "alice", 200, 2s), 200) << readLog(b);
    std::printf("fleet_propagation %.3f (approve on A -> 200 on B)\n",
                std::chrono::duration<double>(Clock::now() - approved_at).count());
    EXPECT_EQ(waitForStatus(a, "alice", 200, 15s), 200);
    expected_events += "block edge-a\napprove edge-a\n";
  }

  // "stranger" is issued by the intermediate CA both hosts trust, and in neither store.
  ASSERT_EQ(statusFor(a, "stranger"), 403);
  const HttpReply uploaded =
      http(b, "POST", "/api/v1/uploads", readFile(pki("stranger.pem")), "application/x-pem-file");
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  EXPECT_EQ(waitForStatus(a, "stranger", 200, 2s), 200) << readLog(a);
  EXPECT_EQ(waitForStatus(b, "stranger", 200, 15s), 200);

  ASSERT_TRUE(waitForConvergence(20s)) << decisions(a) << "\n" << decisions(b);
  // Each event is in the fleet's log once, with its author and host, and in both audit logs.
  EXPECT_EQ(
      postgres_->psql("SELECT kind || ' ' || node FROM certbridge.events ORDER BY id", "fleet"),
      expected_events + "upload-certificate edge-b\n");
  const std::string audit_b =
      shell("sqlite3 " + quoted(b.database()) + " \"SELECT origin FROM audit_log\"").output;
  EXPECT_NE(audit_b.find("fleet #1 edge-a 127.0.0.1"), std::string::npos) << audit_b;

  // The fleet page, its API and /metrics show both nodes, current.
  ASSERT_TRUE(waitForBody(a, "/api/v1/fleet", "\"event_lag\":0", 20s));
  const auto waitBothCurrent = [&] {
    const auto deadline = Clock::now() + 20s;
    std::string body;
    do {
      body = http(a, "GET", "/api/v1/fleet").body;
      const auto fleet = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
      const auto nodes = fleet->getArray("nodes");
      int current = 0;
      for (std::size_t i = 0; nodes && i < nodes->size(); ++i) {
        current += nodes->getObject(static_cast<unsigned>(i))->getValue<bool>("current") ? 1 : 0;
      }
      if (nodes && nodes->size() == 2 && current == 2) {
        return body;
      }
      std::this_thread::sleep_for(200ms);
    } while (Clock::now() < deadline);
    return "not both current: " + body;
  };
  const std::string fleet_json = waitBothCurrent();
  EXPECT_NE(fleet_json.find("\"node\":\"edge-b\""), std::string::npos) << fleet_json;
  EXPECT_NE(fleet_json.find("soonest_expiries"), std::string::npos) << fleet_json;
  const HttpReply page = http(a, "GET", "/fleet");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("data-node=\"edge-b\""), std::string::npos) << page.body;
  const std::string metrics = http(a, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("certbridge_fleet_nodes 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("certbridge_fleet_event_lag{node=\"edge-b\"} 0"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("certbridge_fleet_degraded 0"), std::string::npos) << metrics;
}

// PostgreSQL stopped: both hosts keep enforcing, say degraded (/healthz 200 "degraded", status,
// the page, /metrics); a change made meanwhile is enforced where it was made and queued; when
// PostgreSQL returns both converge on it and the fleet page shows both current.
TEST_F(Fleet, WithoutPostgresBothKeepEnforcingQueueChangesAndConvergeWhenItReturns) {
  Host& a = addHost("edge-a");
  Host& b = addHost("edge-b");
  ASSERT_TRUE(waitForBody(a, "/api/v1/status", "\"state\":\"connected\"", 20s)) << readLog(a);
  ASSERT_TRUE(waitForBody(b, "/api/v1/status", "\"state\":\"connected\"", 20s)) << readLog(b);
  ASSERT_EQ(setTrust(a, "bob", "blocked").status, 200);
  ASSERT_EQ(waitForStatus(b, "bob", 403, 15s), 403);

  postgres_->stop();
  for (Host* host : {&a, &b}) {
    ASSERT_TRUE(waitForBody(*host, "/healthz", "\"status\":\"degraded\"", 30s))
        << http(*host, "GET", "/healthz").body << readLog(*host);
    EXPECT_EQ(http(*host, "GET", "/healthz").status, 200);
    EXPECT_EQ(statusFor(*host, "bob"), 403) << "still enforcing the block";
    EXPECT_EQ(statusFor(*host, "alice"), 200);
    const ShellResult status = certbridge(*host, "status");
    EXPECT_NE(status.output.find("degraded: enforcing the last list applied"), std::string::npos)
        << status.output;
    EXPECT_NE(http(*host, "GET", "/").body.find("DEGRADED"), std::string::npos);
    EXPECT_NE(http(*host, "GET", "/metrics").body.find("certbridge_fleet_degraded 1"),
              std::string::npos);
  }

  // A change meanwhile: accepted, enforced on this host at once, queued for the fleet. (alice:
  // blocking carol too would leave the issuing CA without a trusted client, and out of
  // client-ca.pem: nginx would answer 400, not 403.)
  const HttpReply blocked = setTrust(b, "alice", "blocked");
  ASSERT_EQ(blocked.status, 200) << blocked.body;
  EXPECT_EQ(waitForStatus(b, "alice", 403, 15s), 403);
  EXPECT_EQ(statusFor(a, "alice"), 200) << "A cannot know yet";
  ASSERT_TRUE(waitForBody(b, "/api/v1/status", "\"queued_changes\":1", 10s))
      << http(b, "GET", "/api/v1/status").body;
  EXPECT_NE(certbridge(b, "status").output.find("1 change(s) made here wait to be shared"),
            std::string::npos);

  postgres_->start();
  EXPECT_EQ(waitForStatus(a, "alice", 403, 60s), 403) << readLog(a) << readLog(b);
  ASSERT_TRUE(waitForConvergence(60s)) << decisions(a) << "\n" << decisions(b);
  for (Host* host : {&a, &b}) {
    EXPECT_TRUE(waitForBody(*host, "/healthz", "\"status\":\"ok\"", 30s)) << readLog(*host);
    EXPECT_TRUE(waitForBody(*host, "/api/v1/status", "\"queued_changes\":0", 10s));
  }
  const auto deadline = Clock::now() + 30s;
  std::string page;
  do {
    page = http(a, "GET", "/fleet").body;
  } while (countOccurrences(page, ">current</span>") < 2 && Clock::now() < deadline &&
           (std::this_thread::sleep_for(200ms), true));
  EXPECT_EQ(countOccurrences(page, ">current</span>"), 2) << page;
  std::printf("%s\n%s\n", readLog(a).c_str(), readLog(b).c_str());
}

// Two hosts change the same client in the same second, in opposite ways: both end with the same
// decision (the later event in the log), and both changes are in the log.
TEST_F(Fleet, ConflictingChangesInTheSameSecondEndIdenticalOnBoth) {
  Host& a = addHost("edge-a");
  Host& b = addHost("edge-b");
  ASSERT_TRUE(waitForBody(a, "/api/v1/status", "\"state\":\"connected\"", 20s)) << readLog(a);
  ASSERT_TRUE(waitForBody(b, "/api/v1/status", "\"state\":\"connected\"", 20s)) << readLog(b);
  for (int round = 0; round < 3; ++round) {
    std::thread on_b([&] { setTrust(b, "alice", round % 2 == 0 ? "trusted" : "blocked"); });
    setTrust(a, "alice", round % 2 == 0 ? "blocked" : "trusted");
    on_b.join();
  }
  ASSERT_TRUE(waitForConvergence(30s)) << decisions(a) << "\n" << decisions(b);
  const std::string last = postgres_->psql("SELECT kind FROM certbridge.events WHERE sha256 = '" +
                                               sha256Of("alice") + "' ORDER BY id DESC LIMIT 1",
                                           "fleet");
  const int expected = last == "approve\n" ? 200 : 403;
  EXPECT_EQ(waitForStatus(a, "alice", expected, 15s), expected);
  EXPECT_EQ(waitForStatus(b, "alice", expected, 15s), expected);
  EXPECT_EQ(postgres_->psql("SELECT count(*) FROM certbridge.events", "fleet"), "6\n");
}

// A host that joins late applies the whole history and ends identical; an agent killed with
// SIGKILL while it applies a long history loses nothing and applies nothing twice.
TEST_F(Fleet, AThirdHostJoiningLateAndAKillDuringApplyingEndIdentical) {
  Host& a = addHost("edge-a");
  ASSERT_TRUE(waitForBody(a, "/api/v1/status", "\"state\":\"connected\"", 20s)) << readLog(a);
  ASSERT_EQ(setTrust(a, "bob", "blocked").status, 200);
  ASSERT_EQ(
      http(a, "POST", "/api/v1/uploads", readFile(pki("stranger.pem")), "application/x-pem-file")
          .status,
      201);
  // A long history, appended as the agents append (one event per statement, in order).
  const std::string alice = sha256Of("alice");
  postgres_->psql(
      "INSERT INTO certbridge.events (kind, sha256, actor, node, address) "
      "SELECT CASE WHEN n % 2 = 0 THEN 'approve' ELSE 'block' END, '" +
          alice + "', 'history', 'elsewhere', '' FROM generate_series(1, 3001) AS n",
      "fleet");
  ASSERT_TRUE(waitForConvergence(60s)) << "A applies the history";

  Host& c = addHost("edge-c");
  // Kill C while it applies: once some events are applied, not all.
  const std::int64_t latest = latestEventId();
  const auto deadline = Clock::now() + 60s;
  std::int64_t at_kill = 0;
  while (Clock::now() < deadline) {
    at_kill = appliedEventId(c);
    if (at_kill > 0) {
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  stopAgent(c, "KILL");
  std::printf("killed edge-c at event %lld of %lld\n", static_cast<long long>(at_kill),
              static_cast<long long>(latest));
  EXPECT_EQ(shell("sqlite3 " + quoted(c.database()) + " 'PRAGMA integrity_check'").output, "ok\n");
  startAgent(c);
  ASSERT_TRUE(waitForConvergence(90s)) << decisions(a) << "\n" << decisions(c);
  // Every event applied exactly once on C: one audit entry per fleet event.
  const std::string applied_once =
      shell("sqlite3 " + quoted(c.database()) +
            " \"SELECT COUNT(*), COUNT(DISTINCT CAST(substr(origin, 8) AS INTEGER))"
            " FROM audit_log WHERE origin LIKE 'fleet #%'"
            " AND (action LIKE 'trust.%' OR action = 'certificate.uploaded')\"")
          .output;
  EXPECT_EQ(applied_once, std::to_string(latest) + "|" + std::to_string(latest) + "\n")
      << applied_once;
  EXPECT_EQ(waitForStatus(c, "bob", 403, 15s), 403);
  EXPECT_EQ(waitForStatus(c, "stranger", 200, 15s), 200);
  EXPECT_EQ(waitForStatus(c, "alice", 403, 15s), 403) << "the history ends with a block";
}

}  // namespace
}  // namespace certbridge::testing
