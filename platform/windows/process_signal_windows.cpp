#include <stdexcept>

#include "platform/process_signal.h"

namespace certbridge::platform {

// Windows has no SIGHUP: nginx for Windows reloads through `nginx -s reload`, run from its
// folder, which is what [nginx] reload_command is for.
bool signalNginxReload(const std::string& pid_file) {
  throw std::runtime_error("[nginx] pid_file (" + pid_file +
                           ") reloads nginx with SIGHUP, which Windows does not have; set "
                           "reload_command = nginx -p C:\\nginx -s reload instead");
}

}  // namespace certbridge::platform
