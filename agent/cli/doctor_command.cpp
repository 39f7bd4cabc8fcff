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

constexpr const char* kDoctorHelp = R"(Usage: certbridge [--config FILE] doctor [OPTIONS]

Reads nginx's effective configuration ([nginx] dump_command, default 'nginx -T') and checks
every server {} that verifies client certificates, whether or not certbridge writes its
files. One line per check: PASS, WARN or FAIL, what was found (file, line, certificate) and
the fix. Checks: client_ca_configured, bundle_readable, bundle_parses, leaf_in_ca_file,
chain_complete, verify_depth, expiry (30 days' warning), ca_names_size, crl_coverage,
optional_unchecked; with --endpoint also endpoint_ca_names, and with a client certificate
endpoint_client. Without --config, and without /etc/certbridge/certbridge.ini, the defaults
apply. Exits 0 when nothing fails, 1 when a check fails, 2 for bad usage.

  --endpoint HOST:PORT  handshake with the running nginx there (e.g. 127.0.0.1:443) and
                        compare the CA names it sends with the bundle
  --server-name NAME    SNI and Host for the endpoint (selects the server {})
  --client-cert FILE    also connect with this client certificate (PEM) and send GET /,
  --client-key FILE     reporting the verify result, the HTTP status and nginx's reason. The
                        key is used in memory for that handshake only: never stored or logged.
  --json                {"checks": [...], "servers": [{"listen", "server_name", "checks"}]}
)";

int commandDoctor(const CommandLine& line) {
  // doctor is the first thing a new user runs: it needs no configuration file.
  const bool use_config = line.config_given || std::filesystem::exists(line.config_path);
  const AgentConfig config = use_config ? loadConfig(line.config_path) : AgentConfig{};
  const std::vector<std::string>& options = line.options;
  std::ostream& out = line.out;
  DoctorOptions doctor;
  doctor.dump_command = config.nginx.dump_command;
  doctor.command_timeout = config.nginx.command_timeout;
  doctor.working_directory = config.nginx.working_directory;
  doctor.crl_margin = config.crl.warning_margin;
  doctor.now = unixNow();
  bool json = false;
  for (std::size_t i = 0; i < options.size(); ++i) {
    const std::string& option = options[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= options.size()) {
        throw UsageError(option + " needs a value");
      }
      return options[++i];
    };
    if (option == "--json") {
      json = true;
    } else if (option == "--endpoint") {
      doctor.endpoint = value();
    } else if (option == "--server-name") {
      doctor.server_name = value();
    } else if (option == "--client-cert") {
      doctor.client_certificate = value();
    } else if (option == "--client-key") {
      doctor.client_key = value();
    } else {
      throw UsageError("'doctor' does not take '" + option + "'");
    }
  }
  if (doctor.client_certificate.empty() != doctor.client_key.empty()) {
    throw UsageError("--client-cert and --client-key go together");
  }
  if (!doctor.client_certificate.empty() && !doctor.endpoint) {
    throw UsageError("--client-cert needs --endpoint HOST:PORT to connect to");
  }
  DoctorReport report;
  try {
    report = diagnose(doctor);
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
  if (json) {
    writeDoctorJson(report, out);
  } else {
    writeDoctorText(report, out);
  }
  return report.failed() ? kExitFailure : kExitOk;
}

}  // namespace

const Command kDoctorCommand{"doctor", kDoctorHelp, commandDoctor};

}  // namespace certbridge::agent
