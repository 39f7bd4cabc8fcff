#include "storage/status_snapshot.h"

#include <algorithm>
#include <cstdio>

#include "storage/audit_log.h"
#include "storage/certificate_repository.h"

namespace certbridge::storage {
namespace {

std::string crlMessage(const CrlFetchState& fetch, const std::optional<CrlRecord>& crl,
                       const std::string& level, UnixTime now) {
  std::string message;
  if (!crl) {
    message = "no CRL held" + (fetch.last_error.empty() ? "" : ": " + fetch.last_error);
  } else if (level == "error" && crl->next_update) {
    message = "CRL expired " + formatDuration(now - *crl->next_update) + " ago";
  } else if (level == "warning" && crl->next_update) {
    message = "CRL expires in " + formatDuration(*crl->next_update - now);
  }
  if (level != "error" && fetch.last_result == "failed") {
    message +=
        (message.empty() ? "" : "; ") + std::string("last fetch failed: ") + fetch.last_error;
  }
  return message;
}

}  // namespace

std::string formatDuration(std::int64_t seconds) {
  const char* sign = seconds < 0 ? "-" : "";
  seconds = seconds < 0 ? -seconds : seconds;
  char text[48];
  if (seconds >= 86400) {
    std::snprintf(text, sizeof(text), "%s%lldd%02lldh", sign,
                  static_cast<long long>(seconds / 86400),
                  static_cast<long long>(seconds % 86400 / 3600));
  } else {
    std::snprintf(text, sizeof(text), "%s%lldh%02lldm", sign,
                  static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  }
  return text;
}

ExpiryBand expiryBandOf(std::int64_t days_left) {
  if (days_left < 0) {
    return ExpiryBand::expired;
  }
  if (days_left < 7) {
    return ExpiryBand::week;
  }
  return days_left < 30 ? ExpiryBand::month : ExpiryBand::fine;
}

bool StatusSnapshot::healthy() const {
  bool healthy = !last_change || last_change->result != "failed";
  for (const StoreStatus& store : stores) {
    healthy = healthy && store.last_sync_ok;
  }
  for (const CrlStatus& crl : crls) {
    healthy = healthy && crl.level != "error";
  }
  return healthy;
}

StatusSnapshot readStatusSnapshot(Database& database, const StatusOptions& options) {
  StatusSnapshot snapshot;
  snapshot.now = options.now;
  snapshot.database_path = database.path();
  snapshot.crl_enabled = options.crl_enabled;
  database.read([&] {
    CertificateRepository repository(database);
    CrlRepository crls(database);
    PublishHistory history(database);
    std::vector<CertificateView> views =
        options.with_certificates ? repository.listCertificates() : repository.listPresentCas();
    std::erase_if(views, [](const CertificateView& view) { return !view.present; });
    std::stable_sort(views.begin(), views.end(), [](const auto& left, const auto& right) {
      return left.certificate.not_after < right.certificate.not_after;
    });
    snapshot.stores = repository.listStores();
    snapshot.fleet = readFleetLink(database);
    snapshot.last_change = history.lastChange();
    snapshot.last_attempt = history.last();
    std::tie(snapshot.reloads_total, snapshot.reloads_failed_total) =
        history.countPublishedAndFailed();
    if (options.crl_enabled) {
      for (const CrlFetchState& fetch : crls.fetchStates()) {
        CrlStatus status;
        status.ca_sha256 = fetch.ca_sha256;
        status.fetch = fetch;
        status.crl = crls.current(fetch.ca_sha256);
        for (const CertificateView& view : views) {
          if (view.certificate.sha256 == fetch.ca_sha256) {
            status.ca_subject = view.certificate.subject;
          }
        }
        status.level = crlLevel(status.crl, options.now, options.crl_warning_margin);
        status.message = crlMessage(fetch, status.crl, status.level, options.now);
        snapshot.crls.push_back(std::move(status));
      }
      std::sort(snapshot.crls.begin(), snapshot.crls.end(),
                [](const CrlStatus& left, const CrlStatus& right) {
                  return left.ca_subject < right.ca_subject;
                });
    }
    if (!options.with_certificates) {
      return;
    }
    for (CertificateView& view : views) {
      CertificateStatus status;
      status.trust = view.trust ? toString(*view.trust) : "";
      status.view = std::move(view);
      snapshot.certificates.push_back(std::move(status));
    }
  });
  return snapshot;
}

}  // namespace certbridge::storage
