#include "agent/fleet/fleet_member.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/sync/agent_control_service.h"
#include "storage/audit_log.h"
#include "storage/fleet/fleet_applier.h"
#include "storage/fleet/fleet_listener.h"
#include "storage/fleet/fleet_log.h"
#include "storage/fleet/fleet_nodes.h"
#include "storage/fleet/fleet_schema.h"
#include "storage/fleet/postgres.h"
#include "storage/fleet_link.h"
#include "storage/status_snapshot.h"

namespace certbridge::agent::fleet {
namespace {

using namespace std::chrono_literals;
using storage::UnixTime;
using storage::fleet::FleetApplier;
using storage::fleet::FleetError;
using storage::fleet::FleetEventKind;
using storage::fleet::FleetListener;
using storage::fleet::FleetLog;
using storage::fleet::FleetNodes;
using storage::fleet::FleetSchema;
using storage::fleet::PostgresConnection;

UnixTime unixNow() {
  return static_cast<UnixTime>(std::time(nullptr));
}

// While waiting for an append, how often the queue of local decisions and a stop request are
// looked at: a decision made on this host's page reaches the log within this.
constexpr auto kSlice = 200ms;
constexpr std::chrono::seconds kFirstRetry{1};
constexpr std::chrono::seconds kMaxRetry{30};
constexpr int kQueueBatch = 100;
constexpr int kShownExpiries = 10;

// What the fleet keeps of an upload: the agent's own upload check, so that a certificate this
// host would refuse on its page is refused from the fleet too (and passed over, audited).
storage::CertificateRecord decodeUpload(std::span<const unsigned char> der) {
  return sync::decodeUploadedClient(der).record();
}

// The fleet's database while it is reachable: one connection to work, one listening for
// appends (LISTEN before the first read of the log, so that no append falls between the two).
struct FleetSession {
  explicit FleetSession(const std::string& conninfo) : work(conninfo), listener(conninfo) {
    FleetSchema::require(work);
  }

  PostgresConnection work;
  FleetListener listener;
  FleetLog log{work};
  FleetNodes nodes{work};
};

class FleetMemberThread final : public FleetMember {
 public:
  FleetMemberThread(const AgentConfig& config, storage::Database& database,
                    std::function<void()> request_publish, Poco::Logger& logger)
      : settings_(config.fleet),
        poll_interval_(config.sync_interval),
        max_retry_(std::min(kMaxRetry, config.sync_interval)),
        address_(config.web_enabled ? config.web.listen : ""),
        database_(database),
        request_publish_(std::move(request_publish)),
        logger_(logger),
        applier_(database, decodeUpload),
        link_(database) {
    link_.open(settings_.node, unixNow());
    thread_ = std::thread([this] { run(); });
  }
  FleetMemberThread(const FleetMemberThread&) = delete;
  FleetMemberThread& operator=(const FleetMemberThread&) = delete;

  ~FleetMemberThread() override {
    stop_ = true;
    thread_.join();
  }

  std::optional<storage::FleetOverview> overview() const override {
    const std::lock_guard lock(overview_mutex_);
    return overview_;
  }

 private:
  void run() {
    std::chrono::seconds retry = kFirstRetry;
    while (!stop_) {
      try {
        FleetSession session(settings_.postgres);
        logger_.notice("fleet: connected to %s as node %s", session.work.name(), settings_.node);
        retry = kFirstRetry;
        next_poll_ = std::chrono::steady_clock::now();
        next_heartbeat_ = next_poll_;
        while (!stop_) {
          cycle(session);
          waitForWork(session);
        }
        return;
      } catch (const FleetError& error) {
        noteDegraded(error.what());
      } catch (const std::exception& error) {
        // The local database (busy, full): nothing is lost, the next attempt starts over.
        logger_.error("fleet: %s; retrying in %?ds", std::string(error.what()), retry.count());
      }
      sleepFor(retry);
      retry = std::min(retry * 2, max_retry_);
    }
  }

  // Shares what was decided here, applies what the log holds beyond this host's position,
  // records the link as connected and reports the heartbeat when it is due.
  void cycle(FleetSession& session) {
    shareQueued(session);
    const storage::fleet::FleetApplyOutcome outcome = applier_.catchUp(session.log, unixNow());
    // What was applied is in the audit log now; passing over it here keeps the queue's reads
    // (five a second while waiting) short.
    shareQueued(session);
    if (outcome.applied + outcome.deferred + outcome.skipped > 0) {
      logger_.information("fleet: applied up to event #%?d (%d applied, %d deferred, %d skipped)",
                          outcome.applied_event_id, outcome.applied, outcome.deferred,
                          outcome.skipped);
      request_publish_();
    }
    const std::int64_t latest = session.log.latestId();
    link_.setState("connected", "", latest, unixNow());
    if (degraded_) {
      logger_.notice("fleet: %s reachable again; enforcing event #%?d of %?d", session.work.name(),
                     outcome.applied_event_id, latest);
      degraded_ = false;
      last_problem_.clear();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_heartbeat_ || outcome.applied_event_id != reported_event_id_) {
      heartbeat(session, outcome.applied_event_id);
      next_heartbeat_ = now + settings_.heartbeat;
    }
    for (PostgresConnection* connection : {&session.work}) {
      for (const std::string& notice : connection->takeNotices()) {
        logger_.information("fleet: %s says: %s", connection->name(), notice);
      }
    }
    for (const std::string& notice : session.listener.takeNotices()) {
      logger_.information("fleet: %s says: %s", session.listener.name(), notice);
    }
  }

  // Appends the decisions made here since the last shared one, oldest first. A decision is
  // marked shared after its append: one killed in between is appended twice, which applies as
  // once (the same decision again).
  void shareQueued(FleetSession& session) {
    for (;;) {
      const storage::FleetLinkRecord::Queue queue = link_.queuedDecisions(kQueueBatch);
      for (const storage::AuditEntry& entry : queue.decisions) {
        share(session, entry);
        link_.markShared(entry.id);
      }
      if (queue.decisions.size() < static_cast<std::size_t>(kQueueBatch)) {
        if (queue.newest_audit_id > queued_checked_up_to_) {
          link_.markShared(queue.newest_audit_id);
          queued_checked_up_to_ = queue.newest_audit_id;
        }
        return;
      }
    }
  }

  void share(FleetSession& session, const storage::AuditEntry& entry) {
    const std::string& node = settings_.node;
    std::optional<storage::fleet::FleetEvent> event;
    if (entry.action == "trust.trusted" || entry.action == "trust.blocked") {
      event = session.log.appendDecision(
          entry.action == "trust.trusted" ? FleetEventKind::approve : FleetEventKind::block,
          entry.target, entry.actor, node, entry.origin);
    } else if (entry.action == "certificate.uploaded") {
      std::vector<unsigned char> der;
      database_.read([&] {
        storage::Statement select =
            database_.prepare("SELECT der FROM certificates WHERE sha256 = ?");
        select.bind(1, entry.target);
        if (select.step()) {
          der = select.blob(0);
        }
      });
      if (der.empty()) {
        logger_.warning("fleet: upload %s (audit entry %?d) is no longer in %s; not shared",
                        entry.target, entry.id, database_.path());
        return;
      }
      event = session.log.appendUpload(der, entry.actor, node, entry.origin);
    } else if (entry.action == "certificate.upload_withdrawn") {
      const std::optional<std::int64_t> upload = session.log.latestUploadOf(entry.target);
      if (!upload) {
        logger_.information("fleet: withdrawn upload %s was never in the fleet's log",
                            entry.target);
        return;
      }
      event = session.log.appendUndo(*upload, entry.actor, node, entry.origin);
    }
    if (event) {
      logger_.information("fleet: %s of %s by %s shared as event #%?d", entry.action, entry.target,
                          entry.actor, event->id);
    }
  }

  void heartbeat(FleetSession& session, std::int64_t applied_event_id) {
    storage::StatusOptions options;
    options.now = unixNow();
    const storage::StatusSnapshot snapshot = storage::readStatusSnapshot(database_, options);
    storage::fleet::NodeReport report;
    report.node = settings_.node;
    report.address = address_;
    for (const storage::StoreStatus& store : snapshot.stores) {
      if (store.last_sync_at &&
          (!report.last_sync_at || *store.last_sync_at > *report.last_sync_at)) {
        report.last_sync_at = store.last_sync_at;
      }
    }
    if (snapshot.last_attempt) {
      report.last_publish_at = snapshot.last_attempt->at;
      report.last_publish_result = snapshot.last_attempt->result;
      report.last_publish_detail = snapshot.last_attempt->detail;
    }
    report.applied_event_id = applied_event_id;
    session.nodes.heartbeat(report);
    reported_event_id_ = applied_event_id;

    std::vector<storage::fleet::InventoryEntry> inventory;
    std::string fingerprint;  // of the inventory, so that an unchanged one is not sent again
    for (const storage::CertificateStatus& status : snapshot.certificates) {
      const storage::CertificateView& view = status.view;
      storage::fleet::InventoryEntry entry;
      entry.sha256 = view.certificate.sha256;
      entry.subject = view.certificate.subject;
      entry.issuer = view.certificate.issuer;
      entry.role = storage::roleLabel(view);
      entry.trust = view.trust ? storage::toString(*view.trust) : "";
      entry.sources = view.sources;
      entry.not_after = view.certificate.not_after;
      fingerprint += entry.sha256 + entry.role + entry.trust + entry.sources + "\n";
      inventory.push_back(std::move(entry));
    }
    if (fingerprint != reported_inventory_) {
      session.nodes.replaceInventory(settings_.node, inventory);
      reported_inventory_ = std::move(fingerprint);
    }
    readOverview(session);
  }

  void readOverview(FleetSession& session) {
    storage::FleetOverview overview;
    overview.read_at = unixNow();
    overview.latest_event_id = session.log.latestId();
    for (const storage::fleet::NodeState& state : session.nodes.list()) {
      storage::FleetNodeView node;
      node.node = state.report.node;
      node.address = state.report.address;
      node.heartbeat_at = state.heartbeat_at;
      node.last_sync_at = state.report.last_sync_at;
      node.last_publish_at = state.report.last_publish_at;
      node.last_publish_result = state.report.last_publish_result;
      node.applied_event_id = state.report.applied_event_id;
      node.event_lag = state.event_lag;
      overview.nodes.push_back(std::move(node));
    }
    for (const storage::fleet::FleetExpiry& expiry :
         session.nodes.soonestExpiries(kShownExpiries)) {
      overview.soonest_expiries.push_back({expiry.node, expiry.certificate.sha256,
                                           expiry.certificate.subject, expiry.certificate.role,
                                           expiry.certificate.not_after});
    }
    const std::lock_guard lock(overview_mutex_);
    overview_ = std::move(overview);
  }

  // Until an append is announced, a decision made here waits to be shared, the poll or the
  // heartbeat is due, or a stop is requested.
  void waitForWork(FleetSession& session) {
    while (!stop_) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_poll_) {
        next_poll_ = now + poll_interval_;  // covers a notification lost with a connection
        return;
      }
      if (now >= next_heartbeat_ || !link_.queuedDecisions(1).decisions.empty() ||
          session.listener.waitForAppend(kSlice) > 0) {
        return;
      }
    }
  }

  void noteDegraded(const std::string& problem) {
    try {
      link_.setState("degraded", problem, 0, unixNow());
    } catch (const std::exception& error) {
      logger_.error("fleet: cannot record the degraded state: %s", std::string(error.what()));
    }
    if (problem != last_problem_) {
      logger_.warning(
          "fleet: degraded, enforcing the last list applied (event #%?d) and queueing this "
          "host's changes until the fleet's database returns: %s",
          applier_.appliedEventId(), problem);
      last_problem_ = problem;
    }
    degraded_ = true;
  }

  void sleepFor(std::chrono::seconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (!stop_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(kSlice);
    }
  }

  const FleetSettings settings_;
  const std::chrono::seconds poll_interval_;
  const std::chrono::seconds max_retry_;
  const std::string address_;
  storage::Database& database_;
  const std::function<void()> request_publish_;
  Poco::Logger& logger_;
  FleetApplier applier_;
  storage::FleetLinkRecord link_;
  std::atomic<bool> stop_{false};
  bool degraded_ = false;
  std::string last_problem_;
  std::chrono::steady_clock::time_point next_poll_{};
  std::chrono::steady_clock::time_point next_heartbeat_{};
  std::int64_t reported_event_id_ = -1;
  std::string reported_inventory_;
  std::int64_t queued_checked_up_to_ = 0;
  mutable std::mutex overview_mutex_;
  std::optional<storage::FleetOverview> overview_;
  std::thread thread_;  // last: started when everything it uses is made
};

}  // namespace

std::unique_ptr<FleetMember> startFleetMember(const AgentConfig& config,
                                              storage::Database& database,
                                              std::function<void()> request_publish,
                                              Poco::Logger& logger) {
  if (!config.fleet.enabled()) {
    return nullptr;
  }
  try {
    storage::fleet::describeConninfo(config.fleet.postgres);
  } catch (const FleetError& error) {
    throw ConfigError(config.source_file + ": key 'fleet.postgres' " + error.what());
  }
  return std::make_unique<FleetMemberThread>(config, database, std::move(request_publish), logger);
}

void initFleetDatabase(const std::string& conninfo, std::ostream& out) {
  PostgresConnection connection(conninfo);
  const int before = FleetSchema::migrate(connection);
  if (before == FleetSchema::kVersion) {
    out << "fleet database " << connection.name() << ": schema version " << before
        << ", nothing to do\n";
  } else {
    out << "fleet database " << connection.name() << ": schema version " << before << " -> "
        << FleetSchema::kVersion << "\n";
  }
}

}  // namespace certbridge::agent::fleet
