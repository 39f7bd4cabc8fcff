#pragma once

#include <Poco/Logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "agent/config/config.h"
#include "storage/database.h"
#include "storage/fleet_link.h"

namespace certbridge::agent::fleet {

// This host's part in its fleet (README, Fleet) while `certbridge run` runs, on a thread of its
// own so that enforcement never waits for PostgreSQL: it appends the decisions made here to the
// fleet's log (queued in SQLite while the database is unreachable), applies the log's events to
// the local database as they are announced (LISTEN/NOTIFY, and a poll every [sync] interval),
// asks the run loop to publish what changed, and reports the host's heartbeat and inventory.
// When PostgreSQL cannot be reached it records "degraded" (storage/fleet_link.h), retries with
// back-off and catches up when it returns. Stopped and joined by its destructor.
class FleetMember {
 public:
  virtual ~FleetMember() = default;
  // The fleet as last read; nothing before the first read. Thread-safe.
  virtual std::optional<storage::FleetOverview> overview() const = 0;
};

// Starts this host's part in the fleet; nullptr when [fleet] postgres is not set.
// `request_publish` is called (from the fleet's thread) after events changed the local
// database. Throws ConfigError on a system without the fleet (Windows).
std::unique_ptr<FleetMember> startFleetMember(const AgentConfig& config,
                                              storage::Database& database,
                                              std::function<void()> request_publish,
                                              Poco::Logger& logger);

// `certbridge fleet init`: creates or upgrades the fleet's schema in the database `conninfo`
// names (connected as a role that may), and says which version it found and left. Throws on
// failure, with a message naming the database without its password.
void initFleetDatabase(const std::string& conninfo, std::ostream& out);

}  // namespace certbridge::agent::fleet
