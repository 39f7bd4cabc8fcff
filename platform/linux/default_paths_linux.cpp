#include "platform/default_paths.h"

namespace certbridge::platform {

std::string defaultConfigFile() {
  return "/etc/certbridge/certbridge.ini";
}

std::string defaultStateDirectory() {
  return "/var/lib/certbridge";
}

}  // namespace certbridge::platform
