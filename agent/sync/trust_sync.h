#pragma once

#include <Poco/Logger.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/crl/crl_refresh.h"
#include "agent/nginx/nginx_files.h"
#include "agent/nginx/nginx_publisher.h"
#include "agent/pki/trust_material.h"
#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "storage/crl_repository.h"
#include "storage/database.h"

namespace certbridge::agent {

// Which CRLs to fetch now whatever their plan says (`certbridge crl refresh`).
struct CrlForce {
  bool all = false;
  std::string ca_sha256;  // one CA; empty for none
  bool covers(const std::string& sha256) const { return all || ca_sha256 == sha256; }
};

struct SyncReport {
  std::vector<std::string> errors;       // each names the store, file or certificate at fault
  std::vector<std::string> warnings;     // certificates left out, and why
  std::vector<std::string> changes;      // what the stores added or lost
  std::vector<std::string> crl_updates;  // CRLs replaced this time (the refresher logs each)
  PublishOutcome publish;
  bool rendered = false;
  bool ok() const { return errors.empty() && publish.result != PublishOutcome::Result::failed; }
  // One line for the CLI: the first error, or a summary.
  std::string summary() const;
};

// One pass of store → storage → render → publish. A store that cannot be read, or holds a
// certificate that does not parse, keeps everything certbridge knew of it: its certificates are
// neither added nor marked gone, and the nginx files are rendered from what storage held before.
// Not thread-safe: the run loop or the CLI owns one.
class TrustSync {
 public:
  TrustSync(const AgentConfig& config, storage::Database& database, Poco::Logger& logger);

  SyncReport syncOnce(std::int64_t now, const CrlForce& force = {});
  // Builds every chain once without publishing, so that the first change after `run` starts
  // verifies only its own issuer/child pairs: the sync at start usually finds nothing changed
  // and builds no chain. Does nothing when a render has already done it; never throws.
  void prepareForChanges(std::int64_t now);
  // What chain building has verified so far, for tests and logs.
  const IssuerVerdicts& issuerVerdicts() const { return issuer_verdicts_; }
  // When the next planned CRL fetch is due, for the run loop.
  std::optional<std::int64_t> nextCrlFetch() { return crl_refresher_.nextDue(); }

 private:
  void syncStore(const StoreConfig& store, std::int64_t now, SyncReport& report);
  // Parses the snapshot's certificates at `unseen` (DER storage does not hold) into `entries`,
  // answering chain building's questions about them on the way; `known_cas` are the stored CAs
  // of the snapshot, their possible issuers. Throws CertificateError for one that does not parse.
  void parseUnseen(const StoreConfig& store, const std::string& where,
                   const platform::StoreSnapshot& snapshot, const std::vector<std::size_t>& unseen,
                   const std::vector<std::size_t>& known_cas,
                   std::vector<std::optional<storage::StoreEntry>>& entries);
  // Records the sync of the stores found unchanged (deferred so that it joins the publish
  // record's transaction).
  void recordUnchangedStores(std::int64_t now);
  void renderAndPublish(std::int64_t now, const CrlForce& force, SyncReport& report);
  // True, with the last publish's result and warnings in `report`, when rendering would give the
  // files nginx already has: the same inputs as the last successful publish (see
  // CertificateRepository::renderInputs), no validity boundary crossed since, no CRL fetch due,
  // and the published files untouched on disk. Saves parsing every certificate again.
  // Digest of storage's render inputs and the settings that shape the files.
  std::string renderDigest(std::int64_t now, std::int64_t& valid_until);
  bool unchangedSincePublish(const std::string& input_digest, std::int64_t now,
                             const CrlForce& force, SyncReport& report);
  // Refreshes the CRL of every CA in the bundle, drops revoked clients, and returns the CRLs to
  // publish, or nullopt when CRL checking is off (disabled, or missing CRLs with crl.missing =
  // omit). Throws RenderError when a CRL is missing and crl.missing = refuse.
  std::optional<CrlBundle> prepareCrls(TrustMaterial& material,
                                       const std::vector<storage::CertificateView>& certificates,
                                       std::int64_t now, const CrlForce& force, SyncReport& report);

  const AgentConfig& config_;
  storage::Database& database_;
  storage::CertificateRepository certificates_;
  storage::PublishHistory publish_history_;
  storage::CrlRepository crls_;
  CrlRefresher crl_refresher_;
  // CRLs the stores held at this sync, by store name.
  std::vector<std::pair<std::string, platform::StoreCrl>> store_crls_;
  // Stores found unchanged at this sync, with their change token: recorded with the publish.
  std::vector<std::pair<storage::StoreDefinition, std::string>> unchanged_stores_;
  NginxPublisher publisher_;
  // Signature checks of chain building, kept between syncs so that a render after a change
  // verifies only new issuer/child pairs (see IssuerVerdicts for why in memory).
  IssuerVerdicts issuer_verdicts_;
  Poco::Logger& logger_;
};

}  // namespace certbridge::agent
