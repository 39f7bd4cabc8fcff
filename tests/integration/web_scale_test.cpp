// The status page with 100,000 certificates in the database, in headless Chromium: the first
// screen renders with the counts over all of them, paging and the filters work. The database is
// filled directly with one bulk insert (tests/support/bulk_certificates.h) (a sync of 100,000
// certificates would take minutes here); the web server runs in this process with the agent's
// control service, as `run` wires them.
#include <Poco/Logger.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>

#include "agent/sync/agent_control_service.h"
#include "storage/database.h"
#include "storage/password.h"
#include "tests/support/browser.h"
#include "tests/support/bulk_certificates.h"
#include "tests/support/temp_dir.h"
#include "web/web_server.h"

namespace certbridge::testing {
namespace {

constexpr int kCertificates = 100'000;
constexpr const char* kPassword = "scale-test-password";

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

class WebAtScale : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto started = std::chrono::steady_clock::now();
    addBulkClients(database_, kCertificates, unixNow(), true);
    std::printf("filled %d certificates in %.1f s\n", kCertificates,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    web::WebSettings settings;
    settings.listen = "127.0.0.1:0";
    settings.admin_password_hash = storage::hashPassword(kPassword, 1000);
    server_ = std::make_unique<web::WebServer>(settings, database_, control_,
                                               Poco::Logger::get("web-scale-test"));
    server_->start();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  // The SHA-256 of each row of the table, checking that there are as many as rows.
  std::set<std::string> rowsShown(Browser& browser) {
    const std::string length =
        browser.script("return document.querySelectorAll('#certificates tbody tr').length;");
    const std::string json = browser.script(
        "return Array.from(document.querySelectorAll('#certificates tbody tr'))"
        ".map(function (r) { return r.getAttribute('data-sha256'); }).join(' ');");
    // A string comes back as it is (no JSON quotes): SHA-256s separated by spaces.
    std::set<std::string> rows;
    std::istringstream words(json);
    for (std::string row; words >> row;) {
      rows.insert(row);
    }
    EXPECT_EQ(std::to_string(rows.size()), length) << json;
    return rows;
  }

  TempDir dir_;
  storage::Database database_{dir_.file("certbridge.db")};
  agent::sync::AgentControlService control_{database_};
  std::unique_ptr<web::WebServer> server_;
};

TEST_F(WebAtScale, FirstScreenPagingAndFiltersWithAHundredThousandCertificates) {
  Browser browser;
  browser.open(url("/login"));
  browser.type(browser.find("#password"), kPassword);
  browser.click(browser.find("#login"));
  ASSERT_TRUE(browser.waitForUrl(url("/"))) << browser.currentUrl();

  const auto opened = std::chrono::steady_clock::now();
  browser.open(url("/"));
  std::printf("GET / with %d certificates, rendered: %.3f s\n", kCertificates,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - opened).count());
  const std::set<std::string> first = rowsShown(browser);
  EXPECT_EQ(first.size(), 100u) << "one page of 100 rows";
  EXPECT_EQ(browser.text(browser.find("#count-total")), "100000");
  EXPECT_EQ(browser.text(browser.find("#count-blocked")), "10000");
  EXPECT_EQ(browser.text(browser.find("#count-pending")), "10000");
  EXPECT_EQ(browser.text(browser.find("#count-left-out")), "1000");
  EXPECT_EQ(browser.text(browser.find("#count-trusted")), "79000");
  EXPECT_EQ(browser.text(browser.find("#matched")), "100000");
  const std::string table = browser.text(browser.find("#certificates"));
  EXPECT_NE(table.find("CN=bulk-000000"), std::string::npos) << "soonest expiry first";
  EXPECT_NE(table.find("EXPIRED"), std::string::npos);
  browser.screenshot(std::filesystem::current_path() / "web-status-100k.png");

  // The next page: 100 other rows, and a way back to the first.
  const std::string next = browser.script("return document.getElementById('next-page').href;");
  browser.click(browser.find("#next-page"));
  ASSERT_TRUE(browser.waitForUrl(next)) << next << " / " << browser.currentUrl();
  const std::set<std::string> second = rowsShown(browser);
  EXPECT_EQ(second.size(), 100u);
  for (const std::string& row : second) {
    EXPECT_FALSE(first.contains(row)) << row << " on both pages";
  }
  EXPECT_NE(browser.text(browser.find("#certificates")).find("CN=bulk-000100"), std::string::npos);
  EXPECT_NO_THROW(browser.find("#first-page"));

  // A subject filter over all 100,000, in SQL.
  browser.open(url("/"));
  browser.type(browser.find("#search-subject"), "BULK-077777");
  browser.click(browser.find("#search-submit"));
  ASSERT_TRUE(
      browser.waitForUrl(url("/?subject=BULK-077777&issuer=&serial=&fingerprint=&state=&order=")))
      << browser.currentUrl();
  EXPECT_EQ(rowsShown(browser).size(), 1u);
  EXPECT_EQ(browser.text(browser.find("#matched")), "1");
  EXPECT_NE(browser.text(browser.find("#certificates")).find("CN=bulk-077777"), std::string::npos);
  EXPECT_EQ(browser.script("return document.getElementById('search-subject').value;"),
            "BULK-077777")
      << "the search stays in the form";

  // A state filter, latest expiry first.
  browser.open(url("/"));
  browser.script(
      "document.getElementById('search-state').value = 'left out';"
      "document.getElementById('search-order').value = 'latest';"
      "document.getElementById('search').submit(); return 0;");
  ASSERT_TRUE(browser.waitForUrl(
      url("/?subject=&issuer=&serial=&fingerprint=&state=left+out&order=latest")))
      << browser.currentUrl();
  EXPECT_EQ(browser.text(browser.find("#matched")), "1000");
  EXPECT_EQ(rowsShown(browser).size(), 100u);
  EXPECT_NE(browser.text(browser.find("#certificates")).find("CN=bulk-099902"), std::string::npos)
      << "the latest-expiring left-out client first";
}

}  // namespace
}  // namespace certbridge::testing
