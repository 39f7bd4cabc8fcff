#include "web/web_server.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <regex>

#include "agent/certificate.h"
#include "agent/web_control.h"
#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "web/html.h"
#include "web/password.h"

namespace certbridge::web {
namespace {

using testing::TestCertificate;

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

struct HttpResult {
  int status = 0;
  std::string body;
  std::string set_cookie;
  std::string location;
  std::string content_type;
};

// Real HTTP to the server under test.
HttpResult http(int port, const std::string& method, const std::string& path,
                const std::string& body = "", const std::string& cookie = "",
                const std::map<std::string, std::string>& headers = {},
                const std::string& content_type = "application/x-www-form-urlencoded") {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!cookie.empty()) {
    request.set("Cookie", cookie);
  }
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  if (method == "POST") {
    request.setContentType(content_type);
    request.setContentLength64(static_cast<Poco::Int64>(body.size()));
  }
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& stream = session.receiveResponse(response);
  HttpResult result;
  result.status = response.getStatus();
  Poco::StreamCopier::copyToString(stream, result.body);
  result.set_cookie = response.get("Set-Cookie", "");
  result.location = response.get("Location", "");
  result.content_type = response.getContentType();
  return result;
}

std::string formEncode(const std::string& text) {
  std::string encoded;
  Poco::URI::encode(text, "&=+?#", encoded);
  return encoded;
}

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings_.listen = "127.0.0.1:0";
    settings_.admin_password_hash = hashPassword(kPassword, 1000);
    settings_.api_token_sha256 = sha256Hex(kToken);
    settings_.max_body = 64 * 1024;
    startServer();
    // A CA trusted for clients, a trusted client and a pending one, as a sync would store them.
    const auto entry = [](const TestCertificate& certificate, storage::CertificateRole role,
                          const std::string& nickname) {
      return storage::StoreEntry{agent::Certificate::fromDer(certificate.der(), nickname).record(),
                                 nickname, role};
    };
    storage::CertificateRepository(database_).applySnapshot(
        {"main", "nss", "sql:/x", "manual"},
        {entry(root_, storage::CertificateRole::anchor, "root"),
         entry(alice_, storage::CertificateRole::client, "alice")},
        "digest", unixNow());
  }

  void startServer() {
    server_.reset();
    server_ =
        std::make_unique<WebServer>(settings_, database_, control_, Poco::Logger::get("web-test"));
    server_->start();
  }

  int port() const { return server_->port(); }

  // Logs in and returns the session cookie and the CSRF token the page carries.
  std::pair<std::string, std::string> logIn() {
    const HttpResult login = http(port(), "POST", "/login", "password=" + formEncode(kPassword));
    EXPECT_EQ(login.status, 303) << login.body;
    const std::string cookie = login.set_cookie.substr(0, login.set_cookie.find(';'));
    const HttpResult page = http(port(), "GET", "/", "", cookie);
    std::smatch match;
    const std::regex csrf("name=\"csrf\" value=\"([0-9a-f]+)\"");
    EXPECT_TRUE(std::regex_search(page.body, match, csrf)) << page.body;
    return {cookie, match.size() > 1 ? match[1].str() : ""};
  }

  std::string sha256Of(const TestCertificate& certificate) {
    return agent::Certificate::fromDer(certificate.der(), "x").record().sha256;
  }

  std::optional<storage::TrustState> trustOf(const TestCertificate& certificate) {
    for (const auto& view : storage::CertificateRepository(database_).listCertificates()) {
      if (view.certificate.sha256 == sha256Of(certificate)) {
        return view.trust;
      }
    }
    return std::nullopt;
  }

  static constexpr const char* kPassword = "s3cret-enough";
  static constexpr const char* kToken = "api-token-for-scripts";
  testing::TempDir dir_;
  storage::Database database_{dir_.file("certbridge.db")};
  agent::WebControl control_{database_};
  WebSettings settings_;
  std::unique_ptr<WebServer> server_;
  TestCertificate root_ = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  TestCertificate alice_ = TestCertificate::issue({.common_name = "alice"}, &root_);
};

TEST_F(WebServerTest, PagesNeedALoginUnlessStatusIsPublic) {
  const HttpResult page = http(port(), "GET", "/");
  EXPECT_EQ(page.status, 303);
  EXPECT_EQ(page.location, "/login");
  EXPECT_EQ(http(port(), "GET", "/api/v1/status").status, 401);
  EXPECT_EQ(http(port(), "GET", "/metrics").status, 303);

  settings_.public_status = true;
  startServer();
  const HttpResult open = http(port(), "GET", "/");
  EXPECT_EQ(open.status, 200);
  EXPECT_NE(open.body.find("CN=alice,O=certbridge test"), std::string::npos);
  EXPECT_EQ(open.body.find("Approve"), std::string::npos) << "no actions without a login";
}

TEST_F(WebServerTest, LoginSetsAStrictHttpOnlyCookie) {
  const HttpResult login = http(port(), "POST", "/login", "password=" + formEncode(kPassword));
  EXPECT_EQ(login.status, 303);
  EXPECT_NE(login.set_cookie.find("certbridge_session="), std::string::npos);
  EXPECT_NE(login.set_cookie.find("HttpOnly"), std::string::npos) << login.set_cookie;
  EXPECT_NE(login.set_cookie.find("SameSite=Strict"), std::string::npos) << login.set_cookie;
  const std::string cookie = login.set_cookie.substr(0, login.set_cookie.find(';'));
  const HttpResult page = http(port(), "GET", "/", "", cookie);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Approve"), std::string::npos);
}

TEST_F(WebServerTest, WrongPasswordsAreRefusedAndRateLimited) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const HttpResult wrong =
        http(port(), "POST", "/login", "password=guess" + std::to_string(attempt));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_NE(wrong.body.find("Wrong password"), std::string::npos);
    EXPECT_EQ(wrong.set_cookie, "");
  }
  const HttpResult limited = http(port(), "POST", "/login", "password=" + formEncode(kPassword));
  EXPECT_EQ(limited.status, 429) << "even the right password waits after five wrong ones";
  EXPECT_EQ(limited.set_cookie, "");
}

TEST_F(WebServerTest, EveryChangeNeedsASessionAndTheRightCsrfToken) {
  const auto [cookie, csrf] = logIn();
  const std::string alice = sha256Of(alice_);
  const struct {
    std::string path;
    std::string content_type;
  } routes[] = {
      {"/clients/" + alice + "/approve", "application/x-www-form-urlencoded"},
      {"/clients/" + alice + "/block", "application/x-www-form-urlencoded"},
      {"/audit/1/undo", "application/x-www-form-urlencoded"},
      {"/upload", "application/x-www-form-urlencoded"},
      {"/logout", "application/x-www-form-urlencoded"},
      {"/api/v1/certificates/" + alice + "/trust", "application/json"},
      {"/api/v1/uploads", "application/octet-stream"},
  };
  for (const auto& route : routes) {
    const HttpResult anonymous =
        http(port(), "POST", route.path, "csrf=" + csrf, "", {}, route.content_type);
    EXPECT_TRUE(anonymous.status == 401 ||
                (anonymous.status == 303 && anonymous.location == "/login"))
        << route.path << " without a session: " << anonymous.status;
    const HttpResult forged = http(port(), "POST", route.path, "csrf=0000", cookie,
                                   {{"X-CSRF-Token", "0000"}}, route.content_type);
    EXPECT_EQ(forged.status, 403) << route.path << " with a wrong CSRF token";
  }
  EXPECT_EQ(trustOf(alice_), storage::TrustState::pending) << "nothing changed";
  EXPECT_FALSE(control_.takePublishRequest());
}

TEST_F(WebServerTest, ApproveIsAuditedPublishedAndUndoable) {
  const auto [cookie, csrf] = logIn();
  const std::string alice = sha256Of(alice_);
  const HttpResult approved =
      http(port(), "POST", "/clients/" + alice + "/approve", "csrf=" + csrf, cookie);
  EXPECT_EQ(approved.status, 303);
  EXPECT_EQ(trustOf(alice_), storage::TrustState::trusted);
  EXPECT_TRUE(control_.takePublishRequest()) << "the web asks the agent to publish";

  const storage::AuditEntry entry = storage::AuditLog(database_).recent(1).front();
  EXPECT_EQ(entry.action, "trust.trusted");
  EXPECT_EQ(entry.actor, "admin");
  EXPECT_EQ(entry.origin, "127.0.0.1");
  EXPECT_EQ(entry.previous, "pending");

  const HttpResult audit = http(port(), "GET", "/audit", "", cookie);
  EXPECT_NE(audit.body.find("trust.trusted"), std::string::npos);
  const HttpResult undone =
      http(port(), "POST", "/audit/" + std::to_string(entry.id) + "/undo", "csrf=" + csrf, cookie);
  EXPECT_EQ(undone.status, 303);
  EXPECT_EQ(trustOf(alice_), storage::TrustState::pending);
}

TEST_F(WebServerTest, UploadTrustsAClientWithoutTheStore) {
  const auto [cookie, csrf] = logIn();
  const TestCertificate bob = TestCertificate::issue({.common_name = "bob"}, &root_);
  const std::string boundary = "certbridgeboundary";
  const std::string body = "--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf +
                           "\r\n--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\"certificate\"; "
                           "filename=\"bob.pem\"\r\nContent-Type: application/x-pem-file\r\n\r\n" +
                           bob.pem() + "\r\n--" + boundary + "--\r\n";
  const HttpResult uploaded = http(port(), "POST", "/upload", body, cookie, {},
                                   "multipart/form-data; boundary=" + boundary);
  EXPECT_EQ(uploaded.status, 303) << uploaded.body;
  EXPECT_NE(uploaded.location.find("uploaded%20and%20trusted"), std::string::npos)
      << uploaded.location;
  EXPECT_EQ(trustOf(bob), storage::TrustState::trusted);
  EXPECT_TRUE(control_.takePublishRequest());
  const HttpResult after = http(port(), "GET", uploaded.location, "", cookie);
  EXPECT_NE(after.body.find("id=\"message\">uploaded and trusted " + sha256Of(bob)),
            std::string::npos)
      << after.body.substr(0, 2000);

  // DER through the API, with the bearer token.
  const TestCertificate carol = TestCertificate::issue({.common_name = "carol"}, &root_);
  const std::vector<unsigned char> der = carol.der();
  const HttpResult api =
      http(port(), "POST", "/api/v1/uploads", std::string(der.begin(), der.end()), "",
           {{"Authorization", std::string("Bearer ") + kToken}}, "application/pkix-cert");
  EXPECT_EQ(api.status, 201) << api.body;
  EXPECT_EQ(trustOf(carol), storage::TrustState::trusted);
}

TEST_F(WebServerTest, BadUploadsGetAClearMessageAndChangeNothing) {
  const std::map<std::string, std::string> token = {
      {"Authorization", std::string("Bearer ") + kToken}};
  const TestCertificate ca = TestCertificate::issue({.common_name = "Sub", .ca = true}, &root_);
  const TestCertificate server =
      TestCertificate::issue({.common_name = "www", .extended_key_usage = "serverAuth"}, &root_);
  const struct {
    std::string body;
    std::string reason;
  } cases[] = {
      {"garbage that is no certificate", "not a valid DER certificate"},
      {"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
       "is not valid PEM"},
      {alice_.pem() + alice_.keyPem(), "contains a private key"},
      {alice_.pem() + server.pem(), "holds 2 certificates"},
      {ca.pem(), "is a CA certificate"},
      {server.pem(), "not usable for client authentication"},
  };
  const auto before = storage::AuditLog(database_).recent(100).size();
  for (const auto& bad : cases) {
    const HttpResult result =
        http(port(), "POST", "/api/v1/uploads", bad.body, "", token, "application/octet-stream");
    EXPECT_EQ(result.status, 400) << bad.reason;
    EXPECT_NE(result.body.find(bad.reason), std::string::npos) << result.body;
  }
  EXPECT_EQ(storage::AuditLog(database_).recent(100).size(), before);
  EXPECT_FALSE(control_.takePublishRequest());

  const HttpResult huge = http(port(), "POST", "/api/v1/uploads", std::string(70 * 1024, 'A'), "",
                               token, "application/octet-stream");
  EXPECT_EQ(huge.status, 413);
}

TEST_F(WebServerTest, CertificateTextIsEscapedInThePageAndExactInTheApi) {
  const std::string script = "<script>alert(1)</script>";
  const std::string image = "\"><img src=x onerror=alert(2)>";
  const TestCertificate evil =
      TestCertificate::issue({.common_name = script, .organization = image}, &root_);
  storage::CertificateRepository(database_).applySnapshot(
      {"main", "nss", "sql:/x", "manual"},
      {{agent::Certificate::fromDer(root_.der(), "root").record(), "root",
        storage::CertificateRole::anchor},
       {agent::Certificate::fromDer(evil.der(), "evil").record(), "evil\"><b>",
        storage::CertificateRole::client}},
      "digest2", unixNow());
  const auto [cookie, csrf] = logIn();
  const HttpResult page = http(port(), "GET", "/", "", cookie);
  EXPECT_EQ(page.body.find("<script>alert(1)"), std::string::npos);
  EXPECT_EQ(page.body.find("<img src=x"), std::string::npos);
  EXPECT_EQ(page.body.find("<b>"), std::string::npos);
  // The subject as stored (RFC 2253 adds backslashes) appears escaped, as text.
  const std::string subject = agent::Certificate::fromDer(evil.der(), "evil").record().subject;
  ASSERT_NE(subject.find("alert(1)"), std::string::npos) << subject;
  EXPECT_NE(page.body.find(escapeHtml(subject)), std::string::npos) << subject;

  const HttpResult api = http(port(), "GET", "/api/v1/status", "", "",
                              {{"Authorization", std::string("Bearer ") + kToken}});
  EXPECT_EQ(api.content_type, "application/json");
  const auto parsed = Poco::JSON::Parser().parse(api.body).extract<Poco::JSON::Object::Ptr>();
  bool found = false;
  for (const auto& item : *parsed->getArray("certificates")) {
    const auto certificate = item.extract<Poco::JSON::Object::Ptr>();
    if (certificate->getValue<std::string>("subject") == subject) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << api.body;
}

TEST_F(WebServerTest, ApiChangesTrustWithABearerToken) {
  const std::string path = "/api/v1/certificates/" + sha256Of(alice_) + "/trust";
  const std::map<std::string, std::string> token = {
      {"Authorization", std::string("Bearer ") + kToken}};
  EXPECT_EQ(http(port(), "POST", path, R"({"state": "trusted"})", "",
                 {{"Authorization", "Bearer wrong"}}, "application/json")
                .status,
            401);
  EXPECT_EQ(http(port(), "POST", path, "{not json", "", token, "application/json").status, 400);
  EXPECT_EQ(
      http(port(), "POST", path, R"({"state": "sometimes"})", "", token, "application/json").status,
      400);
  const HttpResult ok =
      http(port(), "POST", path, R"({"state": "trusted"})", "", token, "application/json");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(trustOf(alice_), storage::TrustState::trusted);
  EXPECT_EQ(storage::AuditLog(database_).recent(1).front().actor, "api-token");
  EXPECT_EQ(http(port(), "GET", "/api/v1/nothing", "", "", token).status, 404);
}

TEST_F(WebServerTest, HealthzFollowsTheLastSyncAndPublish) {
  const HttpResult before = http(port(), "GET", "/healthz");
  EXPECT_EQ(before.status, 503);
  EXPECT_NE(before.body.find("nothing published yet"), std::string::npos) << before.body;
  storage::PublishHistory(database_).append({unixNow(), "published", "a", "b", "c", ""});
  EXPECT_EQ(http(port(), "GET", "/healthz").status, 200);
  storage::PublishHistory(database_).append(
      {unixNow(), "failed", "a", "b", "c", "nginx: [emerg] bad"});
  const HttpResult failed = http(port(), "GET", "/healthz");
  EXPECT_EQ(failed.status, 503);
  EXPECT_NE(failed.body.find("nginx: [emerg] bad"), std::string::npos);
}

TEST_F(WebServerTest, MetricsInPrometheusTextFormat) {
  storage::PublishHistory(database_).append({unixNow(), "published", "a", "b", "c", ""});
  const HttpResult metrics =
      http(port(), "GET", "/metrics", "", "", {{"Authorization", std::string("Bearer ") + kToken}});
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.content_type.find("text/plain; version=0.0.4"), std::string::npos);
  for (const char* line :
       {"# TYPE certbridge_certificate_expiry_seconds gauge",
        "certbridge_certificates{trust=\"pending\"} 1", "certbridge_reloads_total 1",
        "certbridge_reloads_failed_total 0", "certbridge_last_publish_success 1",
        "certbridge_last_sync_success{store=\"main\"} 1"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
  EXPECT_NE(metrics.body.find("subject=\"CN=alice,O=certbridge test\""), std::string::npos);
}

TEST_F(WebServerTest, ASlowClientDoesNotStallOthers) {
  // A client that sends half a request and waits.
  Poco::Net::StreamSocket slow(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port())));
  slow.sendBytes("GET /healthz HTTP/1.1\r\nHost: x\r\n", 33);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(http(port(), "GET", "/healthz").status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5))
      << "the other request was held up by the slow one";
}

}  // namespace
}  // namespace certbridge::web
