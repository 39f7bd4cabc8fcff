#pragma once

#include "storage/fleet/postgres.h"

namespace certbridge::storage::fleet {

// The fleet's tables live in the PostgreSQL schema "certbridge", versioned by the single row
// of certbridge.schema_version. Only `certbridge fleet init` (a role that may create them) runs
// the migrations; agents, which run with the least-privilege role, only check the version.
class FleetSchema {
 public:
  static constexpr int kVersion = 1;

  // The version the database holds: 0 when certbridge's tables are not there.
  static int version(PostgresConnection& connection);

  // Creates the schema, or upgrades it one step at a time to `target` (this build's version
  // unless a test asks for an earlier one), in one transaction, under an advisory lock so that
  // two inits at once take turns. Returns the version found before. Throws FleetError, having
  // changed nothing, when the database holds a newer version than `target` or a step fails.
  static int migrate(PostgresConnection& connection, int target = kVersion);

  // For agents: throws FleetError unless the database holds exactly kVersion, saying what to do
  // (run `certbridge fleet init`, or upgrade certbridge).
  static void require(PostgresConnection& connection);
};

}  // namespace certbridge::storage::fleet
