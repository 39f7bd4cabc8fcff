#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "tests/integration/mtls_edge.h"
#include "tests/support/browser.h"
#include "web/password.h"

namespace certbridge::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "browser-test-password";

// `certbridge run` with its web page, a real nginx, and real headless Chromium.
class WebInBrowser : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    writeConfig("pid_file = " + nginx_->pidFile(), "manual",
                "[web]\nadmin_password_hash = " + web::hashPassword(kPassword, 1000) + "\n");
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

}  // namespace
}  // namespace certbridge::testing
