#pragma once

#include <cstdint>

#include "storage/database.h"

namespace certbridge::testing {

// Fills a certbridge database directly, in one transaction, with `count` made-up client
// certificates held by the store "bulk" (policy auto): for the status page at 100,000
// certificates (tests/integration/web_scale_test.cpp, scripts/bench's web_status_100k), where a
// sync of real certificates would take minutes. Client i is "CN=bulk-0NNNNN" (serial 100000 + i,
// DER that does not parse: nothing renders them), expiring every ten minutes from five days
// before `now`, so the first 720 have expired. With `mixed_states`, every tenth is blocked,
// every tenth but one pending, the rest trusted, and every hundredth (i % 100 == 2) recorded as
// left out by the last render; without, all are pending, so that no render builds their chains.
void addBulkClients(storage::Database& database, int count, std::int64_t now, bool mixed_states);

}  // namespace certbridge::testing
