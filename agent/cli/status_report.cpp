#include "agent/cli/status_report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <ostream>

#include "agent/nginx/nginx_files.h"
#include "agent/sync/status_service.h"
#include "web/status_json.h"

namespace certbridge::agent {
namespace {

std::string formatTime(std::int64_t unix_time) {
  return storage::formatUtc(unix_time, "%Y-%m-%d %H:%M:%S UTC");
}

std::string expiryLabel(std::int64_t days) {
  switch (storage::expiryBandOf(days)) {
    case storage::ExpiryBand::expired: return "EXPIRED";
    case storage::ExpiryBand::week: return "EXPIRES <7d";
    case storage::ExpiryBand::month: return "expires <30d";
    case storage::ExpiryBand::fine: break;
  }
  return "ok";
}

}  // namespace

void writeStatusText(const storage::StatusSnapshot& snapshot, std::ostream& out) {
  const std::int64_t now = snapshot.now;
  const auto& publish = snapshot.last_change;
  const auto& stores = snapshot.stores;
  out << "certbridge status (" << snapshot.database_path << ") at " << formatTime(now)
      << "\n\nStores:\n";
  for (const storage::StoreStatus& store : stores) {
    out << "  " << store.definition.name << "  " << store.definition.type << ":"
        << store.definition.location << "  policy " << store.definition.policy << "  last sync "
        << (store.last_sync_at ? formatTime(*store.last_sync_at) : "never") << "  "
        << (store.last_sync_ok ? "ok" : "FAILED: " + commentSafe(store.last_sync_error)) << "\n";
  }
  out << "\nLast publish: ";
  if (publish) {
    out << formatTime(publish->at) << "  " << publish->result
        << (publish->detail.empty() ? "" : ": " + publish->detail) << "\n";
  } else {
    out << "never\n";
  }
  if (snapshot.fleet) {
    const storage::FleetLinkStatus& fleet = *snapshot.fleet;
    out << "\nFleet: node " << commentSafe(fleet.node) << ", " << fleet.state << " since "
        << formatTime(fleet.since) << ", enforcing event #" << fleet.applied_event_id
        << " (log at #" << fleet.latest_event_id << " when last reached)";
    if (fleet.queued_changes > 0) {
      out << ", " << fleet.queued_changes << " change(s) made here wait to be shared";
    }
    out << "\n";
    if (fleet.state == "degraded") {
      out << "  degraded: enforcing the last list applied; " << commentSafe(fleet.detail) << "\n";
    }
  }
  if (snapshot.crl_enabled) {
    out << "\nCRLs of the CAs in client-ca.pem:\n";
    for (const storage::CrlStatus& status : snapshot.crls) {
      out << "  "
          << (status.level == "ok"        ? "ok     "
              : status.level == "warning" ? "WARNING"
                                          : "ERROR  ")
          << "  " << commentSafe(status.ca_subject) << "\n";
      if (status.crl) {
        out << "           next update "
            << (status.crl->next_update
                    ? formatTime(*status.crl->next_update) + " (in " +
                          storage::formatDuration(*status.crl->next_update - now) + ")"
                    : std::string("none"))
            << ", number " << status.crl->number.value_or("-") << ", " << status.crl->revoked_count
            << " revoked, from " << status.crl->source << "\n";
      }
      out << "           last fetch "
          << (status.fetch.last_attempt_at
                  ? formatTime(*status.fetch.last_attempt_at) + " " + status.fetch.last_result
                  : std::string("never"))
          << ", next planned "
          << (status.fetch.next_fetch_at ? formatTime(*status.fetch.next_fetch_at) : "-") << "\n";
      if (!status.message.empty()) {
        out << "           " << commentSafe(status.message) << "\n";
      }
    }
  }
  out << "\nCertificates (soonest expiry first):\n";
  char line[160];
  std::snprintf(line, sizeof(line), "  %-13s %6s  %-10s %-8s %-9s %s\n", "EXPIRY", "DAYS",
                "NOT AFTER", "TRUST", "ROLE", "SUBJECT [SOURCES]");
  out << line;
  for (const storage::CertificateStatus& status : snapshot.certificates) {
    const storage::CertificateView& view = status.view;
    const std::int64_t days = storage::daysLeft(view.certificate.not_after, now);
    std::snprintf(
        line, sizeof(line), "  %-13s %6lld  %-10.10s %-8s %-9s ", expiryLabel(days).c_str(),
        static_cast<long long>(days), formatTime(view.certificate.not_after).c_str(),
        (status.trust.empty() ? "-" : status.trust).c_str(), storage::roleLabel(view).c_str());
    out << line << commentSafe(view.certificate.subject) << " [" << commentSafe(view.sources)
        << "]\n";
    if (!status.revocation.empty()) {
      out << "           " << commentSafe(status.revocation) << "\n";
    } else if (!status.left_out.empty()) {
      out << "           trusted but left out of clients.map: " << status.left_out << "\n";
    }
  }
}

bool writeStatus(storage::Database& database, const AgentConfig& config, std::int64_t now,
                 bool json, std::ostream& out) {
  const storage::StatusSnapshot snapshot = sync::takeStatusSnapshot(
      database, storage::StatusOptions{.now = now,
                                       .crl_enabled = config.crl.enabled,
                                       .crl_warning_margin = config.crl.warning_margin.count()});
  if (json) {
    web::statusDocument(snapshot).stringify(out, 2);
    out << "\n";
  } else {
    writeStatusText(snapshot, out);
  }
  return snapshot.healthy();
}

}  // namespace certbridge::agent
