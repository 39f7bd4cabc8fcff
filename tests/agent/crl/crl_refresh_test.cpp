#include "agent/crl/crl_refresh.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>

#include "agent/crl/url_fetcher.h"
#include "agent/pki/crl.h"
#include "storage/certificate_repository.h"
#include "tests/support/http_server.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::agent {
namespace {

using testing::CrlSpec;
using testing::HttpReply;
using testing::TestCertificate;

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// Real HTTP on 127.0.0.1 (a Poco server inside the test), a real SQLite file.
class CrlRefreshTest : public ::testing::Test {
 protected:
  // The CA is known to storage, as a store sync would have made it.
  CrlRefreshTest() {
    storage::CertificateRepository(database_).applySnapshot(
        {"main", "nss", "sql:/x", "auto"},
        {{ca_parsed_.record(), "ca", storage::CertificateRole::anchor}}, "digest", unixNow());
  }

  CrlSources from(const std::vector<std::string>& paths) {
    CrlSources sources;
    for (const std::string& path : paths) {
      sources.urls.push_back(CrlUrl{server_.url(path), false});
    }
    return sources;
  }

  HttpReply crlReply(const CrlSpec& spec) { return HttpReply{.body = ca_.crlDer(spec)}; }

  std::optional<storage::CrlRecord> held() { return crls_.current(ca_parsed_.record().sha256); }

  storage::CrlFetchState state() { return *crls_.fetchState(ca_parsed_.record().sha256); }

  // Stores CRL number 5 so that every later test starts from a CRL held.
  void holdNumberFive() {
    held_der_ = ca_.crlDer(CrlSpec{.revoked_serials = {"AA"}, .number = 5});
    server_.set("/ca.crl", HttpReply{.body = held_der_});
    ASSERT_EQ(refresher_.refresh(ca_parsed_, from({"/ca.crl"}), unixNow(), true).result,
              CrlRefreshOutcome::updated);
  }

  // After a refused or failed fetch, the CRL held before is still the one in use.
  void expectNumberFiveStillHeld() {
    ASSERT_TRUE(held().has_value());
    EXPECT_EQ(held()->number, "05");
    EXPECT_TRUE(crls_.isRevoked(ca_parsed_.record().sha256, "AA"));
  }

  std::vector<unsigned char> held_der_;
  testing::TempDir dir_;
  testing::TestHttpServer server_;
  storage::Database database_{dir_.file("certbridge.db")};
  storage::CrlRepository crls_{database_};
  CrlSettings settings_;
  CrlRefresher refresher_{settings_, database_, Poco::Logger::get("test")};
  TestCertificate ca_ = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  Certificate ca_parsed_ = Certificate::fromDer(ca_.der(), "ca");
};

TEST_F(CrlRefreshTest, FetchesVerifiesAndStoresWithRevokedSerials) {
  const std::vector<unsigned char> served =
      ca_.crlDer(CrlSpec{.revoked_serials = {"0A", "0B"}, .number = 2});
  server_.set("/ca.crl", HttpReply{.body = served});
  const CrlRefreshResult result =
      refresher_.refresh(ca_parsed_, from({"/ca.crl"}), unixNow(), false);
  EXPECT_EQ(result.result, CrlRefreshOutcome::updated) << result.detail;
  ASSERT_TRUE(held().has_value());
  EXPECT_EQ(held()->number, "02");
  EXPECT_EQ(held()->revoked_count, 2);
  EXPECT_EQ(held()->source, server_.url("/ca.crl"));
  EXPECT_TRUE(crls_.isRevoked(ca_parsed_.record().sha256, "0A"));
  EXPECT_FALSE(crls_.isRevoked(ca_parsed_.record().sha256, "0C"));
  EXPECT_EQ(crls_.der(ca_parsed_.record().sha256), served);
  EXPECT_EQ(state().last_result, "updated");
  EXPECT_EQ(state().failures, 0);
}

TEST_F(CrlRefreshTest, PemOverHttpIsAcceptedToo) {
  const std::string pem = crlToPem(ca_.crlDer({"01"}));
  server_.set("/ca.pem", HttpReply{.body = std::vector<unsigned char>(pem.begin(), pem.end())});
  const CrlRefreshResult result =
      refresher_.refresh(ca_parsed_, from({"/ca.pem"}), unixNow(), false);
  EXPECT_EQ(result.result, CrlRefreshOutcome::updated) << result.detail;
}

TEST_F(CrlRefreshTest, SourcesAreTriedInOrderUntilOneWorks) {
  server_.set("/second.crl", crlReply(CrlSpec{.number = 3}));
  const CrlRefreshResult result =
      refresher_.refresh(ca_parsed_, from({"/first.crl", "/second.crl"}), unixNow(), false);
  EXPECT_EQ(result.result, CrlRefreshOutcome::updated);
  EXPECT_EQ(held()->source, server_.url("/second.crl"));
}

// Each failure of item 3 (README, CRLs) is recorded with its reason, and the CRL held before stays
// in use.
TEST_F(CrlRefreshTest, EachFetchFailureIsRecordedAndKeepsTheHeldCrl) {
  holdNumberFive();
  const int closed_port = testing::freeLoopbackPort();
  settings_.read_timeout = std::chrono::seconds(1);
  settings_.max_size = 4096;
  server_.set("/slow.crl", HttpReply{.body = ca_.crlDer(CrlSpec{.number = 6}),
                                     .delay = std::chrono::milliseconds(2500)});
  server_.set("/big.crl", HttpReply{.body = std::vector<unsigned char>(5000, 0x30)});
  server_.set("/garbage.crl", HttpReply{.body = {'<', 'h', 't', 'm', 'l', '>'}});
  server_.set("/server-error.crl", HttpReply{.status = 500, .body = {'x'}});

  const struct {
    std::string url;
    std::string reason;
  } cases[] = {
      {"http://127.0.0.1:" + std::to_string(closed_port) + "/ca.crl", "connection refused"},
      {server_.url("/slow.crl"), "timed out"},
      {server_.url("/missing.crl"), "HTTP 404"},
      {server_.url("/server-error.crl"), "HTTP 500"},
      {server_.url("/big.crl"), "larger than the limit of 4096 bytes"},
      {server_.url("/garbage.crl"), "neither a DER CRL nor PEM"},
      {"https://127.0.0.1/ca.crl", "only http:// and file:// URLs"},
      {"file://" + dir_.file("absent.crl"), "absent.crl"},
  };
  for (const auto& failure : cases) {
    // As if from [crl.urls], where file:// is allowed.
    const CrlRefreshResult result = refresher_.refresh(
        ca_parsed_, CrlSources{.store_crls = {}, .urls = {CrlUrl{failure.url, true}}}, unixNow(),
        true);
    EXPECT_EQ(result.result, CrlRefreshOutcome::failed) << failure.url;
    EXPECT_NE(result.detail.find(failure.reason), std::string::npos)
        << failure.url << ": " << result.detail;
    EXPECT_NE(state().last_error.find(failure.reason), std::string::npos);
    expectNumberFiveStillHeld();
  }
}

TEST_F(CrlRefreshTest, RedirectsAreFollowedAtMostThreeTimes) {
  const std::vector<unsigned char> final_crl = ca_.crlDer(CrlSpec{.number = 9});
  server_.set("/final.crl", HttpReply{.body = final_crl});
  const auto redirect = [&](const std::string& to) {
    return HttpReply{.status = 302, .body = {}, .headers = {{"Location", to}}};
  };
  server_.set("/r1", redirect("/r2"));
  server_.set("/r2", redirect("/r3"));
  server_.set("/r3", redirect("/final.crl"));
  server_.set("/loop", redirect("/loop"));
  const FetchLimits limits;
  EXPECT_EQ(fetchUrl(server_.url("/r1"), limits), final_crl);
  EXPECT_EQ(server_.requests("/final.crl"), 1);
  try {
    fetchUrl(server_.url("/loop"), limits);
    FAIL() << "a redirect loop was followed forever";
  } catch (const FetchError& error) {
    EXPECT_NE(std::string(error.what()).find("more than 3 redirects"), std::string::npos);
  }
  EXPECT_EQ(server_.requests("/loop"), 4);
}

// Each refusal of item 4 (README, CRLs): the CRL is not stored, the reason is recorded, the held
// one stays.
TEST_F(CrlRefreshTest, EachVerificationFailureIsRefused) {
  holdNumberFive();
  const TestCertificate other =
      TestCertificate::issue({.common_name = "Other", .ca = true}, nullptr);
  const TestCertificate impostor =
      TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  server_.set("/other-issuer.crl", HttpReply{.body = other.crlDer(CrlSpec{.number = 6})});
  server_.set("/bad-signature.crl", HttpReply{.body = impostor.crlDer(CrlSpec{.number = 6})});
  server_.set(
      "/future.crl",
      crlReply(CrlSpec{.this_update_offset = 7200, .next_update_offset = 90000, .number = 6}));
  server_.set("/older.crl", crlReply(CrlSpec{.number = 4}));
  server_.set("/same.crl", HttpReply{.body = held_der_});
  server_.set(
      "/expired.crl",
      crlReply(CrlSpec{.this_update_offset = -7200, .next_update_offset = -60, .number = 6}));
  const struct {
    const char* path;
    const char* reason;
  } cases[] = {
      {"/other-issuer.crl", "not by this CA"},
      {"/bad-signature.crl", "signature does not verify"},
      {"/future.crl", "thisUpdate is in the future"},
      {"/older.crl", "older than the CRL held"},
      {"/same.crl", "not newer than the CRL held"},
      {"/expired.crl", "expired"},
  };
  for (const auto& refusal : cases) {
    const CrlRefreshResult result =
        refresher_.refresh(ca_parsed_, from({refusal.path}), unixNow(), true);
    EXPECT_NE(result.result, CrlRefreshOutcome::updated) << refusal.path;
    EXPECT_NE(result.detail.find(refusal.reason), std::string::npos)
        << refusal.path << ": " << result.detail;
    expectNumberFiveStillHeld();
  }
}

TEST_F(CrlRefreshTest, StoreCrlsComeFirstAndNeedNoNetwork) {
  CrlSources sources = from({"/ca.crl"});
  sources.store_crls.emplace_back("store:main", ca_.crlDer(CrlSpec{.number = 4}));
  const CrlRefreshResult result = refresher_.refresh(ca_parsed_, sources, unixNow(), false);
  EXPECT_EQ(result.result, CrlRefreshOutcome::updated);
  EXPECT_EQ(held()->source, "store:main");
  EXPECT_EQ(server_.requests("/ca.crl"), 0);
}

TEST_F(CrlRefreshTest, NextFetchIsPlannedAtEightyPercentWithJitterAndSurvivesRestart) {
  const std::int64_t now = unixNow();
  // Valid from now-60 to now+9940: a 10,000 s window.
  server_.set("/ca.crl", crlReply(CrlSpec{
                             .this_update_offset = -60, .next_update_offset = 9940, .number = 1}));
  settings_.min_lead = std::chrono::seconds(1);
  ASSERT_EQ(refresher_.refresh(ca_parsed_, from({"/ca.crl"}), now, false).result,
            CrlRefreshOutcome::updated);
  const std::int64_t this_update = held()->this_update;
  const std::int64_t planned = *state().next_fetch_at;
  EXPECT_LE(planned, this_update + 8000);
  EXPECT_GE(planned, this_update + 8000 - 500) << "jitter is at most 5 % of the window";

  EXPECT_EQ(refresher_.refresh(ca_parsed_, from({"/ca.crl"}), planned - 1, false).result,
            CrlRefreshOutcome::not_due);
  EXPECT_EQ(server_.requests("/ca.crl"), 1) << "nothing fetched before the plan";

  CrlRefresher after_restart(settings_, database_, Poco::Logger::get("test"));
  EXPECT_EQ(after_restart.nextDue(), planned);
}

TEST_F(CrlRefreshTest, MinimumLeadMovesTheFetchEarlier) {
  settings_.min_lead = std::chrono::seconds(5000);
  server_.set("/ca.crl", crlReply(CrlSpec{
                             .this_update_offset = -60, .next_update_offset = 9940, .number = 1}));
  ASSERT_EQ(refresher_.refresh(ca_parsed_, from({"/ca.crl"}), unixNow(), false).result,
            CrlRefreshOutcome::updated);
  EXPECT_LE(*state().next_fetch_at, *held()->next_update - 5000);
}

TEST_F(CrlRefreshTest, FailuresBackOffExponentiallyUpToTheCap) {
  settings_.retry_initial = std::chrono::seconds(10);
  settings_.retry_max = std::chrono::seconds(60);
  const std::int64_t now = unixNow();
  std::vector<std::int64_t> delays;
  for (int attempt = 0; attempt < 5; ++attempt) {
    refresher_.refresh(ca_parsed_, from({"/missing.crl"}), now, true);
    delays.push_back(*state().next_fetch_at - now);
  }
  EXPECT_EQ(delays, (std::vector<std::int64_t>{10, 20, 40, 60, 60}));
  EXPECT_EQ(state().failures, 5);
  EXPECT_EQ(state().last_result, "failed");

  server_.set("/missing.crl", crlReply(CrlSpec{.number = 1}));
  EXPECT_EQ(refresher_.refresh(ca_parsed_, from({"/missing.crl"}), now, true).result,
            CrlRefreshOutcome::updated);
  EXPECT_EQ(state().failures, 0);
}

TEST_F(CrlRefreshTest, ACaWithoutAnySourceSaysSo) {
  const CrlRefreshResult result = refresher_.refresh(ca_parsed_, CrlSources{}, unixNow(), true);
  EXPECT_EQ(result.result, CrlRefreshOutcome::failed);
  EXPECT_NE(result.detail.find("no source"), std::string::npos) << result.detail;
}

TEST(FindCrlSources, DistributionPointsOfIssuedCertificatesThenConfiguredUrls) {
  const TestCertificate root = TestCertificate::issue(
      {.common_name = "Root", .ca = true, .crl_distribution_point = "http://127.0.0.1/self.crl"},
      nullptr);
  const TestCertificate client = TestCertificate::issue(
      {.common_name = "c", .crl_distribution_point = "http://127.0.0.1/root.crl"}, &root);
  const Certificate root_parsed = Certificate::fromDer(root.der(), "root");
  storage::CertificateView view;
  view.certificate = Certificate::fromDer(client.der(), "client").record();
  view.present = true;
  view.sources = "main/c";
  CrlSettings settings;
  settings.extra_urls[root_parsed.record().sha256] = {"file:///var/lib/root.crl"};
  const CrlSources sources = findCrlSources(root_parsed, {view}, {}, settings);
  EXPECT_EQ(sources.urls, (std::vector<CrlUrl>{{"http://127.0.0.1/self.crl", false},
                                               {"http://127.0.0.1/root.crl", false},
                                               {"file:///var/lib/root.crl", true}}));
}

// The fetch policy: a certificate's distribution point is taken only when it is http://, from
// a certificate an OS store holds (uploads only with upload_cdps) and, with allowed_hosts, on an
// allowed host. Each one left out is said, with its reason.
class FindCrlSourcesPolicy : public ::testing::Test {
 protected:
  storage::CertificateView issued(const std::string& name, const std::string& point,
                                  const std::string& sources) const {
    const TestCertificate client =
        TestCertificate::issue({.common_name = name, .crl_distribution_point = point}, &root_);
    storage::CertificateView view;
    view.certificate = Certificate::fromDer(client.der(), name).record();
    view.present = true;
    view.sources = sources;
    return view;
  }

  std::vector<std::string> urlsOf(const CrlSources& sources) const {
    std::vector<std::string> urls;
    for (const CrlUrl& url : sources.urls) {
      urls.push_back(url.url);
    }
    return urls;
  }

  std::string refusals(const CrlSources& sources) const {
    std::string text;
    for (const std::string& refusal : sources.refused) {
      text += refusal + "\n";
    }
    return text;
  }

  TestCertificate root_ = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  Certificate root_parsed_ = Certificate::fromDer(root_.der(), "root");
};

TEST_F(FindCrlSourcesPolicy, UploadedCertificatesNameNoUrlUnlessUploadCdpsIsOn) {
  const std::vector<storage::CertificateView> views = {
      issued("up", "http://127.0.0.1:1/uploaded.crl", "uploads/uploaded by admin"),
      issued("os", "http://127.0.0.1:1/store.crl", "main/os"),
      issued("both", "http://127.0.0.1:1/both.crl", "main/both, uploads/uploaded by admin")};
  CrlSettings settings;
  CrlSources sources = findCrlSources(root_parsed_, views, {}, settings);
  EXPECT_EQ(urlsOf(sources), (std::vector<std::string>{"http://127.0.0.1:1/store.crl",
                                                       "http://127.0.0.1:1/both.crl"}));
  EXPECT_NE(refusals(sources).find(
                "http://127.0.0.1:1/uploaded.crl (named by 'CN=up,O=certbridge test'): "
                "not fetched, the certificate was uploaded through the web page "
                "and [crl] upload_cdps is off"),
            std::string::npos)
      << refusals(sources);

  settings.upload_cdps = true;
  sources = findCrlSources(root_parsed_, views, {}, settings);
  EXPECT_EQ(urlsOf(sources).size(), 3u);
  EXPECT_TRUE(sources.refused.empty()) << refusals(sources);
}

TEST_F(FindCrlSourcesPolicy, FileUrlsComeOnlyFromTheConfiguration) {
  CrlSettings settings;
  settings.extra_urls[root_parsed_.record().sha256] = {"file:///var/lib/root.crl"};
  const CrlSources sources =
      findCrlSources(root_parsed_, {issued("os", "file:///etc/passwd", "main/os")}, {}, settings);
  EXPECT_EQ(sources.urls, (std::vector<CrlUrl>{{"file:///var/lib/root.crl", true}}));
  EXPECT_NE(refusals(sources).find("file:///etc/passwd (named by 'CN=os,O=certbridge test'): "
                                   "file:// is read only from [crl.urls]"),
            std::string::npos)
      << refusals(sources);
}

TEST_F(FindCrlSourcesPolicy, AllowedHostsLimitDistributionPointsButNotTheConfiguredUrls) {
  CrlSettings settings;
  settings.allowed_hosts = {"crl.example.com", "*.pki.example.org"};
  settings.extra_urls[root_parsed_.record().sha256] = {"http://elsewhere.example.net/root.crl"};
  const CrlSources sources =
      findCrlSources(root_parsed_,
                     {issued("a", "http://crl.example.com/a.crl", "main/a"),
                      issued("b", "http://CA1.PKI.example.org:8080/b.crl", "main/b"),
                      issued("c", "http://pki.example.org/c.crl", "main/c"),
                      issued("d", "http://evil.example.com/d.crl", "main/d")},
                     {}, settings);
  EXPECT_EQ(urlsOf(sources), (std::vector<std::string>{"http://crl.example.com/a.crl",
                                                       "http://CA1.PKI.example.org:8080/b.crl",
                                                       "http://elsewhere.example.net/root.crl"}));
  EXPECT_NE(refusals(sources).find("host 'pki.example.org' is not in [crl] allowed_hosts"),
            std::string::npos)
      << refusals(sources);
  EXPECT_NE(refusals(sources).find("host 'evil.example.com' is not in [crl] allowed_hosts"),
            std::string::npos)
      << refusals(sources);
}

TEST(HostMatches, ExactNamesAndSubdomainPatterns) {
  const std::vector<std::string> patterns = {"crl.example.com", "*.example.org", "127.0.0.1"};
  EXPECT_TRUE(hostMatches("crl.example.com", patterns));
  EXPECT_TRUE(hostMatches("CRL.Example.COM", patterns));
  EXPECT_TRUE(hostMatches("a.b.example.org", patterns));
  EXPECT_TRUE(hostMatches("127.0.0.1", patterns));
  EXPECT_FALSE(hostMatches("example.org", patterns)) << "*.example.org is only names below it";
  EXPECT_FALSE(hostMatches("badexample.org", patterns));
  EXPECT_FALSE(hostMatches("crl.example.com.evil.net", patterns));
  EXPECT_FALSE(hostMatches("127.0.0.2", patterns));
}

// The issue's case: an http:// CRL server answering 302 Location: file:///etc/passwd. Nothing
// is read: a readable, valid CRL file as the target proves it (it would be accepted if read).
TEST_F(CrlRefreshTest, ARedirectMayLeadOnlyToAnotherHttpUrl) {
  const std::vector<unsigned char> crl = ca_.crlDer(CrlSpec{.number = 7});
  testing::writeFile(dir_.file("ca.crl"), std::string(crl.begin(), crl.end()));
  const auto redirect = [&](const std::string& to) {
    return HttpReply{.status = 302, .body = {}, .headers = {{"Location", to}}};
  };
  server_.set("/to-passwd", redirect("file:///etc/passwd"));
  server_.set("/to-file", redirect("file://" + dir_.file("ca.crl")));
  server_.set("/to-https", redirect("https://127.0.0.1/ca.crl"));
  for (const std::string path : {"/to-passwd", "/to-file", "/to-https"}) {
    // Even from [crl.urls], where a file:// URL itself would be read.
    const CrlRefreshResult result = refresher_.refresh(
        ca_parsed_, CrlSources{.store_crls = {}, .urls = {CrlUrl{server_.url(path), true}}},
        unixNow(), true);
    EXPECT_EQ(result.result, CrlRefreshOutcome::failed) << path;
    EXPECT_NE(result.detail.find(server_.url(path) + ": redirected to "), std::string::npos)
        << result.detail;
    EXPECT_NE(result.detail.find("which is refused: a redirect may lead only to another http:// "
                                 "URL"),
              std::string::npos)
        << result.detail;
    EXPECT_FALSE(held().has_value()) << "the file was read: " << path;
  }
  EXPECT_NE(
      refresher_
          .refresh(ca_parsed_,
                   CrlSources{.store_crls = {}, .urls = {CrlUrl{server_.url("/to-passwd"), true}}},
                   unixNow(), true)
          .detail.find("redirected to file:///etc/passwd"),
      std::string::npos);
}

TEST_F(CrlRefreshTest, ADistributionPointIsNeverReadFromAFile) {
  const std::vector<unsigned char> crl = ca_.crlDer(CrlSpec{.number = 7});
  testing::writeFile(dir_.file("ca.crl"), std::string(crl.begin(), crl.end()));
  const std::string url = "file://" + dir_.file("ca.crl");
  const CrlRefreshResult refused = refresher_.refresh(
      ca_parsed_, CrlSources{.store_crls = {}, .urls = {CrlUrl{url, false}}}, unixNow(), true);
  EXPECT_EQ(refused.result, CrlRefreshOutcome::failed);
  EXPECT_NE(refused.detail.find("file:// is read only from [crl.urls]"), std::string::npos)
      << refused.detail;
  EXPECT_FALSE(held().has_value());
  EXPECT_EQ(refresher_
                .refresh(ca_parsed_, CrlSources{.store_crls = {}, .urls = {CrlUrl{url, true}}},
                         unixNow(), true)
                .result,
            CrlRefreshOutcome::updated)
      << "the same file from [crl.urls]";
}

TEST_F(CrlRefreshTest, ARedirectToAHostNotAllowedIsRefused) {
  server_.set("/ca.crl", crlReply(CrlSpec{.number = 2}));
  const std::string elsewhere =
      "http://localhost:" + server_.url("/").substr(server_.url("/").rfind(':') + 1) + "ca.crl";
  server_.set("/moved", HttpReply{.status = 302, .body = {}, .headers = {{"Location", elsewhere}}});
  settings_.allowed_hosts = {"127.0.0.1"};
  const CrlRefreshResult result = refresher_.refresh(ca_parsed_, from({"/moved"}), unixNow(), true);
  EXPECT_EQ(result.result, CrlRefreshOutcome::failed);
  EXPECT_NE(result.detail.find("redirected to " + elsewhere +
                               ": host 'localhost' is not in [crl] allowed_hosts"),
            std::string::npos)
      << result.detail;
  EXPECT_EQ(server_.requests("/ca.crl"), 0);
  EXPECT_EQ(refresher_.refresh(ca_parsed_, from({"/ca.crl"}), unixNow(), true).result,
            CrlRefreshOutcome::updated)
      << "an allowed host is fetched";
}

// "database is locked" is not the CRL server's fault: it propagates as a storage error, and the
// fetch is neither recorded as failed nor backed off.
TEST_F(CrlRefreshTest, AStorageErrorPropagatesAndIsNotAFetchFailure) {
  server_.set("/ca.crl", crlReply(CrlSpec{.number = 2}));
  storage::Database impatient(dir_.file("certbridge.db"), std::chrono::milliseconds(100));
  CrlRefresher refresher(settings_, impatient, Poco::Logger::get("test"));
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("certbridge.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  try {
    refresher.refresh(ca_parsed_, from({"/ca.crl"}), unixNow(), true);
    ADD_FAILURE() << "the locked database went unnoticed";
  } catch (const storage::StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("locked"), std::string::npos) << error.what();
  }
  sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  EXPECT_FALSE(crls_.fetchState(ca_parsed_.record().sha256).has_value())
      << "no failed fetch recorded, no back-off planned";
  EXPECT_EQ(refresher.refresh(ca_parsed_, from({"/ca.crl"}), unixNow(), true).result,
            CrlRefreshOutcome::updated);
}

// The million-entry CRL of the issue: ingested from a file:// URL, every serial looked up by
// index. Its time and memory are measured by ./scripts/bench, not asserted here.
TEST_F(CrlRefreshTest, MillionEntryCrlIsIngestedAndLookedUp) {
  const std::vector<unsigned char> der = ca_.largeCrlDer(1'000'000, 2);
  testing::writeFile(dir_.file("large.crl"), std::string(der.begin(), der.end()));
  const std::string url = "file://" + dir_.file("large.crl");
  const CrlRefreshResult result = refresher_.refresh(
      ca_parsed_, CrlSources{.store_crls = {}, .urls = {CrlUrl{url, true}}}, unixNow(), true);
  ASSERT_EQ(result.result, CrlRefreshOutcome::updated) << result.detail;
  EXPECT_EQ(held()->revoked_count, 1'000'000);
  EXPECT_TRUE(crls_.isRevoked(ca_parsed_.record().sha256, "01"));
  EXPECT_TRUE(crls_.isRevoked(ca_parsed_.record().sha256, "07A120"));  // 500,000
  EXPECT_TRUE(crls_.isRevoked(ca_parsed_.record().sha256, "0F4240"));  // 1,000,000
  EXPECT_FALSE(crls_.isRevoked(ca_parsed_.record().sha256, "0F4241"));
  std::printf("million-entry CRL: %zu bytes of DER\n", der.size());
}

}  // namespace
}  // namespace certbridge::agent
