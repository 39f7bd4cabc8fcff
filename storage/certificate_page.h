#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/records.h"
#include "storage/status_snapshot.h"

namespace certbridge::storage {

// A query that cannot be run as given (an unknown state, a malformed cursor, a limit out of
// range); the message names the parameter and is shown to the person as it is.
class BadCertificateQuery : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One page of the present certificates, by expiry. Every filter is optional (empty: no filter)
// and they combine with AND. Subject and issuer match a case-insensitive substring (a scan);
// serial matches exactly (an index, canonical form of storage/serial_number.h, any case);
// fingerprint matches the start of the SHA-256 or the SHA-1 (indexes; colons and case ignored).
struct CertificateQuery {
  std::string subject;
  std::string issuer;
  std::string serial;
  std::string fingerprint;
  // "trusted" (trusted by decision, and not left out of clients.map by the last render),
  // "left out" (trusted, but the last render left it out: expired, chain not trusted, or
  // revoked), "pending", "blocked", or "none" (no decision: CAs and certificates that are not
  // clients).
  std::string state;
  bool soonest_first = true;  // false: latest expiry first
  std::int64_t limit = 100;   // 1 to kMaxPageLimit
  std::string cursor;         // from CertificatePage::next_cursor; empty for the first page

  static constexpr std::int64_t kMaxPageLimit = 1000;
  // True when any filter is set (then `matched` needs a count of its own).
  bool filtered() const;
  // Throws BadCertificateQuery naming the first parameter that is not usable.
  void validate() const;
};

// A row of a page: the certificate as status shows it, its trust as storage knows it (see
// CertificateQuery::state; "left out" is refined by the agent to say why, or "revoked").
struct CertificatePage {
  std::vector<CertificateStatus> rows;
  std::string next_cursor;   // empty on the last page
  std::int64_t matched = 0;  // rows matching the filters, on every page
};

// Counts over the present certificates, from aggregate queries (no row is loaded).
struct CertificateSummary {
  std::int64_t total = 0;
  // By CertificateQuery's states, in this order: trusted, left out, pending, blocked, none.
  std::vector<std::pair<std::string, std::int64_t>> by_state;
  // By expiry band (expiryBandOf): expired, under 7 days, under 30 days, later.
  std::int64_t expired = 0;
  std::int64_t within_week = 0;
  std::int64_t within_month = 0;
  std::int64_t later = 0;
  std::optional<UnixTime> soonest_expiry;         // of those not expired yet
  std::vector<CertificateStatus> next_to_expire;  // the few not expired yet, soonest first
};

// Reads one page inside one read transaction (or the enclosing one). Present certificates only.
// Without `count_matches`, `matched` stays 0: counting the matches reads every row that matches,
// which an unfiltered page can take from the summary instead. Throws BadCertificateQuery for an
// unusable query.
CertificatePage readCertificatePage(Database& database, const CertificateQuery& query,
                                    bool count_matches = true);

// The summary at the top of the status page and the gauges of /metrics (one scan of the present
// certificates for the counts); `next_to_expire` holds up to `soonest` (at least 1)
// certificates.
CertificateSummary readCertificateSummary(Database& database, UnixTime now,
                                          std::int64_t soonest = 5);

// Changes whenever what the summary counts may have changed: every change to certificates, their
// sources and decisions is written to the audit log, and every sync (which records what its
// render left out) to the publish history. Two index lookups.
std::string certificateDataVersion(Database& database);

// The present CAs, as chain building and revocation need them (a few, even with 100,000 clients).
std::vector<CertificateView> readPresentCas(Database& database);

// The present certificates expiring soonest: at least `at_least`, and every one expiring before
// `until` (for /metrics' per-certificate series).
std::vector<CertificateStatus> readSoonestExpiring(Database& database, std::int64_t at_least,
                                                   UnixTime until);

// Records the trusted clients the last published render left out of clients.map (by SHA-1),
// writing only the difference: usually none, so nothing.
void recordLeftOutClients(Database& database, const std::vector<std::string>& sha1s);

}  // namespace certbridge::storage
