#include "storage/certificate_repository.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "storage/audit_log.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::storage {
namespace {

StoreEntry entry(const std::string& name, CertificateRole role) {
  StoreEntry result;
  result.certificate.sha256 = "sha256-" + name;
  result.certificate.sha1 = "sha1-" + name;
  result.certificate.der = {0x30, 0x00};
  result.certificate.subject = "CN=" + name;
  result.certificate.issuer = "CN=Root";
  result.certificate.serial = "01";
  result.certificate.not_before = 100;
  result.certificate.not_after = 1000;
  result.certificate.key_type = "EC prime256v1";
  result.certificate.is_ca =
      role == CertificateRole::anchor || role == CertificateRole::intermediate;
  result.nickname = name;
  result.role = role;
  return result;
}

class CertificateRepositoryTest : public ::testing::Test {
 protected:
  const CertificateView& find(const std::vector<CertificateView>& views, const std::string& name) {
    const auto found = std::find_if(views.begin(), views.end(), [&](const CertificateView& view) {
      return view.certificate.sha256 == "sha256-" + name;
    });
    if (found == views.end()) {
      throw std::runtime_error("no certificate " + name);
    }
    return *found;
  }

  std::vector<std::string> actions() {
    std::vector<std::string> result;
    for (const AuditEntry& entry : AuditLog(database_).recent(100)) {
      result.push_back(entry.action + " " + entry.target + " by " + entry.actor);
    }
    return result;
  }

  testing::TempDir dir_;
  Database database_{dir_.file("certbridge.db")};
  CertificateRepository repository_{database_};
  StoreDefinition auto_store_{"main", "nss", "sql:/x", "auto"};
  StoreDefinition manual_store_{"desk", "nss", "sql:/y", "manual"};
};

TEST_F(CertificateRepositoryTest, NewClientsOfAnAutoStoreAreTrusted) {
  const StoreChanges changes = repository_.applySnapshot(
      auto_store_,
      {entry("root", CertificateRole::anchor), entry("alice", CertificateRole::client)}, "d1", 500);
  EXPECT_EQ(changes.added.size(), 2u);
  const auto views = repository_.listCertificates();
  EXPECT_EQ(find(views, "alice").trust, TrustState::trusted);
  EXPECT_TRUE(find(views, "alice").client);
  EXPECT_TRUE(find(views, "root").anchor);
  EXPECT_FALSE(find(views, "root").trust.has_value()) << "CAs get no client trust decision";
  EXPECT_EQ(find(views, "alice").sources, "main/alice");
  EXPECT_EQ(find(views, "alice").first_seen, 500);
  EXPECT_EQ(repository_.snapshotDigest("main"), "d1");
}

TEST_F(CertificateRepositoryTest, NewClientsOfAManualStoreWaitForApproval) {
  repository_.applySnapshot(manual_store_, {entry("bob", CertificateRole::client)}, "d1", 500);
  EXPECT_EQ(find(repository_.listCertificates(), "bob").trust, TrustState::pending);
}

// The fleet blocked (or approved) a client before its certificate reached this host's store
// (storage/fleet/fleet_applier.h): that decision, not the store's policy, is its first.
TEST_F(CertificateRepositoryTest, TheFleetsDecisionComesBeforeTheStorePolicy) {
  database_.execute(
      "INSERT INTO fleet_decisions (sha256, state, event_id) VALUES ('sha256-carol', 'blocked', "
      "17), ('sha256-dave', 'trusted', 18)");
  repository_.applySnapshot(auto_store_, {entry("carol", CertificateRole::client)}, "d1", 500);
  repository_.applySnapshot(manual_store_, {entry("dave", CertificateRole::client)}, "d1", 500);
  const auto views = repository_.listCertificates();
  EXPECT_EQ(find(views, "carol").trust, TrustState::blocked);
  EXPECT_EQ(find(views, "dave").trust, TrustState::trusted);
  const std::vector<std::string> audit = actions();
  EXPECT_NE(std::find(audit.begin(), audit.end(), "trust.blocked sha256-carol by fleet #17"),
            audit.end());
  EXPECT_NE(std::find(audit.begin(), audit.end(), "trust.trusted sha256-dave by fleet #18"),
            audit.end());
}

TEST_F(CertificateRepositoryTest, ACertificateThatLeavesIsMarkedGoneNotDeleted) {
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  const StoreChanges changes = repository_.applySnapshot(auto_store_, {}, "d2", 600);
  ASSERT_EQ(changes.gone.size(), 1u);
  EXPECT_EQ(changes.gone[0], "alice (CN=alice)");
  const auto views = repository_.listCertificates();
  const CertificateView& alice = find(views, "alice");
  EXPECT_FALSE(alice.present);
  EXPECT_EQ(alice.trust, TrustState::trusted) << "the decision survives";
  EXPECT_EQ(alice.certificate.der, (std::vector<unsigned char>{0x30, 0x00}));

  const StoreChanges back =
      repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d3", 700);
  EXPECT_EQ(back.returned.size(), 1u);
  EXPECT_TRUE(find(repository_.listCertificates(), "alice").present);
}

TEST_F(CertificateRepositoryTest, ACertificateInTwoStoresStaysWhileOneHoldsIt) {
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  repository_.applySnapshot(manual_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  repository_.applySnapshot(auto_store_, {}, "d2", 600);
  const auto views = repository_.listCertificates();
  const CertificateView& alice = find(views, "alice");
  EXPECT_TRUE(alice.present);
  EXPECT_EQ(alice.sources, "desk/alice");
  EXPECT_EQ(alice.trust, TrustState::trusted) << "the first decision stands";
}

TEST_F(CertificateRepositoryTest, APersonsDecisionIsNotOverriddenBySync) {
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  repository_.setTrustState("sha256-alice", TrustState::blocked, "admin", "127.0.0.1", 550);
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d2", 600);
  EXPECT_EQ(find(repository_.listCertificates(), "alice").trust, TrustState::blocked);
  const auto log = actions();
  EXPECT_EQ(log.front(), "trust.blocked sha256-alice by admin");
}

TEST_F(CertificateRepositoryTest, EveryChangeIsAudited) {
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  repository_.applySnapshot(auto_store_, {}, "d2", 600);
  const std::vector<std::string> expected = {"certificate.gone sha256-alice by sync",
                                             "trust.trusted sha256-alice by policy:auto",
                                             "certificate.added sha256-alice by sync"};
  EXPECT_EQ(actions(), expected);
  const AuditEntry newest = AuditLog(database_).recent(1).front();
  EXPECT_EQ(newest.origin, "store:main");
  EXPECT_EQ(newest.at, 600);
}

TEST_F(CertificateRepositoryTest, RenderInputsFollowDecisionsAndTheNextValidityBoundary) {
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  UnixTime valid_until = 0;
  const std::string before = repository_.renderInputs(500, valid_until);
  EXPECT_EQ(valid_until, 1001) << "alice's notAfter (1000) is crossed at 1001";
  EXPECT_EQ(repository_.renderInputs(500, valid_until), before) << "same data, same text";
  repository_.renderInputs(50, valid_until);
  EXPECT_EQ(valid_until, 100) << "before notBefore, that is the boundary";

  repository_.setTrustState("sha256-alice", TrustState::blocked, "admin", "cli", 600);
  EXPECT_NE(repository_.renderInputs(600, valid_until), before);
}

TEST_F(CertificateRepositoryTest, UnknownCertificateCannotBeDecidedOn) {
  EXPECT_THROW(repository_.setTrustState("sha256-nobody", TrustState::trusted, "admin", "cli", 1),
               StorageError);
}

TEST_F(CertificateRepositoryTest, SyncResultsArePerStore) {
  repository_.recordSyncResult(auto_store_, 10, "cannot open NSS database");
  const auto stores = repository_.listStores();
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_FALSE(stores[0].last_sync_ok);
  EXPECT_EQ(stores[0].last_sync_error, "cannot open NSS database");
  EXPECT_EQ(stores[0].last_sync_at, 10);
  EXPECT_FALSE(repository_.snapshotDigest("main").has_value());
}

TEST_F(CertificateRepositoryTest, LockedDatabaseIsAClearErrorAndChangesNothing) {
  repository_.applySnapshot(auto_store_, {entry("alice", CertificateRole::client)}, "d1", 500);
  Database short_wait(dir_.file("certbridge.db"), std::chrono::milliseconds(200));
  CertificateRepository blocked(short_wait);

  // Another process holds the write lock for a few seconds.
  testing::shell(
      "{ (printf 'BEGIN EXCLUSIVE; INSERT INTO audit_log (at, actor, origin, action, "
      "target, detail) VALUES (0, \"x\", \"x\", \"x\", \"x\", \"x\");\\n'; sleep 3; "
      "printf 'ROLLBACK;\\n') | sqlite3 " +
      dir_.file("certbridge.db") + "; } >/dev/null 2>&1 &");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  try {
    blocked.applySnapshot(auto_store_, {}, "d2", 600);
    FAIL() << "a locked database accepted a write";
  } catch (const StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("locked"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(dir_.file("certbridge.db")), std::string::npos);
  }
  EXPECT_TRUE(find(blocked.listCertificates(), "alice").present) << "readers still see the data";
  EXPECT_EQ(blocked.snapshotDigest("main"), "d1");
}

TEST(FormatUtc, FormatsInUtcOnEveryPlatform) {
  EXPECT_EQ(formatUtc(0, "%Y-%m-%d %H:%M:%S"), "1970-01-01 00:00:00");
  EXPECT_EQ(formatUtc(1795475715, "%Y-%m-%d %H:%M:%S UTC %a"), "2026-11-23 23:15:15 UTC Mon");
  EXPECT_EQ(formatUtc(2147483648, "%Y-%m-%d %H:%M:%S"), "2038-01-19 03:14:08");
}

}  // namespace
}  // namespace certbridge::storage
