#pragma once

#include <Poco/Logger.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/certificate.h"
#include "agent/config.h"
#include "platform/cert_store.h"
#include "storage/crl_repository.h"
#include "storage/records.h"

namespace certbridge::agent {

// Where one CA's CRL may come from, in the order they are tried.
struct CrlSources {
  std::vector<std::pair<std::string, platform::DerBytes>> store_crls;  // "store:NAME", DER
  std::vector<std::string> urls;  // distribution points, then [crl.urls] for this CA
};

// The CRL sources of every CA: CRLs the stores hold whose issuer is the CA, the distribution
// points named in certificates the CA issued (and in the CA itself when self-signed), then the
// configured extra URLs.
CrlSources findCrlSources(const Certificate& ca,
                          const std::vector<storage::CertificateView>& certificates,
                          const std::vector<std::pair<std::string, platform::StoreCrl>>& store_crls,
                          const CrlSettings& settings);

struct CrlRefreshResult {
  std::string ca_subject;
  std::string result;  // "updated", "unchanged", "failed", "not due"
  std::string detail;
};

// Keeps one current, verified CRL per CA in storage and plans the next fetch of each. A CRL is
// accepted only when its issuer is the CA, its signature verifies with the CA's key, its
// thisUpdate is not in the future, it has not expired, and it is newer than the one held (CRL
// number, then thisUpdate). Any failure leaves the held CRL in use. Not thread-safe.
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
  // Returns "" when the CRL was stored, or why it was not.
  std::string consider(const Certificate& ca, std::span<const unsigned char> der,
                       const std::string& source, std::int64_t now, bool& stored);
  std::int64_t plannedFetch(const storage::CrlRecord& crl, std::int64_t now);
  std::int64_t backoff(int failures, std::int64_t now) const;

  const CrlSettings& settings_;
  storage::CrlRepository crls_;
  Poco::Logger& logger_;
  std::mt19937_64 random_;
};

}  // namespace certbridge::agent
