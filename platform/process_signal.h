#pragma once

#include <string>

namespace certbridge::platform {

// Asks the nginx master whose pid is in `pid_file` to reload its configuration (SIGHUP on
// POSIX). Returns false when nginx is not running (no pid file, an empty one as `nginx -t`
// leaves behind, or a pid with no process): it will read the files when it starts. Before
// signalling, the pid is checked to be an nginx master process (its command line as nginx sets
// it, "nginx: master process ...", and not certbridge itself): a pid file naming anything else
// (a stale pid reused by another program, a pid file written by someone else) fails with a
// message naming the pid and what it is, and nothing is signalled. Throws std::runtime_error
// naming the pid file and the OS error for anything else.
bool signalNginxReload(const std::string& pid_file);

// What a process is, for messages: its command line and executable, e.g.
// "'sleep 600' (/usr/bin/sleep)"; empty when it cannot be known (no such process, or no way
// to look).
std::string describeProcess(long pid);

}  // namespace certbridge::platform
