#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/fleet/postgres.h"

namespace certbridge::storage::fleet {

// A connection of its own that LISTENs for appends to the fleet log, so that the agent's loop
// sleeps until an event arrives or its poll interval passes, whichever is first. Owns its
// connection; one thread at a time.
class FleetListener {
 public:
  // Connects and starts listening; throws FleetError as PostgresConnection does.
  explicit FleetListener(const std::string& conninfo);

  // Waits up to `timeout` for an append. Returns the highest event id announced (all waiting
  // notifications are taken), or 0 when the time passed without one. Throws FleetError when the
  // connection is lost: open a new listener (and read the log, which a poll would have done).
  std::int64_t waitForAppend(std::chrono::milliseconds timeout);

  const std::string& name() const { return connection_.name(); }
  std::vector<std::string> takeNotices() { return connection_.takeNotices(); }

 private:
  std::int64_t takeNotifications();

  PostgresConnection connection_;
};

}  // namespace certbridge::storage::fleet
