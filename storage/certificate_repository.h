#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/database.h"
#include "storage/records.h"

namespace certbridge::storage {

// Certificates, the stores they come from, and the trust decision on each client certificate.
// Borrows the Database, which must outlive it; as thread-safe as the Database.
class CertificateRepository {
 public:
  explicit CertificateRepository(Database& database) : database_(database) {}

  // Digest of the snapshot last applied for `store`, so an unchanged store costs one lookup.
  std::optional<std::string> snapshotDigest(const std::string& store);

  // Every stored certificate's SHA-256 with what a sync needs to skip parsing it again.
  std::unordered_map<std::string, KnownCertificate> knownCertificates();

  // Applies a complete store snapshot in one transaction: new certificates are stored, those
  // the store no longer holds are marked gone (never deleted), new client certificates get the
  // store's policy as their first trust decision, and every change is written to the audit log.
  // Only the difference from what the store held before is written (plus every present
  // certificate's last_seen, in one statement), so the cost follows the change.
  StoreChanges applySnapshot(const StoreDefinition& store, const std::vector<StoreEntry>& entries,
                             const std::string& digest, UnixTime now);

  // Records a failed or successful sync attempt without touching the store's certificates.
  // The change token is kept only with a success: after a failure the store is read again.
  void recordSyncResult(const StoreDefinition& store, UnixTime now, const std::string& error,
                        const std::string& change_token = "");
  // The store's change token at its last successful sync; empty when unknown or failed.
  std::string changeToken(const std::string& store);

  // Every certificate ever seen, present ones first within no particular order.
  std::vector<CertificateView> listCertificates();
  // One certificate with everything known about it; nullopt when storage does not hold it.
  std::optional<CertificateView> certificateView(const std::string& sha256);
  // The CAs some store holds now (a few, however many clients there are).
  std::vector<CertificateView> listPresentCas();

  // Everything rendering depends on that storage holds (which store holds which certificate in
  // which role, trust decisions, the CRL held for each CA), as text to digest: equal text, equal
  // render. `valid_until` is set to the next time a certificate's validity or a CRL's
  // nextUpdate is crossed after `now`, which changes the render too.
  std::string renderInputs(UnixTime now, UnixTime& valid_until);
  std::vector<StoreStatus> listStores();

  // A person's (or script's) decision; recorded in the audit log with the state before, so that
  // it can be undone. Throws StorageError when the certificate is unknown.
  void setTrustState(const std::string& sha256, TrustState state, const std::string& actor,
                     const std::string& origin, UnixTime now);

  // A client certificate uploaded through the web page: held by the pseudo-store "uploads"
  // (never touched by store syncs) and trusted by `actor`. Uploading a certificate that is
  // there already makes it present and trusted again.
  void addUpload(const CertificateRecord& certificate, const std::string& actor,
                 const std::string& origin, UnixTime now);
  // Withdraws an upload (marks it gone from "uploads"); recorded in the audit log.
  void removeUpload(const std::string& sha256, const std::string& actor, const std::string& origin,
                    UnixTime now);

  static constexpr const char* kUploadStore = "uploads";

 private:
  void upsertStore(const StoreDefinition& store);

  Database& database_;
};

}  // namespace certbridge::storage
