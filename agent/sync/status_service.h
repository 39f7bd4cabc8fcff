#pragma once

#include "storage/certificate_page.h"
#include "storage/database.h"
#include "storage/status_snapshot.h"

namespace certbridge::agent::sync {

// The status snapshot with the trust certbridge enforces: read in one read transaction, then each
// certificate's decision made effective as the sync would publish it: a trusted client that
// buildTrustMaterial leaves out says "left out" and why (expired, chain not trusted, no trust
// anchor), and with CRLs on, a certificate any of whose chain is on a CRL held says "revoked"
// and which. The one source of `status`, `status --json`, /api/v1/status, the status page and
// /metrics.
storage::StatusSnapshot takeStatusSnapshot(storage::Database& database,
                                           const storage::StatusOptions& options);

// The status at size (the status page, /api/v1/certificates, /metrics): a page, the summary, or
// the soonest-expiring certificates read with SQL (storage/certificate_page.h), each in one
// read transaction, then made effective for the rows returned only: why a trusted client is
// left out of clients.map, and with CRLs on, what is revoked. Whether a client is left out
// comes from the last published render (left_out_clients), not from building every chain, so a
// request costs the rows it shows; a decision made since shows as decided until the next
// render (within a second in `run`).
storage::CertificatePage takeCertificatePage(storage::Database& database,
                                             const storage::CertificateQuery& query,
                                             const storage::StatusOptions& options,
                                             bool count_matches = true);
storage::CertificateSummary takeCertificateSummary(storage::Database& database,
                                                   const storage::StatusOptions& options);
std::vector<storage::CertificateStatus> takeSoonestExpiring(storage::Database& database,
                                                            const storage::StatusOptions& options,
                                                            std::int64_t at_least,
                                                            storage::UnixTime until);

}  // namespace certbridge::agent::sync
