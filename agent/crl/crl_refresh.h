#pragma once

#include <Poco/Logger.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/pki/certificate.h"
#include "platform/cert_store.h"
#include "storage/crl_repository.h"
#include "storage/records.h"

namespace certbridge::agent {

// A URL a CRL may be fetched from.
struct CrlUrl {
  std::string url;
  // From [crl.urls], which only the configuration's owner writes: only such a URL may be
  // file://, and [crl] allowed_hosts does not apply to it. Otherwise a distribution point named
  // in a certificate.
  bool configured = false;
  bool operator==(const CrlUrl&) const = default;
};

// Where one CA's CRL may come from, in the order they are tried.
struct CrlSources {
  std::vector<std::pair<std::string, platform::DerBytes>> store_crls;  // "store:NAME", DER
  std::vector<CrlUrl> urls;  // distribution points, then [crl.urls] for this CA
  // Distribution points left out by the fetch policy, each with the reason, for the record.
  std::vector<std::string> refused;
};

// The CRL sources of every CA: CRLs the stores hold whose issuer is the CA, the distribution
// points named in certificates the CA issued (and in the CA itself when self-signed), then the
// configured extra URLs. The fetch policy: a distribution point is taken only when it is
// http://, from a certificate an OS store holds (an uploaded one only with [crl] upload_cdps),
// and, with [crl] allowed_hosts, on an allowed host.
CrlSources findCrlSources(const Certificate& ca,
                          const std::vector<storage::CertificateView>& certificates,
                          const std::vector<std::pair<std::string, platform::StoreCrl>>& store_crls,
                          const CrlSettings& settings);

enum class CrlRefreshOutcome {
  updated,    // a newer CRL was stored
  unchanged,  // every source answered with the CRL held (or an older one), which is current
  failed,     // no source gave a usable CRL; the fetch backs off
  not_due,    // nothing was fetched: the planned fetch is later
};
std::string toString(CrlRefreshOutcome outcome);  // "updated", "unchanged", "failed", "not due"

struct CrlRefreshResult {
  std::string ca_subject;
  CrlRefreshOutcome result = CrlRefreshOutcome::not_due;
  std::string detail;
};

// Keeps one current, verified CRL per CA in storage and plans the next fetch of each. A CRL is
// accepted only when its issuer is the CA, its signature verifies with the CA's key, its
// thisUpdate is not in the future, it has not expired, and it is newer than the one held (CRL
// number, then thisUpdate). Any failure of a source leaves the held CRL in use. A storage error
// (the database locked, full or damaged) is not the source's fault: it propagates as the
// storage::StorageError it is, and neither counts as a failed fetch nor backs off.
// Not thread-safe.
class CrlRefresher {
 public:
  CrlRefresher(const CrlSettings& settings, storage::Database& database, Poco::Logger& logger);

  // Tries the sources of `ca` when its planned fetch is due (always with `force`), stores what
  // is accepted, and plans the next fetch. Store CRLs are tried whenever they differ from the
  // CRL held, since reading them costs no network.
  CrlRefreshResult refresh(const Certificate& ca, const CrlSources& sources, std::int64_t now,
                           bool force);

  // The earliest planned fetch of all CAs, for the run loop's wake-up.
  std::optional<std::int64_t> nextDue();

 private:
  enum class Verdict { stored, not_newer, refused };
  struct Consideration {
    Verdict verdict = Verdict::refused;
    std::string reason;  // why it was not stored
  };
  // Checks one CRL against the CA and the CRL held, and stores it when it is acceptable and
  // newer. CRL errors are verdicts; storage errors are thrown.
  Consideration consider(const Certificate& ca, std::span<const unsigned char> der,
                         const std::string& source, std::int64_t now);
  std::int64_t plannedFetch(const storage::CrlRecord& crl, std::int64_t now);
  std::int64_t backoff(int failures, std::int64_t now) const;

  const CrlSettings& settings_;
  storage::CrlRepository crls_;
  Poco::Logger& logger_;
  std::mt19937_64 random_;
};

}  // namespace certbridge::agent
