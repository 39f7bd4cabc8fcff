// One database, five outputs: `status`, `status --json`, GET /api/v1/status, the status page and
// /metrics must say the same about every certificate, because all of them are formatted from one
// StatusSnapshot (agent/sync/status_service.h).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <regex>
#include <sstream>

#include "agent/cli/status_report.h"
#include "agent/config/config.h"
#include "agent/pki/certificate.h"
#include "agent/sync/agent_control_service.h"
#include "storage/certificate_repository.h"
#include "storage/password.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "web/web_server.h"

namespace certbridge::web {
namespace {

using testing::TestCertificate;

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string get(int port, const std::string& path, const std::string& bearer) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer " + bearer);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& stream = session.receiveResponse(response);
  std::string body;
  Poco::StreamCopier::copyToString(stream, body);
  EXPECT_EQ(response.getStatus(), 200) << path << ": " << body;
  return body;
}

// sha256 → "trust" and "left_out" of a status document's certificates.
std::map<std::string, std::string> trustByCertificate(const std::string& document) {
  const auto root = Poco::JSON::Parser().parse(document).extract<Poco::JSON::Object::Ptr>();
  std::map<std::string, std::string> trust;
  const auto certificates = root->getArray("certificates");
  for (std::size_t i = 0; i < certificates->size(); ++i) {
    const auto entry = certificates->getObject(static_cast<unsigned>(i));
    trust[entry->getValue<std::string>("sha256")] =
        entry->getValue<std::string>("trust") + "|" +
        (entry->has("left_out") ? entry->getValue<std::string>("left_out") : "");
  }
  return trust;
}

class StatusAgreementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto entry = [](const TestCertificate& certificate, storage::CertificateRole role,
                          const std::string& nickname) {
      return storage::StoreEntry{agent::Certificate::fromDer(certificate.der(), nickname).record(),
                                 nickname, role};
    };
    storage::CertificateRepository repository(database_);
    repository.applySnapshot({"main", "nss", "sql:/x", "manual"},
                             {entry(root_, storage::CertificateRole::anchor, "root"),
                              entry(alice_, storage::CertificateRole::client, "alice"),
                              entry(expired_, storage::CertificateRole::client, "expired"),
                              entry(stranger_, storage::CertificateRole::client, "stranger"),
                              entry(pending_, storage::CertificateRole::client, "pending"),
                              entry(blocked_, storage::CertificateRole::client, "blocked")},
                             "digest", unixNow());
    for (const TestCertificate* trusted : {&alice_, &expired_, &stranger_}) {
      repository.setTrustState(sha256Of(*trusted), storage::TrustState::trusted, "test", "test",
                               unixNow());
    }
    repository.setTrustState(sha256Of(blocked_), storage::TrustState::blocked, "test", "test",
                             unixNow());
    settings_.listen = "127.0.0.1:0";
    settings_.api_token_sha256 = storage::sha256Hex(std::string_view(kToken));
    settings_.public_status = true;
    server_ = std::make_unique<WebServer>(settings_, database_, control_,
                                          Poco::Logger::get("status-agreement-test"));
    server_->start();
  }

  static std::string sha256Of(const TestCertificate& certificate) {
    return agent::Certificate::fromDer(certificate.der(), "x").record().sha256;
  }

  static constexpr const char* kToken = "agreement-token";
  testing::TempDir dir_;
  storage::Database database_{dir_.file("certbridge.db")};
  agent::sync::AgentControlService control_{database_};
  WebSettings settings_;
  std::unique_ptr<WebServer> server_;
  TestCertificate root_ = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  TestCertificate other_root_ =
      TestCertificate::issue({.common_name = "Other Root", .ca = true}, nullptr);
  TestCertificate alice_ = TestCertificate::issue({.common_name = "alice"}, &root_);
  TestCertificate expired_ = TestCertificate::issue(
      {.common_name = "expired", .not_before_offset = -10 * 86400, .not_after_offset = -86400},
      &root_);
  TestCertificate stranger_ = TestCertificate::issue({.common_name = "stranger"}, &other_root_);
  TestCertificate pending_ = TestCertificate::issue({.common_name = "pending"}, &root_);
  TestCertificate blocked_ = TestCertificate::issue({.common_name = "blocked"}, &root_);
};

TEST_F(StatusAgreementTest, TextJsonApiPageAndMetricsShowTheSameEffectiveTrust) {
  const std::map<std::string, std::string> expected{
      {sha256Of(root_), "|"},
      {sha256Of(alice_), "trusted|"},
      {sha256Of(expired_), "left out|expired"},
      {sha256Of(stranger_), "left out|chain not trusted"},
      {sha256Of(pending_), "pending|"},
      {sha256Of(blocked_), "blocked|"}};

  agent::AgentConfig config;
  std::ostringstream cli_json;
  agent::writeStatus(database_, config, unixNow(), true, cli_json);
  EXPECT_EQ(trustByCertificate(cli_json.str()), expected) << cli_json.str();

  const std::string api = get(server_->port(), "/api/v1/status", kToken);
  EXPECT_EQ(trustByCertificate(api), expected) << api;

  // The same document: the same keys at the top, the API without the server's database path.
  const auto cli_root =
      Poco::JSON::Parser().parse(cli_json.str()).extract<Poco::JSON::Object::Ptr>();
  const auto api_root = Poco::JSON::Parser().parse(api).extract<Poco::JSON::Object::Ptr>();
  std::vector<std::string> cli_keys;
  cli_root->getNames(cli_keys);
  std::erase(cli_keys, "database");
  std::vector<std::string> api_keys;
  api_root->getNames(api_keys);
  EXPECT_EQ(cli_keys, api_keys);
  EXPECT_EQ(cli_root->getValue<bool>("healthy"), api_root->getValue<bool>("healthy"));

  std::ostringstream text;
  agent::writeStatus(database_, config, unixNow(), false, text);
  const std::string page = get(server_->port(), "/", kToken);
  const std::string metrics = get(server_->port(), "/metrics", kToken);
  for (const auto& [sha256, trust_and_reason] : expected) {
    const std::string trust = trust_and_reason.substr(0, trust_and_reason.find('|'));
    const std::string reason = trust_and_reason.substr(trust_and_reason.find('|') + 1);
    const std::string shown = trust + (reason.empty() ? "" : ": " + reason);
    EXPECT_NE(page.find("data-sha256=\"" + sha256 + "\""), std::string::npos) << sha256;
    const std::regex row("data-sha256=\"" + sha256 + "\".*?<td class=\"trust\">([^<]*)</td>");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(page, match, row)) << sha256;
    EXPECT_EQ(match[1].str(), shown) << "status page, " << sha256;
    EXPECT_NE(metrics.find("sha256=\"" + sha256 + "\""), std::string::npos) << sha256;
    const std::regex metric("sha256=\"" + sha256 + "\"[^\n]*trust=\"" +
                            (trust.empty() ? std::string("none") : trust) + "\"");
    EXPECT_TRUE(std::regex_search(metrics, metric)) << "metrics, " << sha256 << "\n" << metrics;
    if (!reason.empty()) {
      EXPECT_NE(text.str().find("trusted but left out of clients.map: " + reason),
                std::string::npos)
          << text.str();
    }
  }
  // The text's TRUST column: the same words.
  EXPECT_NE(text.str().find("left out"), std::string::npos) << text.str();
  EXPECT_NE(metrics.find("certbridge_certificates{trust=\"left out\"} 2"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("certbridge_certificates{trust=\"trusted\"} 1"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace certbridge::web
