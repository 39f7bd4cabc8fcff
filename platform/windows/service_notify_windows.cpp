#include "platform/service_notify.h"

namespace certbridge::platform {

// The Windows service wrapper (Poco::Util::ServerApplication) reports to the service control
// manager itself.
void notifyServiceManager(const std::string& /*state*/) {}

std::optional<std::chrono::milliseconds> watchdogInterval() {
  return std::nullopt;
}

}  // namespace certbridge::platform
