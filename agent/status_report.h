#pragma once

#include <cstdint>
#include <iosfwd>

#include "storage/database.h"

namespace certbridge::agent {

// Writes what is trusted, days to expiry, each store's last sync and the last publish result,
// as text for a person or as JSON for scripts. Returns false when the last sync of a store or
// the last publish failed, so `status` can exit non-zero for monitoring.
bool writeStatus(storage::Database& database, std::int64_t now, bool json, std::ostream& out);

}  // namespace certbridge::agent
