#include "storage/fleet/fleet_nodes.h"

namespace certbridge::storage::fleet {
namespace {

PostgresParameter optionalTime(const std::optional<UnixTime>& time) {
  return time ? PostgresParameter(std::to_string(*time)) : std::nullopt;
}

InventoryEntry readEntry(const PostgresResult& rows, int row, int first) {
  return InventoryEntry{rows.text(row, first),       rows.text(row, first + 1),
                        rows.text(row, first + 2),   rows.text(row, first + 3),
                        rows.text(row, first + 4),   rows.text(row, first + 5),
                        rows.integer(row, first + 6)};
}

// A PostgreSQL array literal of `field` of each entry, every element quoted (so that "NULL" stays
// text).
template <typename Field>
std::string arrayLiteral(const std::vector<InventoryEntry>& entries, Field field) {
  std::string literal = "{";
  for (const InventoryEntry& entry : entries) {
    if (literal.size() > 1) {
      literal += ',';
    }
    literal += '"';
    for (const char character : field(entry)) {
      if (character == '"' || character == '\\') {
        literal += '\\';
      }
      literal += character;
    }
    literal += '"';
  }
  return literal + "}";
}

constexpr const char* kInventoryColumns =
    "sha256, subject, issuer, role, trust, sources, extract(epoch FROM not_after)::bigint";

}  // namespace

void FleetNodes::heartbeat(const NodeReport& report) {
  connection_.run(R"sql(
      INSERT INTO certbridge.nodes (node, heartbeat_at, address, last_sync_at, last_publish_at,
                                    last_publish_result, last_publish_detail, applied_event_id)
      VALUES ($1, clock_timestamp(), $2, to_timestamp($3::bigint), to_timestamp($4::bigint), $5,
              $6, $7::bigint)
      ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
          address = excluded.address, last_sync_at = excluded.last_sync_at,
          last_publish_at = excluded.last_publish_at,
          last_publish_result = excluded.last_publish_result,
          last_publish_detail = excluded.last_publish_detail,
          applied_event_id = excluded.applied_event_id)sql",
                  {report.node, report.address, optionalTime(report.last_sync_at),
                   optionalTime(report.last_publish_at), report.last_publish_result,
                   report.last_publish_detail, std::to_string(report.applied_event_id)});
}

void FleetNodes::replaceInventory(const std::string& node,
                                  const std::vector<InventoryEntry>& entries) {
  // One statement for the whole inventory (arrays unnested by the server): a host with ten
  // thousand certificates reports them in one round trip, not ten thousand.
  connection_.transaction([&] {
    connection_.run("DELETE FROM certbridge.inventory WHERE node = $1", {node});
    connection_.run(
        R"sql(
        INSERT INTO certbridge.inventory (node, sha256, subject, issuer, role, trust, sources,
                                          not_after)
        SELECT $1, e.sha256, e.subject, e.issuer, e.role, e.trust, e.sources,
               to_timestamp(e.not_after)
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                    $8::bigint[]) AS e (sha256, subject, issuer, role, trust, sources, not_after)
        ON CONFLICT (node, sha256) DO NOTHING)sql",
        {node, arrayLiteral(entries, [](const InventoryEntry& e) { return e.sha256; }),
         arrayLiteral(entries, [](const InventoryEntry& e) { return e.subject; }),
         arrayLiteral(entries, [](const InventoryEntry& e) { return e.issuer; }),
         arrayLiteral(entries, [](const InventoryEntry& e) { return e.role; }),
         arrayLiteral(entries, [](const InventoryEntry& e) { return e.trust; }),
         arrayLiteral(entries, [](const InventoryEntry& e) { return e.sources; }),
         arrayLiteral(entries,
                      [](const InventoryEntry& e) { return std::to_string(e.not_after); })});
  });
}

std::vector<NodeState> FleetNodes::list() {
  const PostgresResult rows = connection_.run(R"sql(
      SELECT node, address, extract(epoch FROM last_sync_at)::bigint,
             extract(epoch FROM last_publish_at)::bigint, last_publish_result,
             last_publish_detail, applied_event_id, extract(epoch FROM heartbeat_at)::bigint,
             GREATEST((SELECT COALESCE(max(id), 0) FROM certbridge.events) - applied_event_id, 0)
      FROM certbridge.nodes ORDER BY node)sql");
  std::vector<NodeState> nodes;
  for (int row = 0; row < rows.rows(); ++row) {
    NodeState state;
    state.report.node = rows.text(row, 0);
    state.report.address = rows.text(row, 1);
    state.report.last_sync_at = rows.optionalInteger(row, 2);
    state.report.last_publish_at = rows.optionalInteger(row, 3);
    state.report.last_publish_result = rows.text(row, 4);
    state.report.last_publish_detail = rows.text(row, 5);
    state.report.applied_event_id = rows.integer(row, 6);
    state.heartbeat_at = rows.integer(row, 7);
    state.event_lag = rows.integer(row, 8);
    nodes.push_back(std::move(state));
  }
  return nodes;
}

std::vector<InventoryEntry> FleetNodes::inventory(const std::string& node) {
  const PostgresResult rows =
      connection_.run(std::string("SELECT ") + kInventoryColumns +
                          " FROM certbridge.inventory WHERE node = $1 ORDER BY sha256",
                      {node});
  std::vector<InventoryEntry> entries;
  for (int row = 0; row < rows.rows(); ++row) {
    entries.push_back(readEntry(rows, row, 0));
  }
  return entries;
}

std::vector<FleetExpiry> FleetNodes::soonestExpiries(int limit) {
  const PostgresResult rows =
      connection_.run(std::string("SELECT node, ") + kInventoryColumns +
                          " FROM certbridge.inventory ORDER BY not_after, node, sha256 LIMIT $1",
                      {std::to_string(limit)});
  std::vector<FleetExpiry> expiries;
  for (int row = 0; row < rows.rows(); ++row) {
    expiries.push_back(FleetExpiry{rows.text(row, 0), readEntry(rows, row, 1)});
  }
  return expiries;
}

}  // namespace certbridge::storage::fleet
