#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/records.h"

namespace certbridge::storage {

// This host's link to its fleet (README, Fleet), as the agent last saw it: kept in SQLite (table
// fleet_link, schema version 7) so that `status`, a separate process, and the web page say the
// same as the running agent. Absent when the host is in no fleet.
struct FleetLinkStatus {
  std::string node;
  std::string state;  // "connected" or "degraded" (PostgreSQL unreachable: enforcing the last list)
  std::string detail;  // why degraded: the error, naming the database without its password
  UnixTime since = 0;  // when the state began
  std::int64_t applied_event_id = 0;  // the newest fleet event this host enforces
  std::int64_t latest_event_id = 0;   // the newest event of the log when last reached
  std::int64_t queued_changes = 0;    // decisions made here and not yet in the fleet's log
};

// One node as the fleet's database last showed it to this host (for the fleet page, its API and
// /metrics).
struct FleetNodeView {
  std::string node;
  std::string address;  // where its web page listens
  UnixTime heartbeat_at = 0;
  std::optional<UnixTime> last_sync_at;
  std::optional<UnixTime> last_publish_at;
  std::string last_publish_result;
  std::int64_t applied_event_id = 0;
  std::int64_t event_lag = 0;  // events of the log it does not enforce yet; 0: current
};

struct FleetExpiryView {
  std::string node;
  std::string sha256;
  std::string subject;
  std::string role;
  UnixTime not_after = 0;
};

// The fleet as this host's agent last read it from PostgreSQL (at each heartbeat, and after it
// applied events); kept in memory by the agent, so that the page never waits for PostgreSQL and
// shows the last picture, with its time, while the database is unreachable.
struct FleetOverview {
  UnixTime read_at = 0;
  std::int64_t latest_event_id = 0;
  std::vector<FleetNodeView> nodes;               // by name
  std::vector<FleetExpiryView> soonest_expiries;  // soonest first
};

// Reads the link (inside the caller's read() or transaction(), or one of its own).
std::optional<FleetLinkStatus> readFleetLink(Database& database);

// The agent's side of the link. Decisions made on this host (by a person on its page or API)
// are written to SQLite first, as without a fleet, and shared from the audit log afterwards: the
// audit entries after `shared_audit_id` are the queue of what the fleet has yet to hear, so a
// change made while PostgreSQL is unreachable is enforced here at once and appended to the log
// when it returns, and a host killed between the two shares it after its restart.
class FleetLinkRecord {
 public:
  explicit FleetLinkRecord(Database& database) : database_(database) {}

  // Creates the link on first use, as "degraded" until connected, with the queue starting after
  // the audit log's newest entry: joining a fleet does not broadcast what was decided alone.
  // Later calls keep the queue and update the node's name.
  void open(const std::string& node, UnixTime now);
  // Records the state (a change of state resets `since`) and the log's newest event id.
  void setState(const std::string& state, const std::string& detail, std::int64_t latest_event_id,
                UnixTime now);
  struct Queue {
    std::vector<AuditEntry> decisions;
    // The audit log's newest entry when the queue was read: when every decision returned is
    // shared, everything up to here is (the entries between are not decisions to share), so the
    // next read starts after it instead of passing over them again.
    std::int64_t newest_audit_id = 0;
  };
  // Up to `limit` queued decisions, oldest first: audit entries "trust.trusted",
  // "trust.blocked", "certificate.uploaded" and "certificate.upload_withdrawn" made here (not
  // by a store sync, not applied from the fleet).
  Queue queuedDecisions(int limit);
  // The audit entry `audit_id` and those before it are in the fleet's log (or were passed over).
  void markShared(std::int64_t audit_id);

 private:
  Database& database_;
};

}  // namespace certbridge::storage
