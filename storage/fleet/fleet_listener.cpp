#include "storage/fleet/fleet_listener.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace certbridge::storage::fleet {

FleetListener::FleetListener(const std::string& conninfo) : connection_(conninfo) {
  connection_.execute("LISTEN certbridge_fleet_events");
}

std::int64_t FleetListener::takeNotifications() {
  std::int64_t highest = 0;
  while (PgNotifyPtr notification{PQnotifies(connection_.get())}) {
    std::int64_t id = 0;
    const std::string payload = notification->extra != nullptr ? notification->extra : "";
    std::from_chars(payload.data(), payload.data() + payload.size(), id);
    // A notification without a number still means "read the log".
    highest = std::max(highest, std::max<std::int64_t>(id, 1));
  }
  return highest;
}

std::int64_t FleetListener::waitForAppend(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (PQconsumeInput(connection_.get()) == 0) {
      connection_.fail("the connection listening for fleet events was lost");
    }
    if (const std::int64_t highest = takeNotifications(); highest > 0) {
      return highest;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return 0;
    }
    pollfd socket{PQsocket(connection_.get()), POLLIN, 0};
    if (socket.fd < 0) {
      connection_.fail("the connection listening for fleet events has no socket");
    }
    const int ready = ::poll(&socket, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      throw FleetError("fleet database " + connection_.name() +
                       ": waiting for events: " + std::strerror(errno));
    }
  }
}

}  // namespace certbridge::storage::fleet
