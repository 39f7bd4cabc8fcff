#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <Poco/SplitterChannel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <set>
#include <thread>

#include "agent/cli/cli_command.h"
#include "agent/cli/log_text.h"
#include "agent/cli/status_report.h"
#include "agent/config/config.h"
#include "agent/doctor/doctor.h"
#include "agent/sync/agent_control_service.h"
#include "agent/sync/sync_scheduler.h"
#include "agent/sync/trust_sync.h"
#include "platform/cert_store.h"
#include "platform/default_paths.h"
#include "platform/service_notify.h"
#include "platform/store_watcher.h"
#include "platform/terminal.h"
#include "storage/database.h"
#include "storage/password.h"
#include "web/web_server.h"

namespace certbridge::agent {
namespace {

constexpr const char* kSyncHelp = R"(Usage: certbridge [--config FILE] sync --once

Reads every store, updates the database, renders the nginx files and publishes them
(nginx -t, then reload) when they changed. Exits 0 on success, 1 with a one-line reason on
failure; the previous nginx files stay in place on any failure.
)";

constexpr const char* kCrlHelp = R"(Usage: certbridge [--config FILE] crl refresh [--ca SHA256]

Fetches the CRL of every CA in client-ca.pem now (or of the one CA whose SHA-256 fingerprint
is given, as 'status --json' shows it), whatever the schedule says, then renders and
publishes as 'sync --once' does. Exits 0 when the publish succeeded, 1 otherwise.
)";

int commandSync(const CommandLine& line) {
  line.allowOnly("sync", {"--once"});
  if (line.options.empty()) {
    throw UsageError("'sync' needs --once (for continuous syncing use 'run')");
  }
  return syncOnceAndReport(loadConfig(line.config_path), CrlForce{}, line.out, line.err);
}

int commandCrl(const CommandLine& line) {
  const std::vector<std::string>& options = line.options;
  if (options.empty() || options.front() != "refresh") {
    throw UsageError("'crl' needs a subcommand: crl refresh [--ca SHA256]");
  }
  CrlForce force{.all = true, .ca_sha256 = ""};
  for (std::size_t i = 1; i < options.size(); ++i) {
    if (options[i] == "--ca" && i + 1 < options.size()) {
      force = CrlForce{.all = false, .ca_sha256 = options[++i]};
      if (force.ca_sha256.size() != 64 ||
          force.ca_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw UsageError("--ca takes a CA's SHA-256 fingerprint: 64 lower-case hex digits");
      }
    } else {
      throw UsageError("'crl refresh' does not take '" + options[i] + "'");
    }
  }
  return syncOnceAndReport(loadConfig(line.config_path), force, line.out, line.err);
}

}  // namespace

const Command kSyncCommand{"sync", kSyncHelp, commandSync};
const Command kCrlCommand{"crl", kCrlHelp, commandCrl};

}  // namespace certbridge::agent
