#include "storage/fleet_link.h"

#include <gtest/gtest.h>

#include "storage/certificate_repository.h"
#include "tests/support/temp_dir.h"

namespace certbridge::storage {
namespace {

StoreEntry client(const std::string& name) {
  StoreEntry result;
  result.certificate.sha256 = "sha256-" + name;
  result.certificate.sha1 = "sha1-" + name;
  result.certificate.der = {0x30, 0x00};
  result.certificate.subject = "CN=" + name;
  result.certificate.issuer = "CN=Root";
  result.certificate.serial = "01";
  result.certificate.not_before = 100;
  result.certificate.not_after = 1000;
  result.nickname = name;
  result.role = CertificateRole::client;
  return result;
}

std::vector<std::string> actionsOf(const FleetLinkRecord::Queue& queue) {
  std::vector<std::string> actions;
  for (const AuditEntry& entry : queue.decisions) {
    actions.push_back(entry.action + " " + entry.target + " by " + entry.actor);
  }
  return actions;
}

class FleetLinkTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  Database database_{dir_.file("certbridge.db")};
  CertificateRepository certificates_{database_};
  FleetLinkRecord link_{database_};
};

// No link until the agent opens one: the host is in no fleet.
TEST_F(FleetLinkTest, AHostInNoFleetHasNoLink) {
  EXPECT_FALSE(readFleetLink(database_).has_value());
}

// Joining does not broadcast what was decided alone; afterwards, a person's decisions are
// queued, a store's policy and the fleet's own events are not, and shared ones leave the queue.
TEST_F(FleetLinkTest, OnlyDecisionsMadeHereAfterJoiningAreQueuedUntilShared) {
  certificates_.applySnapshot({"main", "nss", "sql:/x", "manual"}, {client("alice"), client("bob")},
                              "d1", 100);
  certificates_.setTrustState("sha256-alice", TrustState::blocked, "before", "127.0.0.1", 110);

  link_.open("edge-1", 200);
  const std::optional<FleetLinkStatus> opened = readFleetLink(database_);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->node, "edge-1");
  EXPECT_EQ(opened->state, "degraded");
  EXPECT_EQ(opened->queued_changes, 0);
  EXPECT_TRUE(link_.queuedDecisions(10).decisions.empty());

  certificates_.setTrustState("sha256-alice", TrustState::trusted, "alice-admin", "10.0.0.1", 210);
  certificates_.setTrustState("sha256-bob", TrustState::blocked, "someone", "fleet #7 edge-2", 211);
  certificates_.applySnapshot({"main", "nss", "sql:/x", "manual"},
                              {client("alice"), client("bob"), client("carol")}, "d2", 212);
  certificates_.setTrustState("sha256-bob", TrustState::pending, "alice-admin", "10.0.0.1", 213);
  certificates_.setTrustState("sha256-carol", TrustState::blocked, "api-token", "10.0.0.2", 214);

  FleetLinkRecord::Queue queue = link_.queuedDecisions(10);
  EXPECT_EQ(actionsOf(queue),
            (std::vector<std::string>{"trust.trusted sha256-alice by alice-admin",
                                      "trust.blocked sha256-carol by api-token"}));
  EXPECT_EQ(readFleetLink(database_)->queued_changes, 2);
  link_.markShared(queue.decisions.front().id);
  EXPECT_EQ(actionsOf(link_.queuedDecisions(10)),
            (std::vector<std::string>{"trust.blocked sha256-carol by api-token"}));
  link_.markShared(queue.newest_audit_id);
  EXPECT_TRUE(link_.queuedDecisions(10).decisions.empty());
  EXPECT_EQ(readFleetLink(database_)->queued_changes, 0);

  // Opening again (a restart) keeps the queue's position and takes a new node name.
  certificates_.setTrustState("sha256-alice", TrustState::blocked, "alice-admin", "10.0.0.1", 300);
  link_.open("edge-renamed", 301);
  EXPECT_EQ(actionsOf(link_.queuedDecisions(10)),
            (std::vector<std::string>{"trust.blocked sha256-alice by alice-admin"}));
  EXPECT_EQ(readFleetLink(database_)->node, "edge-renamed");
}

TEST_F(FleetLinkTest, AChangeOfStateKeepsItsSinceAndTheNewestEventSeen) {
  link_.open("edge-1", 200);
  link_.setState("connected", "", 5, 210);
  link_.setState("connected", "", 9, 220);
  FleetLinkStatus link = *readFleetLink(database_);
  EXPECT_EQ(link.state, "connected");
  EXPECT_EQ(link.since, 210);
  EXPECT_EQ(link.latest_event_id, 9);
  link_.setState("degraded", "cannot connect: refused", 0, 230);
  link = *readFleetLink(database_);
  EXPECT_EQ(link.state, "degraded");
  EXPECT_EQ(link.detail, "cannot connect: refused");
  EXPECT_EQ(link.since, 230);
  EXPECT_EQ(link.latest_event_id, 9) << "the newest event seen is kept while unreachable";
}

}  // namespace
}  // namespace certbridge::storage
