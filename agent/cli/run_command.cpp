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

constexpr const char* kRunHelp = R"(Usage: certbridge [--config FILE] run

Runs in the foreground: syncs at start, whenever a watched store changes (within about a
second), and every [sync] interval seconds. A failed sync or publish is logged and retried
with back-off; the agent keeps running. Stops cleanly on SIGTERM or SIGINT. Serves the web
page on [web] listen (127.0.0.1:8080 by default) unless [web] enabled = false.
)";

std::atomic<bool> g_stop_requested{false};

extern "C" void requestStop(int /*signal*/) {
  g_stop_requested.store(true);
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

}  // namespace

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
  // Before the web server, which shows its overview, and stopped after it. A fleet that cannot
  // start (a conninfo libpq cannot parse) is a configuration error; one that cannot connect runs
  // degraded.
  const std::unique_ptr<fleet::FleetMember> fleet_member = fleet::startFleetMember(
      config, database, [&control] { control.requestPublish(); }, logger);
  if (fleet_member) {
    control.setFleetOverviewSource([&fleet_member] { return fleet_member->overview(); });
  }
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
  logger.notice("certbridge %s running: %z store(s), interval %?ds, publishing to %s",
                std::string(kVersion), config.stores.size(), config.sync_interval.count(),
                config.nginx.output_dir);

  std::set<std::string> known_warnings;
  sync::SyncLoopParts parts;
  bool ready_for_changes = false;
  parts.sync = [&] {
    const SyncReport report = sync.syncOnce(unixNow());
    logReport(logger, report, known_warnings);
    control.setWarnings(report.warnings);
    if (!ready_for_changes) {
      // The first sync usually finds nothing changed and builds no chain: build them now, so
      // that the first store change costs its own signature checks, not every client's.
      sync.prepareForChanges(unixNow());
      ready_for_changes = true;
      logger.information("first sync done; ready for store changes");
    }
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

namespace {

int commandRun(const CommandLine& line) {
  line.allowOnly("run", {});
  const AgentConfig config = loadConfig(line.config_path);
  Poco::Logger& logger = configureLogger(config);
  std::signal(SIGTERM, requestStop);
  std::signal(SIGINT, requestStop);
  return runAgent(config, g_stop_requested, logger);
}

}  // namespace

const Command kRunCommand{"run", kRunHelp, commandRun};

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

}  // namespace certbridge::agent
