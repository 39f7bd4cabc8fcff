#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>

#include <atomic>
#include <iosfwd>
#include <string>
#include <vector>

namespace certbridge::agent {

// Exit codes of the certbridge command.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the command ran and something failed
constexpr int kExitUsage = 2;    // bad command line or configuration

// Parses the command line and runs the command. Everything a person needs to act on goes to
// `out` (results) or `err` (errors, one line each); nothing throws out of here.
int runCli(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

// What the Windows service runs: `certbridge run` with the default configuration file, until
// `stop_requested` becomes true. Logs also go to `service_log` (the Event Log).
int runAgentService(const std::atomic<bool>& stop_requested,
                    Poco::AutoPtr<Poco::Channel> service_log);

}  // namespace certbridge::agent
