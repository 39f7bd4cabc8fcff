#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "storage/password.h"
#include "tests/integration/mtls_edge.h"
#include "tests/support/browser.h"

namespace certbridge::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "browser-test-password";
constexpr const char* kToken = "integration-api-token";

// Every key path of a JSON value ("crls[].ca_sha256"), arrays as the union of their elements.
void collectKeys(const Poco::Dynamic::Var& value, const std::string& prefix,
                 std::set<std::string>& keys) {
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    const auto object = value.extract<Poco::JSON::Object::Ptr>();
    for (const auto& [name, member] : *object) {
      keys.insert(prefix + name);
      collectKeys(member, prefix + name + ".", keys);
    }
  } else if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    for (const auto& element : *value.extract<Poco::JSON::Array::Ptr>()) {
      collectKeys(element, prefix.substr(0, prefix.size() - 1) + "[].", keys);
    }
  }
}

std::set<std::string> keysOf(const std::string& json) {
  std::set<std::string> keys;
  collectKeys(Poco::JSON::Parser().parse(json), "", keys);
  return keys;
}

std::string joined(const std::set<std::string>& keys) {
  std::string text;
  for (const std::string& key : keys) {
    text += key + " ";
  }
  return text;
}

// `certbridge run` with its web page, a real nginx, and real headless Chromium.
class WebInBrowser : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    writeConfig("pid_file = " + nginx_->pidFile(), "manual",
                "admin_password_hash = " + storage::hashPassword(kPassword, 1000) +
                    "\napi_token_sha256 = " + storage::sha256Hex(kToken) + "\n");
    publishAndStartNginx();
    const ShellResult started =
        shell(quoted(certbridgeBinary()) + " --config " + quoted(configFile()) + " run > " +
              quoted(root_.file("run.log")) + " 2>&1 & echo $!");
    agent_pid_ = std::stoi(started.output);
    const std::regex listening("web page on http://127\\.0\\.0\\.1:([0-9]+)/");
    for (int attempt = 0; attempt < 200 && web_port_ == 0; ++attempt) {
      std::smatch match;
      const std::string log = readFile(root_.file("run.log"));
      if (std::regex_search(log, match, listening)) {
        web_port_ = std::stoi(match[1].str());
      }
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_NE(web_port_, 0) << readFile(root_.file("run.log"));
  }

  void TearDown() override {
    if (agent_pid_ != 0) {
      shell("kill -TERM " + std::to_string(agent_pid_));
    }
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(web_port_) + path;
  }

  int agent_pid_ = 0;
  int web_port_ = 0;
};

TEST_F(WebInBrowser, LogInSeeExpiryApproveAndNginxAcceptsTheClient) {
  ASSERT_EQ(statusFor("alice"), 403) << "alice waits for approval (policy manual)";
  Browser browser;

  browser.open(url("/"));
  EXPECT_NE(browser.currentUrl().find("/login"), std::string::npos) << "the page needs a login";
  browser.type(browser.find("#password"), "wrong password");
  browser.click(browser.find("#login"));
  EXPECT_NE(browser.text(browser.find("#login-error")).find("Wrong password"), std::string::npos);

  browser.type(browser.find("#password"), kPassword);
  browser.click(browser.find("#login"));
  ASSERT_TRUE(browser.waitForUrl(url("/"))) << browser.currentUrl();
  const std::string table = browser.text(browser.find("#certificates"));
  EXPECT_NE(table.find("CN=alice,O=certbridge demo"), std::string::npos) << table;
  EXPECT_NE(table.find("fine"), std::string::npos) << "expiry band in words";
  EXPECT_NE(table.find("pending"), std::string::npos);

  // Nothing inline runs (the CSP has no 'unsafe-inline'): the style sheet and the filter
  // script are files, and both took effect.
  EXPECT_EQ(browser.script("return document.querySelectorAll('script:not([src]), style').length;"),
            "0");
  EXPECT_EQ(browser.script("return getComputedStyle(document.querySelector('header'))"
                           ".backgroundColor;"),
            "rgb(32, 48, 63)")
      << "the served style sheet applies";

  // The filter works in the page, without a reload.
  browser.type(browser.find("#filter"), "alice");
  EXPECT_EQ(browser.script("return Array.from(document.querySelectorAll('#certificates tbody "
                           "tr')).filter(function (r) { return r.style.display !== 'none'; })"
                           ".length;"),
            "1");
  browser.screenshot(std::filesystem::current_path() / "web-status-filtered.png");
  browser.open(url("/"));

  const auto approved_at = std::chrono::steady_clock::now();
  browser.click(browser.find("tr[data-sha256=\"" + fingerprint("alice", "sha256") +
                             "\"] button[name=approve]"));
  EXPECT_EQ(waitForStatus(200, "alice"), 200) << readFile(root_.file("run.log"));
  std::printf(
      "approve to enforcement: %.3f s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - approved_at).count());
  EXPECT_NE(readFile(out("clients.map")).find(fingerprint("alice", "sha1")), std::string::npos);

  browser.open(url("/"));
  EXPECT_NE(browser.text(browser.find("#certificates")).find("trusted"), std::string::npos);
  const std::string screenshot = std::filesystem::current_path() / "web-status.png";
  browser.screenshot(screenshot);
  EXPECT_GT(std::filesystem::file_size(screenshot), 10000u);
  std::printf("screenshot: %s\n", screenshot.c_str());

  browser.open(url("/audit"));
  const std::string audit = browser.text(browser.find("#audit"));
  EXPECT_NE(audit.find("trust.trusted"), std::string::npos) << audit;
  EXPECT_NE(audit.find("admin"), std::string::npos);
  EXPECT_NE(audit.find("127.0.0.1"), std::string::npos);
}

TEST_F(WebInBrowser, TheApiHasTheFieldsOfStatusJson) {
  // SetUp published once: stores, certificates and the last publish are there to compare.
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(web_port_));
  Poco::Net::HTTPRequest request("GET", "/api/v1/status", Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", std::string("Bearer ") + kToken);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::string api;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), api);
  ASSERT_EQ(response.getStatus(), 200) << api;
  const ShellResult status = certbridge("status --json");
  ASSERT_NE(status.output.find('{'), std::string::npos) << status.output;

  std::set<std::string> expected = keysOf(status.output.substr(status.output.find('{')));
  for (const char* key : {"certificates[].sha256", "stores[].name", "last_publish.result",
                          "crls[].ca_sha256", "crls[].message"}) {
    ASSERT_TRUE(expected.contains(key)) << key << " missing: " << joined(expected);
  }
  // The documented differences: the database's path stays off the web; the page's warnings
  // are the web's own.
  expected.erase("database");
  expected.insert("warnings");
  const std::set<std::string> actual = keysOf(api);
  EXPECT_EQ(actual, expected) << "API: " << joined(actual)
                              << "\nstatus --json: " << joined(expected);
}

}  // namespace
}  // namespace certbridge::testing
