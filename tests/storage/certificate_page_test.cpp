#include "storage/certificate_page.h"

#include <gtest/gtest.h>

#include <set>

#include "storage/certificate_repository.h"
#include "storage/digest.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::storage {
namespace {

constexpr UnixTime kNow = 1'000'000'000;
constexpr UnixTime kDay = 86400;

StoreEntry entry(const std::string& name, CertificateRole role, UnixTime not_after,
                 const std::string& serial = "01") {
  StoreEntry result;
  result.certificate.sha256 = sha256Hex("sha256 " + name);
  result.certificate.sha1 = sha256Hex("sha1 " + name).substr(0, 40);
  result.certificate.der = {0x30, 0x00};
  result.certificate.subject = "CN=" + name + ",O=Example";
  result.certificate.issuer = role == CertificateRole::client ? "CN=Issuing CA" : "CN=Root";
  result.certificate.serial = serial;
  result.certificate.not_before = kNow - 10 * kDay;
  result.certificate.not_after = not_after;
  result.certificate.key_type = "EC prime256v1";
  result.certificate.is_ca =
      role == CertificateRole::anchor || role == CertificateRole::intermediate;
  result.nickname = name;
  result.role = role;
  return result;
}

std::vector<std::string> subjects(const std::vector<CertificateStatus>& rows) {
  std::vector<std::string> result;
  for (const CertificateStatus& row : rows) {
    result.push_back(row.view.certificate.subject);
  }
  return result;
}

class CertificatePageTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  Database database_{dir_.file("certbridge.db")};
  CertificateRepository repository_{database_};
  StoreDefinition auto_store_{"main", "nss", "sql:/x", "auto"};
  StoreDefinition manual_store_{"desk", "nss", "sql:/y", "manual"};
};

// 250 clients, one expiring each hour: pages of 100 walk them all by expiry, each exactly once,
// and the cursor of the last page is empty.
TEST_F(CertificatePageTest, PagesWalkEveryPresentCertificateOnceByExpiry) {
  std::vector<StoreEntry> entries;
  for (int i = 0; i < 250; ++i) {
    // Inserted in an order unrelated to expiry.
    const int hours = (i * 97) % 250;
    entries.push_back(entry("client" + std::to_string(hours), CertificateRole::client,
                            kNow + hours * 3600, "0" + std::to_string(hours)));
  }
  repository_.applySnapshot(auto_store_, entries, "d1", kNow);

  for (const bool soonest_first : {true, false}) {
    CertificateQuery query;
    query.soonest_first = soonest_first;
    std::vector<UnixTime> seen;
    std::set<std::string> distinct;
    int pages = 0;
    do {
      const CertificatePage page = readCertificatePage(database_, query);
      EXPECT_EQ(page.matched, 250);
      EXPECT_LE(page.rows.size(), 100u);
      for (const CertificateStatus& row : page.rows) {
        seen.push_back(row.view.certificate.not_after);
        distinct.insert(row.view.certificate.sha256);
        EXPECT_FALSE(row.view.certificate.der.empty()) << "a row carries the whole view";
      }
      query.cursor = page.next_cursor;
      ++pages;
    } while (!query.cursor.empty() && pages < 10);
    EXPECT_EQ(pages, 3);
    ASSERT_EQ(seen.size(), 250u);
    EXPECT_EQ(distinct.size(), 250u);
    EXPECT_TRUE(soonest_first ? std::is_sorted(seen.begin(), seen.end())
                              : std::is_sorted(seen.rbegin(), seen.rend()));
  }
}

// Equal expiry times still page exactly: the cursor carries the fingerprint too.
TEST_F(CertificatePageTest, EqualExpiryTimesArePagedWithoutLossOrRepeat) {
  std::vector<StoreEntry> entries;
  for (int i = 0; i < 7; ++i) {
    entries.push_back(entry("same" + std::to_string(i), CertificateRole::client, kNow + kDay));
  }
  repository_.applySnapshot(auto_store_, entries, "d1", kNow);
  CertificateQuery query;
  query.limit = 3;
  std::set<std::string> seen;
  for (int page_number = 0; page_number < 3; ++page_number) {
    const CertificatePage page = readCertificatePage(database_, query);
    for (const CertificateStatus& row : page.rows) {
      EXPECT_TRUE(seen.insert(row.view.certificate.sha256).second);
    }
    query.cursor = page.next_cursor;
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_TRUE(query.cursor.empty());
}

TEST_F(CertificatePageTest, FiltersBySubjectIssuerSerialFingerprintAndState) {
  StoreEntry alice = entry("Alice", CertificateRole::client, kNow + 40 * kDay, "0A1B");
  StoreEntry bob = entry("Bob", CertificateRole::client, kNow + 20 * kDay, "02");
  StoreEntry carol = entry("Carol", CertificateRole::client, kNow + 30 * kDay, "03");
  StoreEntry root = entry("Root", CertificateRole::anchor, kNow + 900 * kDay, "04");
  StoreEntry dave = entry("Dave", CertificateRole::client, kNow + 10 * kDay, "05");
  repository_.applySnapshot(auto_store_, {alice, bob, carol, root}, "d1", kNow);
  repository_.applySnapshot(manual_store_, {dave}, "d2", kNow);  // pending
  repository_.setTrustState(bob.certificate.sha256, TrustState::blocked, "alice", "cli", kNow);
  // The last render left Carol out of clients.map.
  recordLeftOutClients(database_, {carol.certificate.sha1});

  const auto find = [&](CertificateQuery query) {
    return subjects(readCertificatePage(database_, query).rows);
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(find({.subject = "ALICE"}), Names{"CN=Alice,O=Example"});
  EXPECT_EQ(find({.subject = "o=example"}).size(), 5u);
  EXPECT_EQ(find({.issuer = "issuing"}), (Names{"CN=Dave,O=Example", "CN=Bob,O=Example",
                                                "CN=Carol,O=Example", "CN=Alice,O=Example"}));
  EXPECT_EQ(find({.serial = "0a1b"}), Names{"CN=Alice,O=Example"});
  EXPECT_EQ(find({.serial = "A1B"}), Names{}) << "a serial matches exactly";
  const std::string sha256 = alice.certificate.sha256;
  EXPECT_EQ(find({.fingerprint = sha256.substr(0, 8)}), Names{"CN=Alice,O=Example"});
  std::string colons;
  for (std::size_t i = 0; i < 12; i += 2) {
    colons += (i == 0 ? "" : ":") + carol.certificate.sha1.substr(i, 2);
  }
  for (char& c : colons) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(find({.fingerprint = colons}), Names{"CN=Carol,O=Example"}) << colons;
  EXPECT_EQ(find({.state = "trusted"}), Names{"CN=Alice,O=Example"});
  EXPECT_EQ(find({.state = "left out"}), Names{"CN=Carol,O=Example"});
  EXPECT_EQ(find({.state = "blocked"}), Names{"CN=Bob,O=Example"});
  EXPECT_EQ(find({.state = "pending"}), Names{"CN=Dave,O=Example"});
  EXPECT_EQ(find({.state = "none"}), Names{"CN=Root,O=Example"});
  EXPECT_EQ(find({.subject = "o=example", .state = "left out"}), Names{"CN=Carol,O=Example"});

  const CertificatePage page = readCertificatePage(database_, {.state = "left out"});
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].trust, "left out");
  EXPECT_EQ(page.matched, 1);
}

TEST_F(CertificatePageTest, GoneCertificatesAreNeitherListedNorCounted) {
  repository_.applySnapshot(auto_store_,
                            {entry("a", CertificateRole::client, kNow + kDay),
                             entry("b", CertificateRole::client, kNow + 2 * kDay)},
                            "d1", kNow);
  repository_.applySnapshot(auto_store_, {entry("a", CertificateRole::client, kNow + kDay)}, "d2",
                            kNow + 1);
  EXPECT_EQ(subjects(readCertificatePage(database_, {}).rows),
            std::vector<std::string>{"CN=a,O=Example"});
  EXPECT_EQ(readCertificateSummary(database_, kNow).total, 1);
}

TEST_F(CertificatePageTest, AnUnusableQueryIsRefusedNamingTheParameter) {
  const auto message = [&](const CertificateQuery& query) -> std::string {
    try {
      readCertificatePage(database_, query);
    } catch (const BadCertificateQuery& error) {
      return error.what();
    }
    return "accepted";
  };
  EXPECT_NE(message({.limit = 0}).find("limit must be between 1 and 1000, not 0"),
            std::string::npos);
  EXPECT_NE(message({.limit = 1001}).find("limit"), std::string::npos);
  EXPECT_NE(message({.state = "happy"}).find("state 'happy'"), std::string::npos);
  EXPECT_NE(message({.fingerprint = "xyz"}).find("fingerprint 'xyz'"), std::string::npos);
  EXPECT_NE(message({.cursor = "12.nothex"}).find("cursor '12.nothex'"), std::string::npos);
  EXPECT_NE(message({.cursor = "abc." + std::string(64, 'a')}).find("cursor"), std::string::npos);
  EXPECT_EQ(message({.cursor = "-5." + std::string(64, 'a')}), "accepted");
}

TEST_F(CertificatePageTest, SummaryCountsByStateAndExpiryBandWithTheSoonestExpiries) {
  StoreEntry expired = entry("expired", CertificateRole::client, kNow - 1);
  StoreEntry week = entry("week", CertificateRole::client, kNow + 7 * kDay - 1);
  StoreEntry month = entry("month", CertificateRole::client, kNow + 7 * kDay);
  StoreEntry month_end = entry("month end", CertificateRole::client, kNow + 30 * kDay - 1);
  StoreEntry later = entry("later", CertificateRole::anchor, kNow + 30 * kDay);
  StoreEntry pending = entry("pending", CertificateRole::client, kNow + 400 * kDay);
  repository_.applySnapshot(auto_store_, {expired, week, month, month_end, later}, "d1", kNow);
  repository_.applySnapshot(manual_store_, {pending}, "d2", kNow);
  recordLeftOutClients(database_, {expired.certificate.sha1, month_end.certificate.sha1});

  const CertificateSummary summary = readCertificateSummary(database_, kNow, 2);
  EXPECT_EQ(summary.total, 6);
  EXPECT_EQ(summary.by_state,
            (std::vector<std::pair<std::string, std::int64_t>>{
                {"trusted", 2}, {"left out", 2}, {"pending", 1}, {"blocked", 0}, {"none", 1}}));
  EXPECT_EQ(summary.expired, 1);
  EXPECT_EQ(summary.within_week, 1);
  EXPECT_EQ(summary.within_month, 2);
  EXPECT_EQ(summary.later, 2);
  // The bands are expiryBandOf's, which every other output uses.
  EXPECT_EQ(expiryBandOf(daysLeft(week.certificate.not_after, kNow)), ExpiryBand::week);
  EXPECT_EQ(expiryBandOf(daysLeft(month.certificate.not_after, kNow)), ExpiryBand::month);
  EXPECT_EQ(expiryBandOf(daysLeft(month_end.certificate.not_after, kNow)), ExpiryBand::month);
  EXPECT_EQ(expiryBandOf(daysLeft(later.certificate.not_after, kNow)), ExpiryBand::fine);
  EXPECT_EQ(summary.soonest_expiry, week.certificate.not_after);
  EXPECT_EQ(subjects(summary.next_to_expire),
            (std::vector<std::string>{"CN=week,O=Example", "CN=month,O=Example"}));
}

TEST_F(CertificatePageTest, SoonestExpiringAreAtLeastNAndEveryOneWithinTheWindow) {
  std::vector<StoreEntry> entries;
  for (int day = 1; day <= 20; ++day) {
    entries.push_back(
        entry("day" + std::to_string(day), CertificateRole::client, kNow + day * kDay));
  }
  repository_.applySnapshot(auto_store_, entries, "d1", kNow);
  EXPECT_EQ(readSoonestExpiring(database_, 3, kNow + 10 * kDay).size(), 9u)
      << "days 1 to 9 expire before the window's end";
  EXPECT_EQ(readSoonestExpiring(database_, 12, kNow + 10 * kDay).size(), 12u);
  EXPECT_EQ(readSoonestExpiring(database_, 0, kNow).size(), 0u);
}

TEST_F(CertificatePageTest, LeftOutClientsAreRecordedAsTheirDifference) {
  recordLeftOutClients(database_, {"aa", "bb"});
  recordLeftOutClients(database_, {"bb", "cc"});
  std::set<std::string> held;
  Statement select = database_.prepare("SELECT sha1 FROM left_out_clients");
  while (select.step()) {
    held.insert(select.text(0));
  }
  EXPECT_EQ(held, (std::set<std::string>{"bb", "cc"}));
}

// The page's queries are answered by indexes: walking by expiry reads the expiry index (no sort
// of every row), a serial is looked up, and the CAs are found by their partial index.
TEST_F(CertificatePageTest, QueriesUseTheirIndexes) {
  const auto plan = [&](const std::string& sql) {
    return testing::shell("sqlite3 " + testing::quoted(database_.path()) + " " +
                          testing::quoted("EXPLAIN QUERY PLAN " + sql))
        .output;
  };
  const std::string by_expiry =
      plan("SELECT sha256 FROM certificates c ORDER BY not_after, sha256 LIMIT 101");
  EXPECT_NE(by_expiry.find("certificates_by_expiry"), std::string::npos) << by_expiry;
  EXPECT_EQ(by_expiry.find("TEMP B-TREE"), std::string::npos) << by_expiry;
  const std::string by_serial = plan("SELECT sha256 FROM certificates c WHERE serial = '0A'");
  EXPECT_NE(by_serial.find("certificates_serial"), std::string::npos) << by_serial;
  const std::string cas = plan("SELECT sha256 FROM certificates c WHERE is_ca = 1");
  EXPECT_NE(cas.find("certificates_ca"), std::string::npos) << cas;
}

}  // namespace
}  // namespace certbridge::storage
