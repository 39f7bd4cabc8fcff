#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace certbridge::platform {

// Tells the service manager how the agent is doing. On Linux: systemd's notify protocol
// (Type=notify), a datagram to $NOTIFY_SOCKET; nothing happens when the agent was not started
// by systemd. On Windows the service's state is reported by the service wrapper, so these do
// nothing.
void notifyServiceManager(const std::string& state);  // e.g. "READY=1", "STOPPING=1"

// How often the agent must send "WATCHDOG=1" ($WATCHDOG_USEC, halved for margin); nullopt when
// no watchdog is set for this process.
std::optional<std::chrono::milliseconds> watchdogInterval();

}  // namespace certbridge::platform
