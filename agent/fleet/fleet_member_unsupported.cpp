// The fleet needs libpq, which the Windows build leaves out (README, Fleet: Linux only).
#include <stdexcept>

#include "agent/fleet/fleet_member.h"

namespace certbridge::agent::fleet {

std::unique_ptr<FleetMember> startFleetMember(const AgentConfig& config, storage::Database&,
                                              std::function<void()>, Poco::Logger&) {
  if (!config.fleet.enabled()) {
    return nullptr;
  }
  throw ConfigError(config.source_file +
                    ": key 'fleet.postgres' is set, but this build of certbridge has no fleet "
                    "(Linux only); remove the [fleet] section");
}

void initFleetDatabase(const std::string&, std::ostream&) {
  throw std::runtime_error("this build of certbridge has no fleet (Linux only)");
}

}  // namespace certbridge::agent::fleet
