#include "agent/cli/status_report.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <ostream>

#include "agent/nginx/nginx_files.h"
#include "agent/pki/trust_material.h"
#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "storage/crl_repository.h"
#include "web/status_json.h"

namespace certbridge::agent {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

std::string formatTime(std::int64_t unix_time) {
  return storage::formatUtc(unix_time, "%Y-%m-%d %H:%M:%S UTC");
}

std::string formatDuration(std::int64_t seconds) {
  const char* sign = seconds < 0 ? "-" : "";
  seconds = seconds < 0 ? -seconds : seconds;
  char text[32];
  if (seconds >= kSecondsPerDay) {
    std::snprintf(text, sizeof(text), "%s%lldd%02lldh", sign,
                  static_cast<long long>(seconds / kSecondsPerDay),
                  static_cast<long long>(seconds % kSecondsPerDay / 3600));
  } else {
    std::snprintf(text, sizeof(text), "%s%lldh%02lldm", sign,
                  static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  }
  return text;
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

// One CA in client-ca.pem and the state of its CRL.
struct CrlStatus {
  std::string ca_subject;
  std::string ca_sha256;
  std::optional<storage::CrlRecord> crl;
  storage::CrlFetchState fetch;
  std::string level;  // "ok", "warning", "error"
  std::string message;
};

std::vector<CrlStatus> crlStatuses(storage::Database& database, const AgentConfig& config,
                                   const std::vector<storage::CertificateView>& certificates,
                                   std::int64_t now) {
  storage::CrlRepository crls(database);
  std::vector<CrlStatus> statuses;
  for (const storage::CrlFetchState& fetch : crls.fetchStates()) {
    CrlStatus status;
    status.ca_sha256 = fetch.ca_sha256;
    status.fetch = fetch;
    status.crl = crls.current(fetch.ca_sha256);
    for (const storage::CertificateView& view : certificates) {
      if (view.certificate.sha256 == fetch.ca_sha256) {
        status.ca_subject = view.certificate.subject;
      }
    }
    status.level = storage::crlLevel(status.crl, now, config.crl.warning_margin.count());
    if (!status.crl) {
      status.message = "no CRL held" + (fetch.last_error.empty() ? "" : ": " + fetch.last_error);
    } else if (status.level == "error") {
      status.message = "CRL expired " + formatDuration(now - *status.crl->next_update) + " ago";
    } else if (status.level == "warning") {
      status.message = "CRL expires in " + formatDuration(*status.crl->next_update - now);
    }
    if (status.level != "error" && fetch.last_result == "failed") {
      status.message += (status.message.empty() ? "" : "; ") + std::string("last fetch failed: ") +
                        fetch.last_error;
    }
    statuses.push_back(std::move(status));
  }
  std::sort(statuses.begin(), statuses.end(), [](const CrlStatus& left, const CrlStatus& right) {
    return left.ca_subject < right.ca_subject;
  });
  return statuses;
}

// Why a certificate is revoked, naming which certificate of its chain and which CA's CRL; empty
// when none is. A client's issuer is any present CA with its issuer's subject whose key signed
// it (checked only when several share the subject); the chain above comes from `ca_chains`.
class RevocationFinder {
 public:
  RevocationFinder(storage::CrlRepository& crls,
                   const std::vector<storage::CertificateView>& certificates)
      : crls_(crls), ca_chains_(caChains(certificates)) {
    for (const storage::CertificateView& view : certificates) {
      if (view.certificate.is_ca) {
        cas_by_subject_[view.certificate.subject].push_back(&view);
      }
    }
  }

  std::string of(const storage::CertificateView& view) const {
    if (view.certificate.is_ca) {
      const auto chain = ca_chains_.find(view.certificate.sha256);
      return chain == ca_chains_.end() ? "" : find(chain->second);
    }
    const auto issuers = cas_by_subject_.find(view.certificate.issuer);
    if (issuers == cas_by_subject_.end()) {
      return "";
    }
    std::optional<Certificate> client;
    for (const storage::CertificateView* issuer : issuers->second) {
      if (issuers->second.size() > 1) {
        if (!client) {
          client = Certificate::fromDer(view.certificate.der,
                                        "stored certificate " + view.certificate.sha256);
        }
        const Certificate ca = Certificate::fromDer(
            issuer->certificate.der, "stored certificate " + issuer->certificate.sha256);
        if (!client->isIssuedBy(ca)) {
          continue;
        }
      }
      std::vector<ChainLink> chain{ChainLink{view.certificate.subject, view.certificate.serial,
                                             issuer->certificate.sha256,
                                             issuer->certificate.subject}};
      if (const auto above = ca_chains_.find(issuer->certificate.sha256);
          above != ca_chains_.end()) {
        chain.insert(chain.end(), above->second.begin(), above->second.end());
      }
      if (std::string found = find(chain); !found.empty()) {
        return found;
      }
    }
    return "";
  }

 private:
  std::string find(const std::vector<ChainLink>& chain) const {
    return findRevocation(chain,
                          [&](const std::string& issuer_sha256, const std::string& serial) {
                            return crls_.isRevoked(issuer_sha256, serial);
                          })
        .value_or("");
  }

  storage::CrlRepository& crls_;
  std::map<std::string, std::vector<ChainLink>> ca_chains_;
  std::map<std::string, std::vector<const storage::CertificateView*>> cas_by_subject_;
};

}  // namespace

bool writeStatus(storage::Database& database, const AgentConfig& config, std::int64_t now,
                 bool json, std::ostream& out) {
  storage::CertificateRepository repository(database);
  storage::CrlRepository crls(database);
  std::vector<storage::CertificateView> certificates = repository.listCertificates();
  std::erase_if(certificates, [](const auto& view) { return !view.present; });
  std::stable_sort(certificates.begin(), certificates.end(),
                   [](const auto& left, const auto& right) {
                     return left.certificate.not_after < right.certificate.not_after;
                   });
  const std::vector<storage::StoreStatus> stores = repository.listStores();
  const std::optional<storage::PublishRecord> publish =
      storage::PublishHistory(database).lastChange();
  const std::vector<CrlStatus> crl_statuses = config.crl.enabled
                                                  ? crlStatuses(database, config, certificates, now)
                                                  : std::vector<CrlStatus>{};

  bool healthy = !publish || publish->result != "failed";
  for (const storage::StoreStatus& store : stores) {
    healthy = healthy && store.last_sync_ok;
  }
  for (const CrlStatus& status : crl_statuses) {
    healthy = healthy && status.level != "error";
  }
  // Revocation as certbridge enforces it (clients.map): any certificate of the chain revoked by
  // a CRL held. Shown for clients and for CAs alike.
  std::map<std::string, std::string> revocations;
  if (config.crl.enabled) {
    const RevocationFinder finder(crls, certificates);
    for (const storage::CertificateView& view : certificates) {
      if (view.certificate.is_ca || view.client) {
        if (std::string found = finder.of(view); !found.empty()) {
          revocations[view.certificate.sha256] = std::move(found);
        }
      }
    }
  }
  const auto revocationOf = [&](const storage::CertificateView& view) -> std::string {
    const auto found = revocations.find(view.certificate.sha256);
    return found == revocations.end() ? "" : found->second;
  };
  const auto trustOf = [&](const storage::CertificateView& view) -> std::string {
    if (!revocationOf(view).empty() && (view.trust || view.certificate.is_ca)) {
      return "revoked";
    }
    return view.trust ? storage::toString(*view.trust) : "-";
  };

  if (json) {
    Poco::JSON::Object root;
    root.set("database", database.path());
    root.set("now", now);
    root.set("healthy", healthy);
    Poco::JSON::Array store_list;
    for (const storage::StoreStatus& store : stores) {
      store_list.add(web::storeJson(store));
    }
    root.set("stores", store_list);
    if (publish) {
      root.set("last_publish", web::publishJson(*publish));
    }
    Poco::JSON::Array crl_list;
    for (const CrlStatus& status : crl_statuses) {
      Poco::JSON::Object entry =
          web::crlJson(status.fetch, status.crl, status.ca_subject, status.level, now);
      entry.set("message", status.message);
      crl_list.add(entry);
    }
    root.set("crls", crl_list);
    Poco::JSON::Array certificate_list;
    for (const storage::CertificateView& view : certificates) {
      const std::string trust = trustOf(view);
      Poco::JSON::Object entry = web::certificateJson(view, now, trust == "-" ? "" : trust);
      if (const std::string revocation = revocationOf(view); !revocation.empty()) {
        entry.set("revocation", revocation);
      }
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
        << (store.last_sync_ok ? "ok" : "FAILED: " + commentSafe(store.last_sync_error)) << "\n";
  }
  out << "\nLast publish: ";
  if (publish) {
    out << formatTime(publish->at) << "  " << publish->result
        << (publish->detail.empty() ? "" : ": " + publish->detail) << "\n";
  } else {
    out << "never\n";
  }
  if (config.crl.enabled) {
    out << "\nCRLs of the CAs in client-ca.pem:\n";
    for (const CrlStatus& status : crl_statuses) {
      out << "  "
          << (status.level == "ok"        ? "ok     "
              : status.level == "warning" ? "WARNING"
                                          : "ERROR  ")
          << "  " << commentSafe(status.ca_subject) << "\n";
      if (status.crl) {
        out << "           next update "
            << (status.crl->next_update ? formatTime(*status.crl->next_update) + " (in " +
                                              formatDuration(*status.crl->next_update - now) + ")"
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
  for (const storage::CertificateView& view : certificates) {
    const std::int64_t days = storage::daysLeft(view.certificate.not_after, now);
    std::snprintf(line, sizeof(line), "  %-13s %6lld  %-10.10s %-8s %-9s ",
                  expiryLabel(days).c_str(), static_cast<long long>(days),
                  formatTime(view.certificate.not_after).c_str(), trustOf(view).c_str(),
                  storage::roleLabel(view).c_str());
    out << line << commentSafe(view.certificate.subject) << " [" << commentSafe(view.sources)
        << "]\n";
    if (const std::string revocation = revocationOf(view); !revocation.empty()) {
      out << "           " << commentSafe(revocation) << "\n";
    }
  }
  return healthy;
}

}  // namespace certbridge::agent
