#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/certificate_page.h"
#include "storage/status_snapshot.h"

namespace certbridge::web {

// Input from a person that cannot be used (a malformed upload, an unknown state); the message
// is shown to them as it is.
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the web layer may ask of the agent. The web layer reads the audit log and records trust
// decisions itself but never renders or writes nginx files: after a change it asks for a
// publish, which the agent's run loop performs through the same render/publish path as a sync;
// and it asks for the status snapshot, whose effective trust only the agent can work out.
// Implementations are called from the web server's threads and must be thread-safe.
class AgentControl {
 public:
  virtual ~AgentControl() = default;

  // Wakes the agent to render and publish now (within a second).
  virtual void requestPublish() = 0;

  // Parses an uploaded client certificate (PEM or DER, exactly one, not a CA, usable for client
  // authentication), stores it as trusted by `actor`, and requests a publish. Returns its
  // SHA-256 fingerprint. Throws BadInput with a message for the person.
  virtual std::string addUploadedClient(std::span<const unsigned char> bytes,
                                        const std::string& actor, const std::string& origin) = 0;

  // Why certificates were left out at the last render (expired, no chain, revoked, …).
  virtual std::vector<std::string> currentWarnings() = 0;
  // The status as the agent enforces it, read in one read transaction, with currentWarnings()
  // and without the database's path: what the status page, /api/v1/status and /metrics show.
  virtual storage::StatusSnapshot statusSnapshot() = 0;

  // The status at size, each read in one read transaction with the trust the agent enforces
  // (agent/sync/status_service.h), costing the rows returned, not the certificates held:
  // the snapshot without its certificates (stores, publish, CRLs, warnings, the fleet); one page of
  // certificates (throws storage::BadCertificateQuery for an unusable query); the counts by
  // state and expiry band; the present certificates expiring soonest (at least `at_least`, and
  // every one before `until`).
  virtual storage::StatusSnapshot statusOverview() = 0;
  virtual storage::CertificatePage certificatePage(const storage::CertificateQuery& query) = 0;
  virtual storage::CertificateSummary certificateSummary() = 0;
  virtual std::vector<storage::CertificateStatus> soonestExpiring(std::int64_t at_least,
                                                                  storage::UnixTime until) = 0;
};

}  // namespace certbridge::web
