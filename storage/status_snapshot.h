#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/crl_repository.h"
#include "storage/database.h"
#include "storage/fleet_link.h"
#include "storage/records.h"

namespace certbridge::storage {

// One CA of client-ca.pem and the state of its CRL.
struct CrlStatus {
  std::string ca_subject;
  std::string ca_sha256;
  std::optional<CrlRecord> crl;
  CrlFetchState fetch;
  std::string level;    // "ok", "warning", "error" (crlLevel)
  std::string message;  // why there is none, when it expires or expired, a failed fetch
};

// A certificate present in a store, with the trust certbridge actually enforces.
struct CertificateStatus {
  CertificateView view;
  // What nginx is told, which is not always the decision: "trusted", "left out" (trusted by
  // decision but not in clients.map; `left_out` says why), "revoked" (a certificate of its chain
  // is on a CRL held; `revocation` says which), "pending", "blocked", or "" (no decision: a CA,
  // or a certificate that is not a client).
  std::string trust;
  std::string left_out;    // "chain not trusted", "expired", "revoked CA", "no trust anchor"
  std::string revocation;  // "'CN=Sub CA' (serial 1F) is revoked by the CRL of 'CN=Root CA'"
};

// What `status`, `status --json`, /api/v1/status, the status page and /metrics show: everything
// read in one read transaction, so the four outputs describe the same moment. Plain data; the
// effective trust is filled in by the agent (agent/sync/status_service.h), which knows how chains
// are built.
struct StatusSnapshot {
  UnixTime now = 0;
  std::string database_path;  // empty where it must not be shown (the web API)
  bool crl_enabled = true;
  std::vector<StoreStatus> stores;
  std::optional<PublishRecord> last_change;   // the last publish that changed something or failed
  std::optional<PublishRecord> last_attempt;  // the last publish attempt of all
  std::int64_t reloads_total = 0;
  std::int64_t reloads_failed_total = 0;
  std::vector<CrlStatus> crls;                  // empty when CRLs are off; by CA subject
  std::vector<CertificateStatus> certificates;  // present ones, soonest expiry first
  std::vector<std::string> warnings;            // of the running agent's last render
  // This host's link to its fleet; absent when it is in none. "degraded" never makes the
  // snapshot unhealthy: the host keeps enforcing the last list it applied.
  std::optional<FleetLinkStatus> fleet;
  // The fleet as the running agent last read it; absent outside `run` and before the first read.
  std::optional<FleetOverview> fleet_overview;
  // False when a store's last sync or the last publish failed, or a CRL is missing or expired.
  bool healthy() const;
};

struct StatusOptions {
  UnixTime now = 0;
  bool crl_enabled = true;
  std::int64_t crl_warning_margin = 86400;
  // False: `certificates` stays empty (the status page and /metrics read theirs a page at a
  // time, storage/certificate_page.h), and only the present CAs are read.
  bool with_certificates = true;
};

// Reads the snapshot inside one database.read(); `trust` holds the decision ("trusted",
// "pending", "blocked", ""), to be made effective by the agent. Call it inside an enclosing
// read() to read more in the same transaction.
StatusSnapshot readStatusSnapshot(Database& database, const StatusOptions& options);

// The expiry bands every output colours or labels by: expired, under 7 days, under 30 days.
enum class ExpiryBand { expired, week, month, fine };
ExpiryBand expiryBandOf(std::int64_t days_left);

// "3d04h" from a day on, "5h07m" below; negative with a leading "-".
std::string formatDuration(std::int64_t seconds);

}  // namespace certbridge::storage
