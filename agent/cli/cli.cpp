#include "agent/cli/cli.h"

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

#include "agent/cli/fleet_command.h"
#include "agent/cli/log_text.h"
#include "agent/cli/status_report.h"
#include "agent/config/config.h"
#include "agent/doctor/doctor.h"
#include "agent/fleet/fleet_member.h"
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

constexpr const char* kVersion = "0.1.0";

constexpr const char* kMainHelp = R"(Usage: certbridge [--config FILE] COMMAND [OPTIONS]

Keeps nginx's client-certificate (mTLS) trust in step with the OS certificate store.

Commands:
  run              sync on a schedule and whenever a store changes, until SIGTERM/SIGINT
  sync --once      one sync -> render -> publish, then exit
  status [--json]  what is trusted, days to expiry, CRL freshness, last sync and publish
  crl refresh [--ca SHA256]
                   fetch CRLs now (all CAs, or one), whatever their schedule, then publish
  hash-password    print the hash of a password for [web] admin_password_hash
  doctor [--endpoint HOST:PORT] [--server-name NAME]
         [--client-cert FILE --client-key FILE] [--json]
                   diagnose nginx's client-certificate set-up, with the fix for each problem
  fleet init [--postgres CONNINFO]
                   create or upgrade the fleet's tables in PostgreSQL (Linux)

Options:
  --config FILE    configuration file (default /etc/certbridge/certbridge.ini;
                   %ProgramData%\certbridge\certbridge.ini on Windows)
  --help           this text; 'certbridge COMMAND --help' for a command
  --version        the version

Exit codes: 0 success, 1 the command failed, 2 bad usage or configuration.
)";

constexpr const char* kRunHelp = R"(Usage: certbridge [--config FILE] run

Runs in the foreground: syncs at start, whenever a watched store changes (within about a
second), and every [sync] interval seconds. A failed sync or publish is logged and retried
with back-off; the agent keeps running. Stops cleanly on SIGTERM or SIGINT. Serves the web
page on [web] listen (127.0.0.1:8080 by default) unless [web] enabled = false.
)";

constexpr const char* kSyncHelp = R"(Usage: certbridge [--config FILE] sync --once

Reads every store, updates the database, renders the nginx files and publishes them
(nginx -t, then reload) when they changed. Exits 0 on success, 1 with a one-line reason on
failure; the previous nginx files stay in place on any failure.
)";

constexpr const char* kStatusHelp = R"(Usage: certbridge [--config FILE] status [--json]

Prints each store's last sync, the last publish result, the CRL of every CA in client-ca.pem
(next update, time left, last fetch, next planned fetch) and every certificate present in a
store with its trust state and days to expiry, soonest first. Exits 1 when the last sync of a
store or the last publish failed, or a CA's CRL is missing or expired.

  --json   machine-readable output
)";

constexpr const char* kHashPasswordHelp = R"(Usage: certbridge hash-password

Reads a password (twice, without echo, from a terminal; one line from a pipe) and prints its
PBKDF2-SHA256 hash for [web] admin_password_hash. The password itself is stored nowhere.
)";

constexpr const char* kCrlHelp = R"(Usage: certbridge [--config FILE] crl refresh [--ca SHA256]

Fetches the CRL of every CA in client-ca.pem now (or of the one CA whose SHA-256 fingerprint
is given, as 'status --json' shows it), whatever the schedule says, then renders and
publishes as 'sync --once' does. Exits 0 when the publish succeeded, 1 otherwise.
)";

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

std::atomic<bool> g_stop_requested{false};

extern "C" void requestStop(int /*signal*/) {
  g_stop_requested.store(true);
}

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// Standard error (the journal under systemd), [log] file when set, and `service_log` when given
// (the Windows Event Log, which formats its own entries).
Poco::Logger& configureLogger(const AgentConfig& config,
                              Poco::AutoPtr<Poco::Channel> service_log = nullptr) {
  auto formatter = Poco::makeAuto<Poco::PatternFormatter>("%Y-%m-%d %H:%M:%S %p: %t");
  auto splitter = Poco::makeAuto<Poco::SplitterChannel>();
  splitter->addChannel(Poco::makeAuto<Poco::FormattingChannel>(
      formatter, Poco::makeAuto<Poco::ConsoleChannel>(std::clog)));
  if (!config.log_file.empty()) {
    auto file = Poco::makeAuto<Poco::FileChannel>(config.log_file);
    file->setProperty("rotation", "10 M");
    file->setProperty("archive", "number");
    file->setProperty("purgeCount", "5");
    splitter->addChannel(Poco::makeAuto<Poco::FormattingChannel>(formatter, file));
  }
  if (service_log) {
    splitter->addChannel(service_log);
  }
  Poco::Logger& logger = Poco::Logger::get("certbridge");
  logger.setChannel(Poco::makeAuto<ControlCharacterEscapingChannel>(splitter));
  logger.setLevel(config.log_level);
  return logger;
}

// `known_warnings` holds what was already said: in `run` the same certificate would otherwise be
// reported at every sync. A warning that goes away and comes back is said again.
void logReport(Poco::Logger& logger, const SyncReport& report,
               std::set<std::string>& known_warnings) {
  for (const std::string& change : report.changes) {
    logger.information(change);
  }
  std::set<std::string> current(report.warnings.begin(), report.warnings.end());
  for (const std::string& warning : current) {
    if (known_warnings.contains(warning)) {
      logger.debug(warning);
    } else {
      logger.warning(warning);
    }
  }
  known_warnings = std::move(current);
  for (const std::string& error : report.errors) {
    logger.error(error);
  }
  switch (report.publish.result) {
    case PublishOutcome::Result::published: {
      std::string files;
      for (const std::string& name : report.publish.changed_files) {
        files += (files.empty() ? "" : ", ") + name;
      }
      logger.notice("published " + files +
                    (report.publish.reloaded ? " and reloaded nginx"
                                             : "; nginx is not running and reads them at start"));
      break;
    }
    case PublishOutcome::Result::failed:
      logger.error("publish failed: " + report.publish.detail);
      break;
    case PublishOutcome::Result::unchanged:
      if (report.rendered) {
        logger.debug("nginx files unchanged; no reload");
      }
      break;
  }
}

int commandSync(const AgentConfig& config, const CrlForce& force, std::ostream& out,
                std::ostream& err) {
  Poco::Logger& logger = configureLogger(config);
  storage::Database database(config.storage_path, config.storage_busy_timeout);
  TrustSync sync(config, database, logger);
  const SyncReport report = sync.syncOnce(unixNow(), force);
  std::set<std::string> known_warnings;
  logReport(logger, report, known_warnings);
  if (!report.ok()) {
    err << "certbridge: sync failed: " << escapeControlCharacters(report.summary()) << "\n";
    return kExitFailure;
  }
  out << "certbridge: " << escapeControlCharacters(report.summary()) << "\n";
  return kExitOk;
}

// The store watcher of the run loop, kept alive through failures: one that cannot be made, or
// whose wait fails, is made again after a back-off (5 s doubling up to the sync interval), and
// each change of state (a folder not watchable, watched again, a failure) is logged once.
class ResilientStoreWatcher {
 public:
  ResilientStoreWatcher(std::vector<std::string> locations, std::chrono::seconds max_retry,
                        Poco::Logger& logger)
      : locations_(std::move(locations)), max_retry_(max_retry), logger_(logger) {
    // Watching starts before the first sync, so that a change during it is not missed.
    tryToStart();
  }

  // Like StoreWatcher::waitForChange; never throws, and sleeps out `timeout` while no watcher
  // works so that the loop never spins.
  bool waitForChange(std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    if (!watcher_ && Clock::now() >= next_attempt_) {
      tryToStart();
    }
    if (!watcher_) {
      std::this_thread::sleep_for(timeout);
      return false;
    }
    try {
      const bool changed = watcher_->waitForChange(timeout);
      recovered();
      noteUnwatched(watcher_->unwatched());
      return changed;
    } catch (const std::exception& error) {
      watcher_.reset();
      failed(std::string("watching the stores for changes failed: ") + error.what());
      return false;
    }
  }

 private:
  static constexpr std::chrono::seconds kFirstRetry{5};

  void tryToStart() {
    try {
      watcher_ = platform::makeStoreWatcher(locations_);
      noteUnwatched(watcher_->unwatched());
    } catch (const std::exception& error) {
      failed(std::string("cannot watch the stores for changes: ") + error.what());
    }
  }

  // Logs a failure only when it differs from the last one, and backs off either way.
  void failed(const std::string& reason) {
    if (reason != last_failure_) {
      logger_.error(
          "%s; changes are picked up at the next scheduled sync, and watching is tried again "
          "after 5 s, 10 s, ... up to the sync interval",
          reason);
      last_failure_ = reason;
    }
    next_attempt_ = std::chrono::steady_clock::now() + retry_delay_;
    retry_delay_ = std::min(retry_delay_ * 2, std::max(max_retry_, kFirstRetry));
  }

  // After a wait that worked: the back-off starts again, and a recovery is said once.
  void recovered() {
    if (!last_failure_.empty()) {
      logger_.notice("watching the stores for changes again");
      last_failure_.clear();
    }
    retry_delay_ = kFirstRetry;
  }

  void noteUnwatched(const std::vector<std::string>& problems) {
    std::set<std::string> current(problems.begin(), problems.end());
    for (const std::string& problem : current) {
      if (!unwatched_.contains(problem)) {
        logger_.warning(problem);
      }
    }
    if (!unwatched_.empty() && current.empty()) {
      logger_.notice("every store folder is watched again");
    }
    unwatched_ = std::move(current);
  }

  std::vector<std::string> locations_;
  std::chrono::seconds max_retry_;
  Poco::Logger& logger_;
  std::unique_ptr<platform::StoreWatcher> watcher_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::seconds retry_delay_ = kFirstRetry;
  std::string last_failure_;
  std::set<std::string> unwatched_;
};

int runAgent(const AgentConfig& config, const std::atomic<bool>& stop_requested,
             Poco::Logger& logger) {
  storage::Database database(config.storage_path, config.storage_busy_timeout);
  TrustSync sync(config, database, logger);
  std::vector<std::string> locations;
  for (const StoreConfig& store : config.stores) {
    // A store that cannot be opened now is the sync's error to report (and retry), not a
    // reason to stop: it is simply not watched.
    try {
      const auto reader = platform::openCertStore(store.storeLocation());
      const std::vector<std::string> more = reader->watchLocations();
      locations.insert(locations.end(), more.begin(), more.end());
    } catch (const std::exception& error) {
      logger.error("store %s cannot be watched: %s", store.name, std::string(error.what()));
    }
  }
  ResilientStoreWatcher watcher(locations, config.sync_interval, logger);
  sync::AgentControlService control(
      database, storage::StatusOptions{.crl_enabled = config.crl.enabled,
                                       .crl_warning_margin = config.crl.warning_margin.count()});
  std::unique_ptr<web::WebServer> web_server;
  if (config.web_enabled) {
    web_server = std::make_unique<web::WebServer>(config.web, database, control, logger);
    web_server->start();
    const std::string host = config.web.listen.substr(0, config.web.listen.rfind(':'));
    logger.notice("web page on http://%s:%d/", host, web_server->port());
    if (config.web.admin_password_hash.empty()) {
      logger.warning(
          "[web] admin_password_hash is not set: nobody can log in or change anything "
          "on the web page (make one with 'certbridge hash-password')");
    }
  }
  // After the web server: a fleet that cannot start (a conninfo libpq cannot parse) is a
  // configuration error; one that cannot connect only runs degraded.
  const std::unique_ptr<fleet::FleetMember> fleet_member = fleet::startFleetMember(
      config, database, [&control] { control.requestPublish(); }, logger);
  logger.notice("certbridge %s running: %z store(s), interval %?ds, publishing to %s",
                std::string(kVersion), config.stores.size(), config.sync_interval.count(),
                config.nginx.output_dir);

  std::set<std::string> known_warnings;
  sync::SyncLoopParts parts;
  parts.sync = [&] {
    const SyncReport report = sync.syncOnce(unixNow());
    logReport(logger, report, known_warnings);
    control.setWarnings(report.warnings);
    return report.ok();
  };
  parts.next_crl_fetch = [&] { return sync.nextCrlFetch(); };
  parts.take_publish_request = [&] { return control.takePublishRequest(); };
  parts.wait_for_change = [&](std::chrono::milliseconds slice) {
    return watcher.waitForChange(slice);
  };
  parts.notify = [](const std::string& state) { platform::notifyServiceManager(state); };
  parts.log_error = [&](const std::string& text) { logger.error(text); };
  parts.log_warning = [&](const std::string& text) { logger.warning(text); };
  parts.log_information = [&](const std::string& text) { logger.information(text); };
  parts.watchdog = platform::watchdogInterval();
  sync::SystemSchedulerClock clock;
  sync::runSyncLoop(parts, config.sync_interval, clock, stop_requested);
  logger.notice("certbridge stopping");
  platform::notifyServiceManager("STOPPING=1");
  web_server.reset();
  return kExitOk;
}

int commandRun(const AgentConfig& config) {
  Poco::Logger& logger = configureLogger(config);
  std::signal(SIGTERM, requestStop);
  std::signal(SIGINT, requestStop);
  return runAgent(config, g_stop_requested, logger);
}

// Reads a password without echo from a terminal (asked twice), or one line from a pipe.
int commandHashPassword(std::ostream& out, std::ostream& err) {
  const bool terminal = platform::standardInputIsTerminal();
  const auto readSecret = [&](const char* prompt) {
    std::string secret;
    if (terminal) {
      err << prompt << std::flush;
      secret = platform::readLineWithoutEcho();
      err << "\n";
    } else {
      std::getline(std::cin, secret);
    }
    return secret;
  };
  const std::string password = readSecret("Password: ");
  if (password.size() < 8) {
    err << "certbridge: the password needs at least 8 characters\n";
    return kExitUsage;
  }
  if (terminal && readSecret("Again: ") != password) {
    err << "certbridge: the two passwords differ\n";
    return kExitUsage;
  }
  out << storage::hashPassword(password) << "\n";
  return kExitOk;
}

int commandDoctor(const std::vector<std::string>& options, const AgentConfig& config,
                  std::ostream& out) {
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

int commandStatus(const AgentConfig& config, bool json, std::ostream& out) {
  storage::Database database(config.storage_path, config.storage_busy_timeout);
  // One read transaction: stores, publish, CRLs and certificates from the same moment, even
  // while a running agent writes.
  bool healthy = false;
  database.read([&] { healthy = writeStatus(database, config, unixNow(), json, out); });
  return healthy ? kExitOk : kExitFailure;
}

}  // namespace

int runAgentService(const std::atomic<bool>& stop_requested,
                    Poco::AutoPtr<Poco::Channel> service_log) {
  const std::string config_path = platform::defaultConfigFile();
  try {
    const AgentConfig config = loadConfig(config_path);
    return runAgent(config, stop_requested, configureLogger(config, service_log));
  } catch (const std::exception& error) {
    // Before the logger is set up (a bad configuration), the service log is the only witness.
    if (service_log) {
      service_log->log(Poco::Message(
          "certbridge", "certbridge cannot run: " + escapeControlCharacters(error.what()),
          Poco::Message::PRIO_CRITICAL));
    }
    return kExitFailure;
  }
}

int runCli(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err) {
  std::string config_path = platform::defaultConfigFile();
  bool config_given = false;
  std::string command;
  std::vector<std::string> command_options;
  try {
    for (std::size_t i = 0; i < arguments.size(); ++i) {
      const std::string& argument = arguments[i];
      if (!command.empty()) {
        command_options.push_back(argument);
      } else if (argument == "--help" || argument == "-h") {
        out << kMainHelp;
        return kExitOk;
      } else if (argument == "--version") {
        out << "certbridge " << kVersion << "\n";
        return kExitOk;
      } else if (argument == "--config") {
        if (i + 1 >= arguments.size()) {
          throw UsageError("--config needs a file name");
        }
        config_path = arguments[++i];
        config_given = true;
      } else if (argument.starts_with("--config=")) {
        config_path = argument.substr(std::string("--config=").size());
        config_given = true;
      } else if (argument.starts_with("-")) {
        throw UsageError("unknown option '" + argument + "'");
      } else {
        command = argument;
      }
    }
    if (command.empty()) {
      throw UsageError("no command given (run, sync --once, status, crl refresh, doctor)");
    }

    const auto wantsHelp = std::find(command_options.begin(), command_options.end(), "--help") !=
                           command_options.end();
    const auto rejectOthers = [&](const std::vector<std::string>& allowed) {
      for (const std::string& option : command_options) {
        if (std::find(allowed.begin(), allowed.end(), option) == allowed.end()) {
          throw UsageError("'" + command + "' does not take '" + option + "'");
        }
      }
    };
    if (command == "run") {
      if (wantsHelp) {
        out << kRunHelp;
        return kExitOk;
      }
      rejectOthers({});
      return commandRun(loadConfig(config_path));
    }
    if (command == "sync") {
      if (wantsHelp) {
        out << kSyncHelp;
        return kExitOk;
      }
      rejectOthers({"--once"});
      if (command_options.empty()) {
        throw UsageError("'sync' needs --once (for continuous syncing use 'run')");
      }
      return commandSync(loadConfig(config_path), CrlForce{}, out, err);
    }
    if (command == "hash-password") {
      if (wantsHelp) {
        out << kHashPasswordHelp;
        return kExitOk;
      }
      rejectOthers({});
      return commandHashPassword(out, err);
    }
    if (command == "crl") {
      if (wantsHelp) {
        out << kCrlHelp;
        return kExitOk;
      }
      if (command_options.empty() || command_options.front() != "refresh") {
        throw UsageError("'crl' needs a subcommand: crl refresh [--ca SHA256]");
      }
      CrlForce force{.all = true, .ca_sha256 = ""};
      for (std::size_t i = 1; i < command_options.size(); ++i) {
        if (command_options[i] == "--ca" && i + 1 < command_options.size()) {
          force = CrlForce{.all = false, .ca_sha256 = command_options[++i]};
          if (force.ca_sha256.size() != 64 ||
              force.ca_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
            throw UsageError("--ca takes a CA's SHA-256 fingerprint: 64 lower-case hex digits");
          }
        } else {
          throw UsageError("'crl refresh' does not take '" + command_options[i] + "'");
        }
      }
      return commandSync(loadConfig(config_path), force, out, err);
    }
    if (command == "status") {
      if (wantsHelp) {
        out << kStatusHelp;
        return kExitOk;
      }
      rejectOthers({"--json"});
      return commandStatus(loadConfig(config_path), !command_options.empty(), out);
    }
    if (command == "doctor") {
      if (wantsHelp) {
        out << kDoctorHelp;
        return kExitOk;
      }
      // doctor is the first thing a new user runs: it needs no configuration file.
      const bool use_config = config_given || std::filesystem::exists(config_path);
      return commandDoctor(command_options, use_config ? loadConfig(config_path) : AgentConfig{},
                           out);
    }
    if (command == "fleet") {
      return commandFleet(command_options, config_path, out, err);
    }
    throw UsageError("unknown command '" + command + "'");
  } catch (const UsageError& error) {
    err << "certbridge: " << error.what() << "\nTry 'certbridge --help'.\n";
    return kExitUsage;
  } catch (const ConfigError& error) {
    err << "certbridge: " << error.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& error) {
    err << "certbridge: " << escapeControlCharacters(error.what()) << "\n";
    return kExitFailure;
  }
}

}  // namespace certbridge::agent
