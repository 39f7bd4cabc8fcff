#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/records.h"

namespace certbridge::storage {

// The current CRL of one CA, without its DER.
struct CrlRecord {
  std::string ca_sha256;
  std::string issuer;
  std::optional<std::string> number;  // crlNumber, upper-case hex
  UnixTime this_update = 0;
  std::optional<UnixTime> next_update;
  std::string source;  // "store:NAME", or the URL it was fetched from
  UnixTime fetched_at = 0;
  std::string sha256;
  std::int64_t revoked_count = 0;
};

// The fetch plan and last outcome for one CA's CRL.
struct CrlFetchState {
  std::string ca_sha256;
  std::optional<UnixTime> next_fetch_at;
  std::optional<UnixTime> last_attempt_at;
  std::string last_result;  // "updated", "unchanged", "failed"
  std::string last_error;   // every source's reason when it failed
  int failures = 0;         // consecutive
};

// How a CA's CRL stands: "ok", "warning" when less than `warning_margin` seconds are left before
// its nextUpdate, "error" when there is none or it has expired. The one rule behind `status`,
// the web page and the API.
std::string crlLevel(const std::optional<CrlRecord>& crl, UnixTime now,
                     std::int64_t warning_margin);

// Feeds each revoked serial (upper-case hex) to the callback it is given; returns how many.
using SerialSource = std::function<std::int64_t(const std::function<void(const std::string&)>&)>;

// CRLs, their revoked serials and the refresh plan. Borrows the Database.
class CrlRepository {
 public:
  explicit CrlRepository(Database& database) : database_(database) {}

  std::optional<CrlRecord> current(const std::string& ca_sha256);
  std::vector<CrlRecord> list();
  std::vector<unsigned char> der(const std::string& ca_sha256);

  // Replaces the CA's CRL and all its revoked serials in one transaction, streaming the serials
  // so that a million-entry CRL is never held as a list in memory. The stored revoked_count is
  // what `serials` returns.
  void replace(const CrlRecord& record, std::span<const unsigned char> der,
               const SerialSource& serials);
  bool isRevoked(const std::string& ca_sha256, const std::string& serial);

  void saveFetchState(const CrlFetchState& state);
  std::optional<CrlFetchState> fetchState(const std::string& ca_sha256);
  std::vector<CrlFetchState> fetchStates();
  // Forgets the plan of every CA not in `ca_sha256s` (it left client-ca.pem); its CRL stays.
  void retainFetchStates(const std::vector<std::string>& ca_sha256s);

 private:
  Database& database_;
};

}  // namespace certbridge::storage
