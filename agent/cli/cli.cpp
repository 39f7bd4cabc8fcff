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

}  // namespace

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

void CommandLine::allowOnly(const std::string& command,
                            const std::vector<std::string>& allowed) const {
  for (const std::string& option : options) {
    if (std::find(allowed.begin(), allowed.end(), option) == allowed.end()) {
      throw UsageError("'" + command + "' does not take '" + option + "'");
    }
  }
}

Poco::Logger& configureLogger(const AgentConfig& config, Poco::AutoPtr<Poco::Channel> service_log) {
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

int syncOnceAndReport(const AgentConfig& config, const CrlForce& force, std::ostream& out,
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

    const CommandLine line{config_path, config_given, command_options, out, err};
    for (const Command* entry : {&kRunCommand, &kSyncCommand, &kStatusCommand, &kCrlCommand,
                                 &kDoctorCommand, &kHashPasswordCommand, &kFleetCommand}) {
      if (command != entry->name) {
        continue;
      }
      if (std::find(command_options.begin(), command_options.end(), "--help") !=
          command_options.end()) {
        out << entry->help;
        return kExitOk;
      }
      return entry->run(line);
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
