#include "web/web_server.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "agent/pki/certificate.h"
#include "agent/sync/agent_control_service.h"
#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "storage/password.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "web/html.h"

namespace certbridge::web {
namespace {

using storage::hashPassword;
using storage::sha256Hex;
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
  std::string reason;
  std::string content_security_policy;
  std::string x_frame_options;
  std::string x_content_type_options;
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
  result.reason = response.getReason();
  result.content_security_policy = response.get("Content-Security-Policy", "");
  result.x_frame_options = response.get("X-Frame-Options", "");
  result.x_content_type_options = response.get("X-Content-Type-Options", "");
  return result;
}

std::string formEncode(const std::string& text) {
  std::string encoded;
  Poco::URI::encode(text, "&=+?#", encoded);
  return encoded;
}

using namespace std::chrono_literals;

// Connections from `local_address` (any of 127.0.0.0/8) that send a request head one header line
// every `pause` and never finish it, as a slowloris attack does, from a thread of their own.
class SlowClients {
 public:
  SlowClients(int port, int count, const std::string& local_address,
              std::chrono::milliseconds pause) {
    for (int i = 0; i < count; ++i) {
      Poco::Net::StreamSocket socket;
      socket.impl()->bind(Poco::Net::SocketAddress(local_address, 0));
      socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
      sockets_.push_back(Connection{socket, ""});
    }
    sendLine("GET /healthz HTTP/1.1\r\n");
    sender_ = std::thread([this, pause] {
      std::unique_lock lock(mutex_);
      for (int line = 0; !stop_.wait_for(lock, pause, [this] { return stopping_; }); ++line) {
        lock.unlock();
        sendLine("X-Slow-" + std::to_string(line) + ": still typing\r\n");
        lock.lock();
      }
    });
  }
  ~SlowClients() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    stop_.notify_all();
    sender_.join();
  }

  // How many connections have had an answer starting with `status_line` (e.g. "HTTP/1.1 503"),
  // waiting up to 10 s for `expected` of them.
  int answered(const std::string& status_line, int expected) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    int count = 0;
    while (true) {
      count = 0;
      const std::lock_guard lock(send_mutex_);
      for (Connection& connection : sockets_) {
        char buffer[512];
        while (connection.socket.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ)) {
          int received = 0;
          try {
            received = connection.socket.receiveBytes(buffer, sizeof(buffer));
          } catch (const Poco::Exception&) {
          }
          if (received <= 0) {
            break;
          }
          connection.received.append(buffer, static_cast<std::size_t>(received));
        }
        count += connection.received.starts_with(status_line) ? 1 : 0;
      }
      if (count >= expected || std::chrono::steady_clock::now() > deadline) {
        return count;
      }
      std::this_thread::sleep_for(20ms);
    }
  }

 private:
  struct Connection {
    Poco::Net::StreamSocket socket;
    std::string received;
  };

  void sendLine(const std::string& line) {
    const std::lock_guard lock(send_mutex_);
    for (Connection& connection : sockets_) {
      try {
        connection.socket.sendBytes(line.data(), static_cast<int>(line.size()), MSG_NOSIGNAL);
      } catch (const Poco::Exception&) {
        // Closed by the server: the test looks at what it answered.
      }
    }
  }

  std::vector<Connection> sockets_;
  std::mutex send_mutex_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread sender_;
};

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

  // The login form's cookie ("certbridge_login=...") and the token in its hidden field.
  std::pair<std::string, std::string> loginForm() {
    const HttpResult form = http(port(), "GET", "/login");
    std::smatch match;
    const std::regex csrf("name=\"csrf\" value=\"([0-9a-f]+)\"");
    EXPECT_TRUE(std::regex_search(form.body, match, csrf)) << form.body;
    EXPECT_NE(form.set_cookie.find("certbridge_login="), std::string::npos) << form.set_cookie;
    return {form.set_cookie.substr(0, form.set_cookie.find(';')),
            match.size() > 1 ? match[1].str() : ""};
  }

  // POST /login through the form, as a browser does.
  HttpResult postLogin(const std::string& password,
                       const std::map<std::string, std::string>& headers = {}) {
    const auto [cookie, token] = loginForm();
    return http(port(), "POST", "/login", "csrf=" + token + "&password=" + formEncode(password),
                cookie, headers);
  }

  // Logs in and returns the session cookie and the CSRF token the page carries.
  std::pair<std::string, std::string> logIn() {
    const HttpResult login = postLogin(kPassword);
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
  agent::sync::AgentControlService control_{database_};
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
  const HttpResult login = postLogin(kPassword);
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
    const HttpResult wrong = postLogin("guess" + std::to_string(attempt));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_NE(wrong.body.find("Wrong password"), std::string::npos);
    EXPECT_EQ(wrong.set_cookie.find("certbridge_session"), std::string::npos);
  }
  const HttpResult limited = postLogin(kPassword);
  EXPECT_EQ(limited.status, 429) << "even the right password waits after five wrong ones";
  EXPECT_EQ(limited.reason, "Too Many Requests");
  EXPECT_EQ(limited.set_cookie.find("certbridge_session"), std::string::npos);
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

TEST_F(WebServerTest, TheLoginFormCarriesACsrfToken) {
  const auto [cookie, token] = loginForm();
  ASSERT_EQ(token.size(), 64u);
  EXPECT_NE(cookie.find(token), std::string::npos) << "double submit: the cookie holds the token";
  const std::string password = "&password=" + formEncode(kPassword);
  const struct {
    std::string body;
    std::string cookie;
    const char* what;
  } forged[] = {
      {"password=" + formEncode(kPassword), "", "no token, no cookie (another site's form)"},
      {"csrf=" + token + password, "", "the token without its cookie"},
      {"csrf=" + std::string(64, '0') + password, cookie, "a wrong token"},
      {password.substr(1), cookie, "the cookie without the token"},
  };
  for (const auto& attempt : forged) {
    const HttpResult refused = http(port(), "POST", "/login", attempt.body, attempt.cookie);
    EXPECT_EQ(refused.status, 403) << attempt.what;
    EXPECT_EQ(refused.set_cookie.find("certbridge_session"), std::string::npos) << attempt.what;
    EXPECT_NE(refused.body.find("login form had expired"), std::string::npos) << attempt.what;
  }
  for (const storage::AuditEntry& entry : storage::AuditLog(database_).recent(100)) {
    EXPECT_NE(entry.action, "login.failed") << "no password was checked";
  }
  const HttpResult accepted = http(port(), "POST", "/login", "csrf=" + token + password, cookie);
  EXPECT_EQ(accepted.status, 303) << accepted.body;
  EXPECT_NE(accepted.set_cookie.find("certbridge_session="), std::string::npos);
}

TEST_F(WebServerTest, EveryFormCarriesACsrfToken) {
  const HttpResult login_page = http(port(), "GET", "/login");
  const auto [cookie, csrf] = logIn();
  const std::string alice = sha256Of(alice_);
  ASSERT_EQ(http(port(), "POST", "/clients/" + alice + "/approve", "csrf=" + csrf, cookie).status,
            303);
  const std::regex form("<form[^>]*>(.*?)</form>");
  const std::regex token_field("<input type=\"hidden\" name=\"csrf\" value=\"[0-9a-f]{64}\">");
  int forms = 0;
  for (const std::string& body : {login_page.body, http(port(), "GET", "/", "", cookie).body,
                                  http(port(), "GET", "/audit", "", cookie).body}) {
    for (auto match = std::sregex_iterator(body.begin(), body.end(), form);
         match != std::sregex_iterator(); ++match) {
      ++forms;
      EXPECT_TRUE(std::regex_search(match->str(1), token_field)) << match->str();
    }
  }
  // The login form, logout on / and /audit, the upload, blocking alice and undoing her approval.
  EXPECT_GE(forms, 6);
}

TEST_F(WebServerTest, ParallelWrongPasswordsGetAtMostFiveChecks) {
  const auto [cookie, token] = loginForm();
  constexpr int kAttempts = 40;
  std::vector<std::thread> clients;
  std::mutex mutex;
  std::map<int, int> statuses;
  for (int i = 0; i < kAttempts; ++i) {
    clients.emplace_back([&, i] {
      const HttpResult result =
          http(port(), "POST", "/login", "csrf=" + token + "&password=guess" + std::to_string(i),
               cookie);
      const std::lock_guard lock(mutex);
      ++statuses[result.status];
    });
  }
  for (std::thread& client : clients) {
    client.join();
  }
  int checks = 0;
  for (const storage::AuditEntry& entry : storage::AuditLog(database_).recent(100)) {
    if (entry.action == "login.failed") {
      ++checks;
      EXPECT_EQ(entry.origin, "127.0.0.1");
    }
  }
  EXPECT_EQ(checks, 5) << "every password check is audited";
  EXPECT_EQ(statuses[401], 5);
  EXPECT_EQ(statuses[429], kAttempts - 5);
  EXPECT_EQ(postLogin(kPassword).status, 429) << "the address stays locked out";
}

TEST_F(WebServerTest, TheClientBehindATrustedProxyIsTheForwardedOne) {
  const auto wrongFrom = [&](const std::string& forwarded_for) {
    return postLogin("wrong", {{"X-Forwarded-For", forwarded_for}}).status;
  };
  const auto lastOrigin = [&] { return storage::AuditLog(database_).recent(1).front().origin; };

  // Not a trusted proxy: the header is whatever the client says, and ignored.
  EXPECT_EQ(wrongFrom("203.0.113.7"), 401);
  EXPECT_EQ(lastOrigin(), "127.0.0.1");

  settings_.trusted_proxies = parseAddressRanges("10.0.0.0/8, 127.0.0.1");
  startServer();
  for (int attempt = 0; attempt < 5; ++attempt) {
    EXPECT_EQ(wrongFrom("203.0.113.7"), 401);
  }
  EXPECT_EQ(lastOrigin(), "203.0.113.7");
  EXPECT_EQ(wrongFrom("203.0.113.7"), 429) << "the lockout is per forwarded client";
  // Another client through the same proxy has its own count; the rightmost hop that is not a
  // trusted proxy is the client, whatever the client wrote further left.
  EXPECT_EQ(wrongFrom("203.0.113.7, 198.51.100.2, 10.1.2.3"), 401);
  EXPECT_EQ(lastOrigin(), "198.51.100.2");
  EXPECT_EQ(wrongFrom("not-an-address"), 401);
  EXPECT_EQ(lastOrigin(), "127.0.0.1") << "a hop that is no address ends at the proxy";

  const auto [cookie, csrf] = logIn();
  const HttpResult approved = http(port(), "POST", "/clients/" + sha256Of(alice_) + "/approve",
                                   "csrf=" + csrf, cookie, {{"X-Forwarded-For", "192.0.2.44"}});
  EXPECT_EQ(approved.status, 303);
  EXPECT_EQ(lastOrigin(), "192.0.2.44") << "the audit log says where a change came from";
}

TEST_F(WebServerTest, TheBearerSchemeIsCaseInsensitive) {
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER  "}) {
    EXPECT_EQ(http(port(), "GET", "/api/v1/status", "", "",
                   {{"Authorization", std::string(scheme) + kToken}})
                  .status,
              200)
        << scheme;
  }
  EXPECT_EQ(http(port(), "GET", "/api/v1/status", "", "",
                 {{"Authorization", std::string("Basic ") + kToken}})
                .status,
            401);
}

TEST_F(WebServerTest, OnlyWholeNumbersNameAnAuditEntryAndUndoingTwiceIsRefused) {
  const auto [cookie, csrf] = logIn();
  const std::string alice = sha256Of(alice_);
  ASSERT_EQ(http(port(), "POST", "/clients/" + alice + "/approve", "csrf=" + csrf, cookie).status,
            303);
  const std::int64_t id = storage::AuditLog(database_).recent(1).front().id;
  const std::string number = std::to_string(id);
  for (const std::string& bad :
       std::vector<std::string>{number + "zzz", number + ".0", "+" + number, " " + number, "-1",
                                "99999999999999999999999"}) {
    std::string encoded;
    Poco::URI::encode(bad, "", encoded);
    const HttpResult result =
        http(port(), "POST", "/audit/" + encoded + "/undo", "csrf=" + csrf, cookie);
    EXPECT_TRUE(result.status == 400 || result.status == 404) << bad << ": " << result.status;
  }
  EXPECT_EQ(trustOf(alice_), storage::TrustState::trusted) << "nothing was undone";

  const std::string undo_path = "/audit/" + std::to_string(id) + "/undo";
  EXPECT_EQ(http(port(), "POST", undo_path, "csrf=" + csrf, cookie).status, 303);
  EXPECT_EQ(trustOf(alice_), storage::TrustState::pending);
  const auto entries = storage::AuditLog(database_).recent(100).size();
  const HttpResult again = http(port(), "POST", undo_path, "csrf=" + csrf, cookie);
  EXPECT_EQ(again.status, 303) << again.body;
  EXPECT_NE(again.location.find("nothing%20to%20undo"), std::string::npos) << again.location;
  EXPECT_EQ(storage::AuditLog(database_).recent(100).size(), entries);

  // An upload undone twice: the second time is refused with a message, not a 500.
  const TestCertificate bob = TestCertificate::issue({.common_name = "bob"}, &root_);
  const std::vector<unsigned char> der = bob.der();
  ASSERT_EQ(http(port(), "POST", "/api/v1/uploads", std::string(der.begin(), der.end()), "",
                 {{"Authorization", std::string("Bearer ") + kToken}}, "application/pkix-cert")
                .status,
            201);
  const std::int64_t upload_id = storage::AuditLog(database_).recent(1).front().id;
  const std::string upload_undo = "/audit/" + std::to_string(upload_id) + "/undo";
  EXPECT_EQ(http(port(), "POST", upload_undo, "csrf=" + csrf, cookie).status, 303);
  const HttpResult upload_again = http(port(), "POST", upload_undo, "csrf=" + csrf, cookie);
  EXPECT_EQ(upload_again.status, 303) << upload_again.body;
  EXPECT_NE(upload_again.location.find("cannot%20undo"), std::string::npos)
      << upload_again.location;
}

TEST_F(WebServerTest, MalformedFormsGet400) {
  const auto [cookie, csrf] = logIn();
  const HttpResult broken = http(port(), "POST", "/upload",
                                 "--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" +
                                     csrf + "\r\n--b\r\nno end of headers",
                                 cookie, {}, "multipart/form-data; boundary=b");
  EXPECT_EQ(broken.status, 400) << broken.body;
  std::string many = "csrf=" + csrf;
  for (int field = 0; field < 101; ++field) {
    many += "&f" + std::to_string(field) + "=x";
  }
  const HttpResult too_many =
      http(port(), "POST", "/clients/" + sha256Of(alice_) + "/approve", many, cookie);
  EXPECT_EQ(too_many.status, 400) << too_many.body;
  EXPECT_NE(too_many.body.find("at most 100 fields"), std::string::npos) << too_many.body;
  EXPECT_EQ(trustOf(alice_), storage::TrustState::pending);
}

TEST_F(WebServerTest, TheContentSecurityPolicyAllowsNothingInline) {
  settings_.public_status = true;
  startServer();
  for (const char* path : {"/", "/login", "/audit"}) {
    const HttpResult page = http(port(), "GET", path);
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.content_security_policy.find("unsafe-inline"), std::string::npos)
        << page.content_security_policy;
    EXPECT_NE(page.content_security_policy.find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(page.body.find("<style"), std::string::npos) << path;
    EXPECT_EQ(page.body.find(" style="), std::string::npos) << path;
    EXPECT_EQ(std::regex_search(page.body, std::regex("<script>|<script(?![^>]*src=)")), false)
        << path;
  }
  const HttpResult script = http(port(), "GET", "/static/filter.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script.body.find("#certificates tbody tr"), std::string::npos);
  const HttpResult style = http(port(), "GET", "/static/certbridge.css");
  EXPECT_EQ(style.status, 200);
  EXPECT_EQ(style.content_type, "text/css; charset=utf-8");
}

// README: pages send "X-Frame-Options: DENY and nosniff": on every page, and on the answers
// that are not a page (a redirect, a refusal, JSON) too, since a browser may render any of them.
TEST_F(WebServerTest, EveryAnswerForbidsFramingAndTypeSniffing) {
  const auto [cookie, csrf] = logIn();
  const std::map<std::string, std::string> token = {
      {"Authorization", std::string("Bearer ") + kToken}};
  const struct {
    std::string path;
    std::string cookie;
    std::map<std::string, std::string> headers;
    int status;
  } answers[] = {
      {"/", cookie, {}, 200},
      {"/login", "", {}, 200},
      {"/audit", cookie, {}, 200},
      {"/", "", {}, 303},
      {"/api/v1/status", "", token, 200},
      {"/api/v1/status", "", {}, 401},
      {"/healthz", "", {}, 503},
      {"/static/certbridge.css", "", {}, 200},
      {"/nothing-here", cookie, {}, 404},
  };
  for (const auto& answer : answers) {
    const HttpResult result = http(port(), "GET", answer.path, "", answer.cookie, answer.headers);
    EXPECT_EQ(result.status, answer.status) << answer.path << ": " << result.body;
    EXPECT_EQ(result.x_frame_options, "DENY") << answer.path;
    EXPECT_EQ(result.x_content_type_options, "nosniff") << answer.path;
  }
}

// README: "GET /api/v1/audit" with "Authorization: Bearer TOKEN"; without one, 401.
TEST_F(WebServerTest, TheAuditApiListsEntriesForABearerToken) {
  EXPECT_EQ(http(port(), "GET", "/api/v1/audit").status, 401);
  EXPECT_EQ(
      http(port(), "GET", "/api/v1/audit", "", "", {{"Authorization", "Bearer wrong"}}).status,
      401);

  const std::map<std::string, std::string> token = {
      {"Authorization", std::string("Bearer ") + kToken}};
  const std::string alice = sha256Of(alice_);
  ASSERT_EQ(http(port(), "POST", "/api/v1/certificates/" + alice + "/trust",
                 R"({"state": "trusted"})", "", token, "application/json")
                .status,
            200);
  ASSERT_EQ(http(port(), "POST", "/api/v1/certificates/" + alice + "/trust",
                 R"({"state": "blocked"})", "", token, "application/json")
                .status,
            200);

  const HttpResult api = http(port(), "GET", "/api/v1/audit", "", "", token);
  ASSERT_EQ(api.status, 200) << api.body;
  EXPECT_EQ(api.content_type.rfind("application/json", 0), 0u) << api.content_type;
  const auto listed =
      Poco::JSON::Parser().parse(api.body).extract<Poco::JSON::Object::Ptr>()->getArray("audit");
  ASSERT_TRUE(listed) << api.body;
  const std::vector<storage::AuditEntry> stored = storage::AuditLog(database_).recent(500);
  ASSERT_EQ(listed->size(), stored.size()) << api.body;
  ASSERT_GE(stored.size(), 2u);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const Poco::JSON::Object::Ptr entry = listed->getObject(static_cast<unsigned>(i));
    ASSERT_TRUE(entry) << api.body;
    EXPECT_EQ(entry->getValue<std::int64_t>("id"), stored[i].id);
    EXPECT_EQ(entry->getValue<std::int64_t>("at"), stored[i].at);
    EXPECT_EQ(entry->getValue<std::string>("actor"), stored[i].actor);
    EXPECT_EQ(entry->getValue<std::string>("origin"), stored[i].origin);
    EXPECT_EQ(entry->getValue<std::string>("action"), stored[i].action);
    EXPECT_EQ(entry->getValue<std::string>("target"), stored[i].target);
    EXPECT_EQ(entry->getValue<std::string>("detail"), stored[i].detail);
    EXPECT_EQ(entry->getValue<std::string>("previous"), stored[i].previous);
  }
  // Newest first: the block, then the approval it followed.
  const Poco::JSON::Object::Ptr newest = listed->getObject(0);
  EXPECT_EQ(newest->getValue<std::string>("action"), "trust.blocked");
  EXPECT_EQ(newest->getValue<std::string>("actor"), "api-token");
  EXPECT_EQ(newest->getValue<std::string>("origin"), "127.0.0.1");
  EXPECT_EQ(newest->getValue<std::string>("previous"), "trusted");
  EXPECT_EQ(listed->getObject(1)->getValue<std::string>("action"), "trust.trusted");
}

TEST_F(WebServerTest, PemWithTextAfterTheEndLineIsRefusedLikeDerWithTrailingBytes) {
  const std::map<std::string, std::string> token = {
      {"Authorization", std::string("Bearer ") + kToken}};
  const TestCertificate bob = TestCertificate::issue({.common_name = "bob"}, &root_);
  std::vector<unsigned char> der = bob.der();
  der.push_back(0);
  const HttpResult trailing_der =
      http(port(), "POST", "/api/v1/uploads", std::string(der.begin(), der.end()), "", token,
           "application/pkix-cert");
  EXPECT_EQ(trailing_der.status, 400) << trailing_der.body;
  const HttpResult trailing_pem =
      http(port(), "POST", "/api/v1/uploads", bob.pem() + "and then some text\n", "", token,
           "application/x-pem-file");
  EXPECT_EQ(trailing_pem.status, 400) << trailing_pem.body;
  EXPECT_NE(trailing_pem.body.find("text after its -----END line"), std::string::npos);
  EXPECT_FALSE(trustOf(bob).has_value());
  const HttpResult clean = http(port(), "POST", "/api/v1/uploads", bob.pem() + "\r\n\n  ", "",
                                token, "application/x-pem-file");
  EXPECT_EQ(clean.status, 201) << clean.body;
}

// /healthz answers each time within a second for `how_long`, while whatever else goes on.
void expectHealthzStaysLive(int port, std::chrono::milliseconds how_long) {
  const auto until = std::chrono::steady_clock::now() + how_long;
  int answers = 0;
  std::chrono::steady_clock::duration slowest{};
  while (std::chrono::steady_clock::now() < until) {
    const auto asked = std::chrono::steady_clock::now();
    EXPECT_EQ(http(port, "GET", "/healthz").status, 503) << "answered: nothing published yet";
    const auto took = std::chrono::steady_clock::now() - asked;
    EXPECT_LT(took, 1s) << "liveness bound: /healthz took "
                        << std::chrono::duration<double>(took).count() << " s";
    slowest = std::max(slowest, took);
    ++answers;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(answers, 0);
  std::printf("/healthz: %d answers, slowest %.1f ms\n", answers,
              std::chrono::duration<double, std::milli>(slowest).count());
}

TEST_F(WebServerTest, SlowRequestHeadsNeverStarveHealthz) {
  // More slow clients than request threads, from the same address as /healthz's requests.
  SlowClients nine(port(), 9, "127.0.0.1", 1s);
  expectHealthzStaysLive(port(), 3s);
  EXPECT_EQ(nine.answered("HTTP/1.1", 0), 0) << "within the head deadline they just wait";

  // Fifty from another address, and then more, up to the per-address cap and beyond it: those
  // beyond are refused at once.
  SlowClients fifty(port(), 50, "127.0.0.2", 1s);
  expectHealthzStaysLive(port(), 3s);
  const int cap = static_cast<int>(settings_.connection_limits.max_per_address);
  ASSERT_GT(cap, 50);
  SlowClients more(port(), cap - 50 + 6, "127.0.0.2", 1s);
  EXPECT_EQ(more.answered("HTTP/1.1 503 Service Unavailable", 6), 6);
  EXPECT_EQ(fifty.answered("HTTP/1.1", 0), 0);
  expectHealthzStaysLive(port(), 2s);
}

// Reads one response with a Content-Length body from a raw connection.
std::string readResponse(Poco::Net::StreamSocket& socket) {
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  std::string received;
  char buffer[4096];
  while (true) {
    const auto head_end = received.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::smatch length;
      const std::string head = received.substr(0, head_end);
      if (std::regex_search(head, length, std::regex("Content-Length: ([0-9]+)")) &&
          received.size() >= head_end + 4 + std::stoul(length[1].str())) {
        return received;
      }
    }
    const int got = socket.receiveBytes(buffer, sizeof(buffer));
    if (got <= 0) {
      return received;
    }
    received.append(buffer, static_cast<std::size_t>(got));
  }
}

TEST_F(WebServerTest, ConnectionCapsPerAddressAndInAllSparingTrustedProxies) {
  settings_.connection_limits.max_per_address = 2;
  settings_.connection_limits.max_connections = 6;
  settings_.trusted_proxies = parseAddressRanges("127.0.0.1");
  startServer();
  SlowClients proxy(port(), 3, "127.0.0.1", 1s);  // a trusted proxy: over the cap, all kept
  SlowClients client(port(), 3, "127.0.0.3", 1s);
  EXPECT_EQ(client.answered("HTTP/1.1 503 Service Unavailable", 1), 1);
  EXPECT_EQ(proxy.answered("HTTP/1.1", 0), 0);
  // Five open: one more from a third address fits, the next one is over the cap in all.
  SlowClients third(port(), 2, "127.0.0.4", 1s);
  EXPECT_EQ(third.answered("HTTP/1.1 503 Service Unavailable", 1), 1);
}

TEST_F(WebServerTest, AConnectionThatSendsNothingIsClosed) {
  settings_.connection_limits.head_timeout = 1500ms;
  startServer();
  Poco::Net::StreamSocket silent(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port())));
  EXPECT_EQ(readResponse(silent), "") << "closed without an answer";
}

TEST_F(WebServerTest, ASmallBodyMustArriveWithItsHead) {
  settings_.connection_limits.head_timeout = 1500ms;
  startServer();
  // Nine clients that promise a 100-byte form and send 10 bytes of it: more than the request
  // threads, and none of them gets one.
  std::vector<Poco::Net::StreamSocket> stalled;
  const std::string start =
      "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 100\r\n\r\npassword=";
  for (int i = 0; i < 9; ++i) {
    stalled.emplace_back(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port())));
    stalled.back().sendBytes(start.data(), static_cast<int>(start.size()), MSG_NOSIGNAL);
  }
  expectHealthzStaysLive(port(), 1s);
  for (Poco::Net::StreamSocket& socket : stalled) {
    EXPECT_TRUE(readResponse(socket).starts_with("HTTP/1.1 408 Request Timeout"));
  }
}

TEST_F(WebServerTest, ALargeBodyThatStopsCostsARequestThreadOnlyUntilTheReadTimeout) {
  settings_.request_timeout = std::chrono::seconds(2);
  startServer();
  Poco::Net::StreamSocket stalled(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port())));
  const std::string start = "POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                            std::string(kToken) + "\r\nContent-Length: 40000\r\n\r\n" +
                            std::string(100, 'A');
  stalled.sendBytes(start.data(), static_cast<int>(start.size()), MSG_NOSIGNAL);
  const std::string answer = readResponse(stalled);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 408")) << answer;
  EXPECT_NE(answer.find("ended before its Content-Length of 40000 bytes"), std::string::npos)
      << answer;
}

TEST_F(WebServerTest, AKeptAliveConnectionWaitsForEachHeadAtTheGate) {
  settings_.connection_limits.head_timeout = 1500ms;
  startServer();
  Poco::Net::StreamSocket connection(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port())));
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int round = 0; round < 3; ++round) {
    connection.sendBytes(request.data(), static_cast<int>(request.size()), MSG_NOSIGNAL);
    const std::string response = readResponse(connection);
    EXPECT_TRUE(response.starts_with("HTTP/1.1 503")) << round << ": " << response;
    EXPECT_NE(response.find("Keep-Alive"), std::string::npos) << response;
  }
  // Its next head, sent slowly, meets the same deadline as a new connection's.
  const std::string partial = "GET /healthz HTTP/1.1\r\n";
  connection.sendBytes(partial.data(), static_cast<int>(partial.size()), MSG_NOSIGNAL);
  EXPECT_TRUE(readResponse(connection).starts_with("HTTP/1.1 408 Request Timeout"));
}

TEST_F(WebServerTest, TheWholeRequestHeadHasADeadlineAndASizeLimit) {
  settings_.connection_limits.head_timeout = 1500ms;
  startServer();
  const auto started = std::chrono::steady_clock::now();
  SlowClients slow(port(), 2, "127.0.0.1", 300ms);  // each line restarts no timer
  EXPECT_EQ(slow.answered("HTTP/1.1 408 Request Timeout", 2), 2);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1400ms)
      << "the deadline counts from the connection";

  Poco::Net::StreamSocket huge(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port())));
  const std::string head = "GET / HTTP/1.1\r\nX-Big: " + std::string(40 * 1024, 'a');
  huge.sendBytes(head.data(), static_cast<int>(head.size()), MSG_NOSIGNAL);
  huge.setReceiveTimeout(Poco::Timespan(10, 0));
  char answer[64] = {};
  const int received = huge.receiveBytes(answer, sizeof(answer) - 1);
  EXPECT_EQ(std::string(answer, static_cast<std::size_t>(std::max(received, 0))).substr(0, 12),
            "HTTP/1.1 431");
  EXPECT_EQ(http(port(), "GET", "/healthz").status, 503) << "and the server serves on";
}

}  // namespace
}  // namespace certbridge::web
