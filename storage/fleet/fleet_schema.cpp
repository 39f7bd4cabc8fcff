#include "storage/fleet/fleet_schema.h"

#include <array>
#include <string>

namespace certbridge::storage::fleet {
namespace {

// Version 1: the append-only event log (its order is the fleet's order: bigserial ids, handed
// out under FleetLog's append lock so that they commit in order too), a NOTIFY on every append,
// each node's heartbeat and state, and each node's inventory of certificates.
void migrateToV1(PostgresConnection& connection) {
  connection.execute(R"sql(
    CREATE TABLE certbridge.events (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT clock_timestamp(),
      kind text NOT NULL
        CHECK (kind IN ('approve', 'block', 'revoke', 'undo', 'upload-certificate')),
      sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      der bytea,
      undoes bigint REFERENCES certbridge.events (id),
      restores text CHECK (restores IN ('trusted', 'blocked', 'pending', 'withdrawn', '')),
      actor text NOT NULL,
      node text NOT NULL,
      address text NOT NULL,
      CHECK ((kind = 'upload-certificate') = (der IS NOT NULL)),
      CHECK (der IS NULL OR sha256 = encode(sha256(der), 'hex')),
      CHECK ((kind = 'undo') = (undoes IS NOT NULL AND restores IS NOT NULL))
    );
    CREATE INDEX events_sha256 ON certbridge.events (sha256, id);

    CREATE FUNCTION certbridge.events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('certbridge_fleet_events', NEW.id::text);
      RETURN NULL;
    END $$;
    CREATE TRIGGER events_notify AFTER INSERT ON certbridge.events
      FOR EACH ROW EXECUTE FUNCTION certbridge.events_notify();

    CREATE FUNCTION certbridge.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'certbridge.events is append-only: % refused', TG_OP;
    END $$;
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON certbridge.events
      FOR EACH STATEMENT EXECUTE FUNCTION certbridge.events_append_only();

    CREATE TABLE certbridge.nodes (
      node text PRIMARY KEY,
      heartbeat_at timestamptz NOT NULL,
      address text NOT NULL DEFAULT '',
      last_sync_at timestamptz,
      last_publish_at timestamptz,
      last_publish_result text NOT NULL DEFAULT '',
      last_publish_detail text NOT NULL DEFAULT '',
      applied_event_id bigint NOT NULL DEFAULT 0
    );

    CREATE TABLE certbridge.inventory (
      node text NOT NULL REFERENCES certbridge.nodes (node) ON DELETE CASCADE,
      sha256 text NOT NULL,
      subject text NOT NULL,
      issuer text NOT NULL,
      role text NOT NULL,
      trust text NOT NULL,
      sources text NOT NULL,
      not_after timestamptz NOT NULL,
      PRIMARY KEY (node, sha256)
    );
    CREATE INDEX inventory_not_after ON certbridge.inventory (not_after);
  )sql");
}

using MigrationStep = void (*)(PostgresConnection&);
constexpr std::array<MigrationStep, FleetSchema::kVersion> kMigrations = {migrateToV1};

// Any number, the same for every certbridge: `fleet init` on two hosts at once take turns.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(4342524701)";

}  // namespace

int FleetSchema::version(PostgresConnection& connection) {
  const PostgresResult table =
      connection.run("SELECT to_regclass('certbridge.schema_version') IS NOT NULL");
  if (table.text(0, 0) != "t") {
    return 0;
  }
  const PostgresResult row = connection.run("SELECT max(version) FROM certbridge.schema_version");
  return static_cast<int>(row.optionalInteger(0, 0).value_or(0));
}

int FleetSchema::migrate(PostgresConnection& connection, int target) {
  if (target < 0 || target > kVersion) {
    throw FleetError("fleet database " + connection.name() +
                     ": this build knows schema versions 0 to " + std::to_string(kVersion) +
                     ", not " + std::to_string(target));
  }
  int found = 0;
  connection.transaction([&] {
    connection.execute(kMigrationLock);
    found = version(connection);
    if (found > target) {
      throw FleetError("fleet database " + connection.name() + " has schema version " +
                       std::to_string(found) + ", newer than " + std::to_string(target) +
                       " (this build knows up to " + std::to_string(kVersion) +
                       "): upgrade certbridge; nothing was changed");
    }
    if (found == target) {
      return;
    }
    if (found == 0) {
      connection.execute(
          "CREATE SCHEMA IF NOT EXISTS certbridge; "
          "CREATE TABLE certbridge.schema_version (version integer NOT NULL); "
          "INSERT INTO certbridge.schema_version VALUES (0)");
    }
    for (int step = found; step < target; ++step) {
      kMigrations[static_cast<std::size_t>(step)](connection);
    }
    connection.run("UPDATE certbridge.schema_version SET version = $1", {std::to_string(target)});
  });
  return found;
}

void FleetSchema::require(PostgresConnection& connection) {
  const int found = version(connection);
  if (found == kVersion) {
    return;
  }
  if (found < kVersion) {
    throw FleetError("fleet database " + connection.name() + " has schema version " +
                     std::to_string(found) + ", this certbridge needs " + std::to_string(kVersion) +
                     ": run `certbridge fleet init` with a role that may create tables");
  }
  throw FleetError("fleet database " + connection.name() + " has schema version " +
                   std::to_string(found) +
                   ", written by a newer certbridge (this one knows up to " +
                   std::to_string(kVersion) + "): upgrade certbridge on this host");
}

}  // namespace certbridge::storage::fleet
