#include "agent/status_report.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <ostream>

#include "storage/audit_log.h"
#include "storage/certificate_repository.h"

namespace certbridge::agent {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

std::string formatTime(std::int64_t unix_time) {
  const auto time = static_cast<std::time_t>(unix_time);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

std::string roleOf(const storage::CertificateView& view) {
  if (view.anchor)
    return "client CA";
  if (view.certificate.is_ca)
    return "CA";
  if (view.client)
    return "client";
  return "other";
}

std::int64_t daysLeft(const storage::CertificateView& view, std::int64_t now) {
  const std::int64_t seconds = view.certificate.not_after - now;
  return seconds >= 0 ? seconds / kSecondsPerDay
                      : -((-seconds + kSecondsPerDay - 1) / kSecondsPerDay);
}

std::string expiryLabel(std::int64_t days) {
  if (days < 0)
    return "EXPIRED";
  if (days < 7)
    return "EXPIRES <7d";
  if (days < 30)
    return "expires <30d";
  return "ok";
}

}  // namespace

bool writeStatus(storage::Database& database, std::int64_t now, bool json, std::ostream& out) {
  storage::CertificateRepository repository(database);
  std::vector<storage::CertificateView> certificates = repository.listCertificates();
  std::erase_if(certificates, [](const auto& view) { return !view.present; });
  std::stable_sort(certificates.begin(), certificates.end(),
                   [](const auto& left, const auto& right) {
                     return left.certificate.not_after < right.certificate.not_after;
                   });
  const std::vector<storage::StoreStatus> stores = repository.listStores();
  const std::optional<storage::PublishRecord> publish =
      storage::PublishHistory(database).lastChange();

  bool healthy = !publish || publish->result != "failed";
  for (const storage::StoreStatus& store : stores) {
    healthy = healthy && store.last_sync_ok;
  }

  if (json) {
    Poco::JSON::Object root;
    root.set("database", database.path());
    root.set("now", now);
    root.set("healthy", healthy);
    Poco::JSON::Array store_list;
    for (const storage::StoreStatus& store : stores) {
      Poco::JSON::Object entry;
      entry.set("name", store.definition.name);
      entry.set("type", store.definition.type);
      entry.set("location", store.definition.location);
      entry.set("policy", store.definition.policy);
      entry.set("last_sync_at", store.last_sync_at.value_or(0));
      entry.set("last_sync_ok", store.last_sync_ok);
      entry.set("last_sync_error", store.last_sync_error);
      store_list.add(entry);
    }
    root.set("stores", store_list);
    if (publish) {
      Poco::JSON::Object entry;
      entry.set("at", publish->at);
      entry.set("result", publish->result);
      entry.set("detail", publish->detail);
      root.set("last_publish", entry);
    }
    Poco::JSON::Array certificate_list;
    for (const storage::CertificateView& view : certificates) {
      Poco::JSON::Object entry;
      entry.set("sha256", view.certificate.sha256);
      entry.set("sha1", view.certificate.sha1);
      entry.set("subject", view.certificate.subject);
      entry.set("issuer", view.certificate.issuer);
      entry.set("serial", view.certificate.serial);
      entry.set("not_before", view.certificate.not_before);
      entry.set("not_after", view.certificate.not_after);
      entry.set("days_left", daysLeft(view, now));
      entry.set("role", roleOf(view));
      entry.set("trust", view.trust ? storage::toString(*view.trust) : std::string());
      entry.set("key_type", view.certificate.key_type);
      entry.set("sources", view.sources);
      certificate_list.add(entry);
    }
    root.set("certificates", certificate_list);
    root.stringify(out, 2);
    out << "\n";
    return healthy;
  }

  out << "certbridge status (" << database.path() << ") at " << formatTime(now) << "\n\nStores:\n";
  for (const storage::StoreStatus& store : stores) {
    out << "  " << store.definition.name << "  " << store.definition.type << ":"
        << store.definition.location << "  policy " << store.definition.policy << "  last sync "
        << (store.last_sync_at ? formatTime(*store.last_sync_at) : "never") << "  "
        << (store.last_sync_ok ? "ok" : "FAILED: " + store.last_sync_error) << "\n";
  }
  out << "\nLast publish: ";
  if (publish) {
    out << formatTime(publish->at) << "  " << publish->result
        << (publish->detail.empty() ? "" : ": " + publish->detail) << "\n";
  } else {
    out << "never\n";
  }
  out << "\nCertificates (soonest expiry first):\n";
  char line[160];
  std::snprintf(line, sizeof(line), "  %-13s %6s  %-10s %-8s %-9s %s\n", "EXPIRY", "DAYS",
                "NOT AFTER", "TRUST", "ROLE", "SUBJECT [SOURCES]");
  out << line;
  for (const storage::CertificateView& view : certificates) {
    const std::int64_t days = daysLeft(view, now);
    std::snprintf(line, sizeof(line), "  %-13s %6lld  %-10.10s %-8s %-9s ",
                  expiryLabel(days).c_str(), static_cast<long long>(days),
                  formatTime(view.certificate.not_after).c_str(),
                  view.trust ? storage::toString(*view.trust).c_str() : "-", roleOf(view).c_str());
    out << line << view.certificate.subject << " [" << view.sources << "]\n";
  }
  return healthy;
}

}  // namespace certbridge::agent
