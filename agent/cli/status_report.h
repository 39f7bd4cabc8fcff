#pragma once

#include <cstdint>
#include <iosfwd>

#include "agent/config/config.h"
#include "storage/database.h"
#include "storage/status_snapshot.h"

namespace certbridge::agent {

// Writes what is trusted, days to expiry, each store's last sync, the last publish result and
// the CRL of each CA in play, as text for a person or as JSON for scripts. Returns false when the
// last sync of a store or the last publish failed, or a CRL is missing or expired (with CRLs
// enabled), so `status` can exit non-zero for monitoring.
// The text formatter of the status snapshot: what `certbridge status` prints.
void writeStatusText(const storage::StatusSnapshot& snapshot, std::ostream& out);

bool writeStatus(storage::Database& database, const AgentConfig& config, std::int64_t now,
                 bool json, std::ostream& out);

}  // namespace certbridge::agent
