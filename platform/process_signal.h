#pragma once

#include <string>

namespace certbridge::platform {

// Asks the nginx master whose pid is in `pid_file` to reload its configuration (SIGHUP on
// POSIX). Returns false when nginx is not running (no pid file, an empty one as `nginx -t`
// leaves behind, or a pid with no process): it will read the files when it starts. Throws
// std::runtime_error naming the pid file and the OS error for anything else.
bool signalNginxReload(const std::string& pid_file);

}  // namespace certbridge::platform
