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
  connection_.transaction([&] {
    connection_.run("DELETE FROM certbridge.inventory WHERE node = $1", {node});
    for (const InventoryEntry& entry : entries) {
      connection_.run(R"sql(
          INSERT INTO certbridge.inventory (node, sha256, subject, issuer, role, trust, sources,
                                            not_after)
          VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::bigint))
          ON CONFLICT (node, sha256) DO NOTHING)sql",
                      {node, entry.sha256, entry.subject, entry.issuer, entry.role, entry.trust,
                       entry.sources, std::to_string(entry.not_after)});
    }
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
