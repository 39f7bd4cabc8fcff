#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace certbridge::storage {

using UnixTime = std::int64_t;

// What certbridge keeps of a certificate, independent of where it was seen.
struct CertificateRecord {
  std::string sha256;  // lower-case hex, no separators: the certificate's identity
  std::string sha1;    // lower-case hex: what nginx's $ssl_client_fingerprint shows
  std::vector<unsigned char> der;
  std::string subject;  // RFC 2253
  std::string issuer;   // RFC 2253
  std::string serial;   // canonical text, see storage/serial_number.h: "-01", "00", "FF"
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  std::string key_type;                 // "EC P-256", "RSA 2048", …
  std::string extended_key_usage;       // comma-separated short names; empty when absent
  bool is_ca = false;                   // basicConstraints CA:TRUE
  std::string crl_distribution_points;  // space-separated URLs
};

// How a store presents a certificate: trust anchor for client certificates, intermediate CA,
// client certificate, or anything else (server certificates, S/MIME, …).
enum class CertificateRole { anchor, intermediate, client, other };

enum class TrustState { trusted, blocked, pending };

struct CertificateView;

// How a certificate present in the stores is shown: "client CA", "CA", "client" or "other".
std::string roleLabel(const CertificateView& view);
// Whole days from `now` to `not_after`, rounded towards "sooner" (-1 the day after expiry).
std::int64_t daysLeft(UnixTime not_after, UnixTime now);
// A time in UTC with a strftime format, e.g. "%Y-%m-%d".
std::string formatUtc(UnixTime time, const char* format);

std::string toString(CertificateRole role);
std::string toString(TrustState state);
CertificateRole roleFromString(const std::string& text);
TrustState trustStateFromString(const std::string& text);

// One certificate as seen in one store during a sync.
struct StoreEntry {
  CertificateRecord certificate;
  std::string nickname;
  CertificateRole role = CertificateRole::other;
  // The certificate is stored already (CertificateRepository::knownCertificates), so it was not
  // parsed again: only `certificate.sha256` and `certificate.subject` are set.
  bool stored = false;
};

// What a sync needs of a certificate stored before, so that it need not parse the DER again.
struct KnownCertificate {
  std::string subject;
  bool is_ca = false;
  // How a store (not an upload) classified it when it was first parsed: for a certificate that
  // is not a CA the role (client or other) depends on the certificate alone. Empty when only
  // uploads hold it.
  std::optional<CertificateRole> store_role;
};

struct StoreDefinition {
  std::string name;
  std::string type;
  std::string location;
  std::string policy;  // "auto" or "manual"
};

// A certificate with everything known about it across stores, as render and status need it.
struct CertificateView {
  CertificateRecord certificate;
  bool anchor = false;   // a present source trusts it to issue client certificates
  bool client = false;   // a present source holds it as a client certificate
  bool present = false;  // at least one store still holds it
  std::optional<TrustState> trust;
  std::string sources;   // "store/nickname, …" of the stores that hold it now
  std::string nickname;  // the first (by name) nickname among those stores; empty when none
  UnixTime first_seen = 0;
  UnixTime last_seen = 0;
};

// What a store sync changed, for the log and the audit trail.
struct StoreChanges {
  std::vector<std::string> added;     // "nickname (subject)"
  std::vector<std::string> returned;  // seen again after being gone
  std::vector<std::string> gone;
  bool any() const { return !added.empty() || !returned.empty() || !gone.empty(); }
};

struct StoreStatus {
  StoreDefinition definition;
  std::optional<UnixTime> last_sync_at;
  bool last_sync_ok = false;
  std::string last_sync_error;
};

struct PublishRecord {
  UnixTime at = 0;
  std::string result;  // "published", "unchanged" or "failed"
  std::string client_ca_sha256;
  std::string clients_map_sha256;
  std::string mtls_conf_sha256;
  std::string detail;  // on failure: the reason, with nginx -t's output
  std::string crl_pem_sha256;
  // What the files were rendered from (see TrustSync), and until when that rendering holds:
  // a publish with the same inputs before `valid_until` would render the same files.
  std::string input_digest;
  UnixTime valid_until = 0;
  std::string warnings;  // one per line, as the render said them
};

struct AuditEntry {
  UnixTime at = 0;
  std::string actor;   // "alice", "policy:auto", "sync"
  std::string origin;  // "127.0.0.1", "store:main", "cli"
  std::string action;
  std::string target;  // usually a SHA-256 fingerprint
  std::string detail;
  std::int64_t id = 0;   // assigned by the log
  std::string previous;  // for trust changes: the state before, so the change can be undone
};

}  // namespace certbridge::storage
