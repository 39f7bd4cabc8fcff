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

constexpr const char* kStatusHelp = R"(Usage: certbridge [--config FILE] status [--json]

Prints each store's last sync, the last publish result, the CRL of every CA in client-ca.pem
(next update, time left, last fetch, next planned fetch) and every certificate present in a
store with its trust state and days to expiry, soonest first. Exits 1 when the last sync of a
store or the last publish failed, or a CA's CRL is missing or expired.

  --json   machine-readable output
)";

int commandStatus(const CommandLine& line) {
  line.allowOnly("status", {"--json"});
  const AgentConfig config = loadConfig(line.config_path);
  const bool json = !line.options.empty();
  std::ostream& out = line.out;
  storage::Database database(config.storage_path, config.storage_busy_timeout);
  // One read transaction: stores, publish, CRLs and certificates from the same moment, even
  // while a running agent writes.
  bool healthy = false;
  database.read([&] { healthy = writeStatus(database, config, unixNow(), json, out); });
  return healthy ? kExitOk : kExitFailure;
}

}  // namespace

const Command kStatusCommand{"status", kStatusHelp, commandStatus};

}  // namespace certbridge::agent
