#pragma once

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

}  // namespace certbridge::agent::sync
