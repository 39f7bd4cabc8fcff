#include "storage/fleet/fleet_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "storage/fleet/fleet_listener.h"
#include "storage/fleet/fleet_nodes.h"
#include "tests/storage/fleet/fleet_fixture.h"

namespace certbridge::storage::fleet {
namespace {

const std::string kAlice(64, 'a');
const std::string kBob(64, 'b');

TEST_F(FleetTest, EventsAreReadBackInTheOrderTheyWereAppended) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  EXPECT_EQ(log.latestId(), 0);
  const auto ca =
      certbridge::testing::TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const auto carol = clientCertificate("carol", ca);

  const FleetEvent approved =
      log.appendDecision(FleetEventKind::approve, kAlice, "alice", "edge-1", "192.0.2.1");
  const FleetEvent blocked =
      log.appendDecision(FleetEventKind::block, kBob, "bob", "edge-2", "192.0.2.2");
  const FleetEvent uploaded = log.appendUpload(carol.der(), "carol", "edge-1", "192.0.2.3");
  const FleetEvent revoked =
      log.appendDecision(FleetEventKind::revoke, kAlice, "alice", "edge-2", "192.0.2.1");
  EXPECT_LT(approved.id, blocked.id);
  EXPECT_LT(blocked.id, uploaded.id);
  EXPECT_LT(uploaded.id, revoked.id);
  EXPECT_EQ(uploaded.sha256, decodeCertificate(carol.der()).sha256);
  EXPECT_EQ(log.latestId(), revoked.id);

  const std::vector<FleetEvent> all = log.readAfter(0, 100);
  ASSERT_EQ(all.size(), 4U);
  EXPECT_EQ(all[0].kind, FleetEventKind::approve);
  EXPECT_EQ(all[0].actor, "alice");
  EXPECT_EQ(all[0].node, "edge-1");
  EXPECT_EQ(all[0].address, "192.0.2.1");
  EXPECT_NEAR(static_cast<double>(all[0].at), static_cast<double>(std::time(nullptr)), 60);
  EXPECT_EQ(all[2].kind, FleetEventKind::upload);
  EXPECT_EQ(all[2].der, carol.der());
  EXPECT_EQ(all[3].kind, FleetEventKind::revoke);

  const std::vector<FleetEvent> rest = log.readAfter(blocked.id, 1);
  ASSERT_EQ(rest.size(), 1U);
  EXPECT_EQ(rest[0].id, uploaded.id);

  const std::vector<FleetEvent> audit = log.recent(10);
  ASSERT_EQ(audit.size(), 4U);
  EXPECT_EQ(audit[0].id, revoked.id);
  EXPECT_TRUE(audit[1].der.empty());  // the audit trail leaves the bytes out
}

TEST_F(FleetTest, TheLogRefusesMalformedEventsAndKeepsNothingOfThem) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  EXPECT_THROW(log.appendDecision(FleetEventKind::approve, "not-a-fingerprint", "a", "n", ""),
               FleetError);
  EXPECT_THROW(log.appendDecision(FleetEventKind::undo, kAlice, "a", "n", ""), FleetError);
  EXPECT_THROW(log.appendUpload({}, "a", "n", ""), FleetError);
  EXPECT_THROW(log.appendUndo(12345, "a", "n", ""), FleetError);
  EXPECT_EQ(log.readAfter(0, 10).size(), 0U);
}

TEST_F(FleetTest, AnUndoRestoresWhatTheLogHadBeforeTheUndoneEvent) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  const auto ca =
      certbridge::testing::TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const FleetEvent first = log.appendDecision(FleetEventKind::approve, kAlice, "a", "n", "");
  const FleetEvent second = log.appendDecision(FleetEventKind::block, kAlice, "a", "n", "");
  const FleetEvent upload = log.appendUpload(clientCertificate("dave", ca).der(), "a", "n", "");

  const FleetEvent undo_second = log.appendUndo(second.id, "b", "m", "");
  EXPECT_EQ(undo_second.kind, FleetEventKind::undo);
  EXPECT_EQ(undo_second.undoes, second.id);
  EXPECT_EQ(undo_second.sha256, kAlice);
  EXPECT_EQ(undo_second.restores, "trusted");
  EXPECT_EQ(log.appendUndo(first.id, "b", "m", "").restores, "");  // each host's own state
  EXPECT_EQ(log.appendUndo(upload.id, "b", "m", "").restores, "withdrawn");
  EXPECT_THROW(log.appendUndo(undo_second.id, "b", "m", ""), FleetError);
}

TEST_F(FleetTest, AnAppendWakesAListenerWithinTwoSeconds) {
  FleetListener listener(conninfo());
  EXPECT_EQ(listener.waitForAppend(std::chrono::milliseconds(100)), 0);

  std::atomic<std::int64_t> appended{0};
  std::thread writer([&] {
    PostgresConnection connection(conninfo());
    appended = FleetLog(connection).appendDecision(FleetEventKind::block, kAlice, "a", "n", "").id;
  });
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t announced = listener.waitForAppend(std::chrono::seconds(10));
  const auto waited = std::chrono::steady_clock::now() - started;
  writer.join();
  EXPECT_EQ(announced, appended.load());
  EXPECT_LT(waited, std::chrono::seconds(2));
}

TEST_F(FleetTest, AListenerSaysWhenItsConnectionIsLostAndANewOneWorksAfterTheOutage) {
  FleetListener listener(conninfo());
  server().stop();
  EXPECT_THROW(listener.waitForAppend(std::chrono::seconds(10)), FleetError);
  // The server's goodbye is kept for the caller's log, not printed past it.
  const std::vector<std::string> notices = listener.takeNotices();
  ASSERT_EQ(notices.size(), 1U);
  EXPECT_NE(notices[0].find("terminating connection due to administrator command"),
            std::string::npos)
      << notices[0];
  EXPECT_TRUE(listener.takeNotices().empty());
  EXPECT_THROW(PostgresConnection{conninfo()}, FleetError);
  server().start();
  FleetListener again(conninfo());
  PostgresConnection connection(conninfo());
  const FleetEvent event =
      FleetLog(connection).appendDecision(FleetEventKind::approve, kAlice, "a", "n", "");
  EXPECT_EQ(again.waitForAppend(std::chrono::seconds(10)), event.id);
}

// Two hosts appending at once, within the same second: every event gets its own place, and a
// reader following the log never sees an id appear below one it has already seen (which would
// make a host that remembers "applied up to N" skip it forever).
TEST_F(FleetTest, TwoWritersAtOnceAreOrderedOneWayForEveryReader) {
  constexpr int kPerWriter = 40;
  std::atomic<bool> writing{true};
  std::vector<std::int64_t> seen;
  std::int64_t seen_out_of_order = 0;
  std::thread reader([&] {
    PostgresConnection connection(conninfo());
    FleetLog log(connection);
    std::int64_t last = 0;
    const auto follow = [&] {
      for (const FleetEvent& event : log.readAfter(last, 1000)) {
        seen.push_back(event.id);
        last = event.id;
      }
    };
    while (writing) {
      follow();
    }
    follow();
    // A late reader sees everything; the follower must have seen exactly the same.
    for (const FleetEvent& event : log.readAfter(0, 1000)) {
      if (std::find(seen.begin(), seen.end(), event.id) == seen.end()) {
        ++seen_out_of_order;
      }
    }
  });
  const auto write = [&](const std::string& node, FleetEventKind kind) {
    PostgresConnection connection(conninfo());
    FleetLog log(connection);
    for (int index = 0; index < kPerWriter; ++index) {
      log.appendDecision(kind, kAlice, "someone", node, "");
    }
  };
  std::thread first(write, "edge-1", FleetEventKind::approve);
  std::thread second(write, "edge-2", FleetEventKind::block);
  first.join();
  second.join();
  writing = false;
  reader.join();
  EXPECT_EQ(seen.size(), 2U * kPerWriter);
  EXPECT_EQ(seen_out_of_order, 0);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(FleetTest, HeartbeatsShowEachNodesLagAndInventoriesTheFleetsSoonestExpiries) {
  PostgresConnection connection(conninfo());
  FleetLog log(connection);
  FleetNodes nodes(connection);
  const FleetEvent first = log.appendDecision(FleetEventKind::approve, kAlice, "a", "n", "");
  log.appendDecision(FleetEventKind::block, kAlice, "a", "n", "");
  const FleetEvent last = log.appendDecision(FleetEventKind::approve, kBob, "a", "n", "");

  nodes.heartbeat({.node = "edge-2",
                   .address = "https://edge-2:8443",
                   .last_sync_at = 1000,
                   .last_publish_at = 1001,
                   .last_publish_result = "published",
                   .applied_event_id = last.id});
  nodes.heartbeat({.node = "edge-1",
                   .last_publish_result = "failed",
                   .last_publish_detail = "nginx -t: no",
                   .applied_event_id = first.id});
  const std::vector<NodeState> states = nodes.list();
  ASSERT_EQ(states.size(), 2U);
  EXPECT_EQ(states[0].report.node, "edge-1");
  EXPECT_EQ(states[0].event_lag, 2);
  EXPECT_EQ(states[0].report.last_publish_detail, "nginx -t: no");
  EXPECT_FALSE(states[0].report.last_sync_at.has_value());
  EXPECT_EQ(states[1].event_lag, 0);
  EXPECT_EQ(states[1].report.last_sync_at, 1000);
  EXPECT_EQ(states[1].report.last_publish_result, "published");
  EXPECT_NEAR(static_cast<double>(states[1].heartbeat_at), static_cast<double>(std::time(nullptr)),
              60);

  nodes.replaceInventory("edge-1",
                         {{kAlice, "CN=alice", "CN=CA", "client", "trusted", "main/a", 3000000000},
                          {kBob, "CN=bob", "CN=CA", "client", "blocked", "main/b", 2000000000}});
  nodes.replaceInventory(
      "edge-2", {{kAlice, "CN=alice", "CN=CA", "client", "trusted", "uploads/a", 2500000000}});
  nodes.replaceInventory("edge-1",
                         {{kBob, "CN=bob", "CN=CA", "client", "blocked", "main/b", 2000000000}});
  EXPECT_EQ(nodes.inventory("edge-1").size(), 1U);
  const std::vector<FleetExpiry> soonest = nodes.soonestExpiries(5);
  ASSERT_EQ(soonest.size(), 2U);
  EXPECT_EQ(soonest[0].node, "edge-1");
  EXPECT_EQ(soonest[0].certificate.subject, "CN=bob");
  EXPECT_EQ(soonest[1].node, "edge-2");
  EXPECT_EQ(soonest[1].certificate.not_after, 2500000000);
  EXPECT_THROW(
      nodes.replaceInventory("nobody-yet", {{kBob, "CN=bob", "CN=CA", "client", "", "", 1}}),
      FleetError);
}

// Subjects are RFC 2253 text: commas, quotes, backslashes, braces, and "NULL" as a name.
TEST_F(FleetTest, AnInventoryOfThousandsWithAwkwardNamesComesBackAsItWent) {
  PostgresConnection connection(conninfo());
  FleetNodes nodes(connection);
  nodes.heartbeat({.node = "edge-1"});
  const std::vector<std::string> awkward = {R"(CN=a\,b,O=x)",
                                            R"(CN="quoted")",
                                            R"(CN=back\slash)",
                                            "CN={braces}",
                                            "NULL",
                                            "",
                                            "CN=caf\xc3\xa9 \xe2\x9c\x93",
                                            " leading and trailing "};
  std::vector<InventoryEntry> entries;
  for (int index = 0; index < 3000; ++index) {
    char sha256[65];
    std::snprintf(sha256, sizeof(sha256), "%064d", index);
    const std::string& name = awkward[static_cast<std::size_t>(index) % awkward.size()];
    entries.push_back({sha256, name, name + "-issuer", "client", index % 2 == 0 ? "trusted" : "",
                       "main/" + name, 2000000000 + index});
  }
  nodes.replaceInventory("edge-1", entries);
  const std::vector<InventoryEntry> back = nodes.inventory("edge-1");
  ASSERT_EQ(back.size(), entries.size());
  for (std::size_t index = 0; index < entries.size(); ++index) {
    SCOPED_TRACE(index);
    EXPECT_EQ(back[index].sha256, entries[index].sha256);
    EXPECT_EQ(back[index].subject, entries[index].subject);
    EXPECT_EQ(back[index].issuer, entries[index].issuer);
    EXPECT_EQ(back[index].trust, entries[index].trust);
    EXPECT_EQ(back[index].sources, entries[index].sources);
    EXPECT_EQ(back[index].not_after, entries[index].not_after);
  }
  nodes.replaceInventory("edge-1", {});
  EXPECT_TRUE(nodes.inventory("edge-1").empty());
}

}  // namespace
}  // namespace certbridge::storage::fleet
