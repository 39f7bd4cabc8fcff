#pragma once

// What the commands of agent/cli share: the table entry each command file provides, the usage
// error, logging set-up. Internal to agent/cli.

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>

#include <atomic>
#include <cstdint>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/cli/cli.h"
#include "agent/config/config.h"
#include "agent/sync/trust_sync.h"

namespace certbridge::agent {

constexpr const char* kVersion = "0.1.0";

// A command line that cannot be used; runCli prints it with a pointer to --help and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a command is given: the configuration file named (or the default), the options after
// the command's name, and where its results and errors go.
struct CommandLine {
  std::string config_path;
  bool config_given = false;
  std::vector<std::string> options;
  std::ostream& out;
  std::ostream& err;

  // Throws UsageError for an option not in `allowed`, naming `command`.
  void allowOnly(const std::string& command, const std::vector<std::string>& allowed) const;
};

// One entry of the command table: its name, its --help text, and what runs it.
struct Command {
  const char* name;
  const char* help;
  int (*run)(const CommandLine& line);
};

// One file per command (agent/cli/*_command.cpp).
extern const Command kRunCommand;
extern const Command kSyncCommand;
extern const Command kStatusCommand;
extern const Command kHashPasswordCommand;
extern const Command kCrlCommand;
extern const Command kDoctorCommand;
extern const Command kFleetCommand;

std::int64_t unixNow();

// Standard error (the journal under systemd), [log] file when set, and `service_log` when given
// (the Windows Event Log, which formats its own entries).
Poco::Logger& configureLogger(const AgentConfig& config,
                              Poco::AutoPtr<Poco::Channel> service_log = nullptr);

// `known_warnings` holds what was already said: in `run` the same certificate would otherwise be
// reported at every sync. A warning that goes away and comes back is said again.
void logReport(Poco::Logger& logger, const SyncReport& report,
               std::set<std::string>& known_warnings);

// One sync (with `force` for `crl refresh`), its summary on `out` or its failure on `err`.
int syncOnceAndReport(const AgentConfig& config, const CrlForce& force, std::ostream& out,
                      std::ostream& err);

// The agent's run loop until `stop_requested` (run_command.cpp).
int runAgent(const AgentConfig& config, const std::atomic<bool>& stop_requested,
             Poco::Logger& logger);

}  // namespace certbridge::agent
