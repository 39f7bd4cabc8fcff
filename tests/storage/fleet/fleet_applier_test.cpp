#include "storage/fleet/fleet_applier.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "tests/storage/fleet/fleet_fixture.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::storage::fleet {
namespace {

using certbridge::testing::TempDir;
using certbridge::testing::TestCertificate;

// A host's local database holding `clients` in its OS store "main" (manual policy: pending).
class FleetApplierTest : public FleetTest {
 protected:
  void SetUp() override {
    FleetTest::SetUp();
    ca_ = std::make_unique<TestCertificate>(
        TestCertificate::issue({.common_name = "Fleet CA", .ca = true}, nullptr));
    for (const char* name : {"alice", "bob"}) {
      clients_.push_back(decodeCertificate(clientCertificate(name, *ca_).der()));
    }
  }

  void holdClients(Database& database) {
    std::vector<StoreEntry> entries;
    for (const CertificateRecord& client : clients_) {
      entries.push_back({client, client.subject, CertificateRole::client});
    }
    CertificateRepository(database).applySnapshot({"main", "nss", "sql:/etc/pki/nssdb", "manual"},
                                                  entries, "digest", 100);
  }

  // Everything the applier may change, as text: equal text, equal state.
  static std::string dumpLocal(const std::string& path) {
    return certbridge::testing::shell(
               "sqlite3 " + certbridge::testing::quoted(path) +
               " \"SELECT sha256, state, decided_by, decided_at FROM trust_decisions ORDER BY 1;"
               " SELECT sha256, store_name, gone_at FROM certificate_sources ORDER BY 1, 2;"
               " SELECT applied_event_id FROM fleet_position;"
               " SELECT * FROM fleet_event_effects ORDER BY 1;"
               " SELECT * FROM fleet_decisions ORDER BY 1;"
               " SELECT at, actor, origin, action, target, detail, previous FROM audit_log"
               " ORDER BY id;\"")
        .output;
  }

  std::optional<TrustState> trustOf(Database& database, const std::string& sha256) {
    for (const CertificateView& view : CertificateRepository(database).listCertificates()) {
      if (view.certificate.sha256 == sha256) {
        return view.trust;
      }
    }
    return std::nullopt;
  }

  std::unique_ptr<TestCertificate> ca_;
  std::vector<CertificateRecord> clients_;
  TempDir local_;
};

TEST_F(FleetApplierTest, AppliesDecisionsUploadsAndUndosInOrderWithTheirAuditEntries) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  const std::string alice = clients_[0].sha256;
  const auto carol_der = clientCertificate("carol", *ca_).der();
  const FleetEvent approve =
      log.appendDecision(FleetEventKind::approve, alice, "ann", "edge-1", "192.0.2.7");
  log.appendDecision(FleetEventKind::revoke, clients_[1].sha256, "ann", "edge-1", "192.0.2.7");
  const FleetEvent upload = log.appendUpload(carol_der, "ann", "edge-2", "192.0.2.8");
  const FleetEvent block = log.appendDecision(FleetEventKind::block, alice, "ben", "edge-2", "");

  Database database(local_.file("host.db"));
  holdClients(database);
  FleetApplier applier(database, decodeCertificate);
  EXPECT_EQ(applier.appliedEventId(), 0);
  FleetApplyOutcome outcome = applier.catchUp(log, 200);
  EXPECT_EQ(outcome.applied, 4);
  EXPECT_EQ(outcome.skipped, 0);
  EXPECT_EQ(outcome.applied_event_id, block.id);
  EXPECT_EQ(applier.appliedEventId(), block.id);
  EXPECT_EQ(trustOf(database, alice), TrustState::blocked);  // the later event wins
  EXPECT_EQ(trustOf(database, clients_[1].sha256), TrustState::blocked);
  EXPECT_EQ(trustOf(database, upload.sha256), TrustState::trusted);

  // Both conflicting decisions stay in the audit trail, naming who, where and which event.
  const std::vector<AuditEntry> audit = AuditLog(database).recent(100);
  const auto find = [&](const std::string& origin) {
    return std::find_if(audit.begin(), audit.end(),
                        [&](const AuditEntry& entry) { return entry.origin == origin; });
  };
  const auto approved = find("fleet #" + std::to_string(approve.id) + " edge-1 192.0.2.7");
  ASSERT_NE(approved, audit.end());
  EXPECT_EQ(approved->actor, "ann");
  EXPECT_EQ(approved->action, "trust.trusted");
  EXPECT_EQ(approved->at, approve.at);
  const auto blocked = find("fleet #" + std::to_string(block.id) + " edge-2");
  ASSERT_NE(blocked, audit.end());
  EXPECT_EQ(blocked->action, "trust.blocked");
  EXPECT_EQ(blocked->previous, "trusted");

  // Undo the block (back to trusted by the log) and the upload (withdrawn), and the first
  // approve, which the log knew nothing before: back to what this host had, pending.
  log.appendUndo(block.id, "ann", "edge-1", "");
  log.appendUndo(upload.id, "ann", "edge-1", "");
  outcome = applier.catchUp(log, 300);
  EXPECT_EQ(outcome.applied, 2);
  EXPECT_EQ(trustOf(database, alice), TrustState::trusted);
  bool carol_present = true;
  for (const CertificateView& view : CertificateRepository(database).listCertificates()) {
    if (view.certificate.sha256 == upload.sha256) {
      carol_present = view.present;
    }
  }
  EXPECT_FALSE(carol_present);
  log.appendUndo(approve.id, "ann", "edge-1", "");
  EXPECT_EQ(applier.catchUp(log, 400).applied, 1);
  EXPECT_EQ(trustOf(database, alice), TrustState::pending);
}

TEST_F(FleetApplierTest, ApplyingAgainIsANoOp) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  log.appendDecision(FleetEventKind::approve, clients_[0].sha256, "ann", "edge-1", "");
  log.appendDecision(FleetEventKind::block, clients_[1].sha256, "ann", "edge-1", "");
  Database database(local_.file("host.db"));
  holdClients(database);
  FleetApplier applier(database, decodeCertificate);
  applier.catchUp(log, 200);
  const std::string once = dumpLocal(local_.file("host.db"));
  EXPECT_EQ(applier.catchUp(log, 300).applied, 0);
  const FleetApplyOutcome again = applier.apply(log.readAfter(0, 100), 400);
  EXPECT_EQ(again.applied, 0);
  EXPECT_EQ(again.skipped, 0);
  EXPECT_EQ(dumpLocal(local_.file("host.db")), once);
}

TEST_F(FleetApplierTest, WhatCannotApplyHereIsSkippedWithAnAuditEntryAndTheRestApplies) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  const std::string stranger(64, 'e');
  log.appendDecision(FleetEventKind::block, stranger, "ann", "edge-1", "");
  const std::vector<unsigned char> garbage = {0x30, 0x03, 0x02, 0x01, 0x01};
  log.appendUpload(garbage, "ann", "edge-1", "");
  const FleetEvent last =
      log.appendDecision(FleetEventKind::approve, clients_[0].sha256, "ann", "edge-1", "");

  Database database(local_.file("host.db"));
  holdClients(database);
  FleetApplier applier(database, decodeCertificate);
  const FleetApplyOutcome outcome = applier.catchUp(log, 200);
  EXPECT_EQ(outcome.deferred, 1);
  EXPECT_EQ(outcome.skipped, 1);
  EXPECT_EQ(outcome.applied, 1);
  EXPECT_EQ(outcome.applied_event_id, last.id);
  EXPECT_EQ(trustOf(database, clients_[0].sha256), TrustState::trusted);
  std::vector<std::string> noted;
  for (const AuditEntry& entry : AuditLog(database).recent(100)) {
    if (entry.action.starts_with("fleet.")) {
      noted.push_back(entry.action + " " + entry.target + " " + entry.detail);
    }
  }
  ASSERT_EQ(noted.size(), 2U);
  EXPECT_NE(noted[0].find("fleet.skipped"), std::string::npos) << noted[0];
  EXPECT_NE(noted[0].find("not a usable client certificate"), std::string::npos) << noted[0];
  EXPECT_NE(noted[1].find("fleet.deferred " + stranger), std::string::npos) << noted[1];
}

// A client blocked in the fleet before its certificate reached this host's store is blocked
// here when it arrives, whatever the store's policy says; once that block is undone (and the
// log knew nothing before it), the policy decides again for certificates that come later.
TEST_F(FleetApplierTest, ADecisionOnACertificateNotHeldYetIsItsFirstDecisionWhenItArrives) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  const FleetEvent blocked =
      log.appendDecision(FleetEventKind::block, clients_[0].sha256, "ann", "edge-1", "");
  const CertificateRecord late = decodeCertificate(clientCertificate("late", *ca_).der());
  const FleetEvent blocked_late =
      log.appendDecision(FleetEventKind::block, late.sha256, "ann", "edge-1", "");
  log.appendUndo(blocked_late.id, "ann", "edge-1", "");

  Database database(local_.file("host.db"));
  FleetApplier applier(database, decodeCertificate);
  const FleetApplyOutcome outcome = applier.catchUp(log, 200);
  EXPECT_EQ(outcome.deferred, 2);
  EXPECT_EQ(outcome.skipped, 1);  // the undo: nothing of the deferred block was applied here

  std::vector<StoreEntry> entries;
  for (const CertificateRecord& client : {clients_[0], clients_[1], late}) {
    entries.push_back({client, client.subject, CertificateRole::client});
  }
  CertificateRepository(database).applySnapshot({"main", "nss", "sql:/etc/pki/nssdb", "auto"},
                                                entries, "digest", 300);
  EXPECT_EQ(trustOf(database, clients_[0].sha256), TrustState::blocked);
  EXPECT_EQ(trustOf(database, clients_[1].sha256), TrustState::trusted);
  EXPECT_EQ(trustOf(database, late.sha256), TrustState::trusted);
  const std::vector<AuditEntry> audit = AuditLog(database).recent(100);
  EXPECT_TRUE(std::any_of(audit.begin(), audit.end(), [&](const AuditEntry& entry) {
    return entry.target == clients_[0].sha256 && entry.action == "trust.blocked" &&
           entry.actor == "fleet #" + std::to_string(blocked.id) && entry.origin == "store:main";
  }));
}

// Two hosts apply the same log, written by two writers racing: they end identical, and what the
// last event said holds on both.
TEST_F(FleetApplierTest, TwoHostsApplyingTheSameConflictingLogEndIdentical) {
  const std::string alice = clients_[0].sha256;
  const auto write = [&](const std::string& node, FleetEventKind kind) {
    PostgresConnection connection(conninfo());
    FleetLog log(connection);
    for (int index = 0; index < 20; ++index) {
      log.appendDecision(kind, alice, node, node, "");
    }
  };
  std::thread first(write, "edge-1", FleetEventKind::approve);
  std::thread second(write, "edge-2", FleetEventKind::block);
  first.join();
  second.join();

  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  const FleetEvent last = log.recent(1).front();
  std::vector<std::string> dumps;
  for (const char* host : {"a.db", "b.db"}) {
    Database database(local_.file(host));
    holdClients(database);
    FleetApplier applier(database, decodeCertificate);
    applier.catchUp(log, 200, 7);
    EXPECT_EQ(trustOf(database, alice),
              last.kind == FleetEventKind::approve ? TrustState::trusted : TrustState::blocked);
    dumps.push_back(dumpLocal(local_.file(host)));
  }
  EXPECT_EQ(dumps[0], dumps[1]);
}

// A host killed with SIGKILL in the middle of applying (inside a batch's transaction) and run
// again ends exactly as a host that applied everything in one go.
TEST_F(FleetApplierTest, KilledMidApplyAndRunAgainEqualsOneRun) {
  {
    PostgresConnection connection(conninfo());
    FleetLog log(connection);
    for (int index = 0; index < 6; ++index) {
      log.appendDecision(index % 2 == 0 ? FleetEventKind::approve : FleetEventKind::block,
                         clients_[index % 2].sha256, "ann", "edge-1", "");
      log.appendUpload(clientCertificate("upload-" + std::to_string(index), *ca_).der(), "ann",
                       "edge-2", "");
    }
  }
  const std::string reference_path = local_.file("reference.db");
  {
    Database reference(reference_path);
    holdClients(reference);
    PostgresConnection connection(conninfo());
    FleetLog log(connection);
    FleetApplier(reference, decodeCertificate).catchUp(log, 500, 4);
  }

  const std::string killed_path = local_.file("killed.db");
  {
    Database killed(killed_path);
    holdClients(killed);
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The fifth upload is decoded inside the third batch's transaction: die there.
    int uploads = 0;
    Database killed(killed_path);
    PostgresConnection connection(conninfo());
    FleetLog log(connection);
    FleetApplier applier(killed, [&](std::span<const unsigned char> der) {
      if (++uploads == 5) {
        ::kill(::getpid(), SIGKILL);
      }
      return decodeCertificate(der);
    });
    applier.catchUp(log, 500, 4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

  Database killed(killed_path);
  FleetApplier applier(killed, decodeCertificate);
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  const std::vector<FleetEvent> events = log.readAfter(0, 100);
  EXPECT_EQ(applier.appliedEventId(), events[7].id);  // two whole batches, nothing of the third
  applier.catchUp(log, 500, 4);
  EXPECT_EQ(dumpLocal(killed_path), dumpLocal(reference_path));
}

}  // namespace
}  // namespace certbridge::storage::fleet
