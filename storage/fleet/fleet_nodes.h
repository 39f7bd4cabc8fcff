#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/fleet/postgres.h"
#include "storage/records.h"

namespace certbridge::storage::fleet {

// What a node says about itself with each heartbeat.
struct NodeReport {
  std::string node;
  std::string address;  // where its web page listens, as a person would reach it
  std::optional<UnixTime> last_sync_at;
  std::optional<UnixTime> last_publish_at;
  std::string last_publish_result;  // "published", "unchanged", "failed"; empty before the first
  std::string last_publish_detail;
  std::int64_t applied_event_id = 0;  // the newest fleet event it enforces
};

// A node as the fleet sees it.
struct NodeState {
  NodeReport report;
  UnixTime heartbeat_at = 0;   // the database's clock
  std::int64_t event_lag = 0;  // events in the log newer than the one it enforces
};

// One certificate of a node's own stores, reported so that the fleet can show it.
struct InventoryEntry {
  std::string sha256;
  std::string subject;
  std::string issuer;
  std::string role;     // as storage::roleLabel says it
  std::string trust;    // "trusted", "blocked", "pending", or empty
  std::string sources;  // "store/nickname, …"
  UnixTime not_after = 0;
};

struct FleetExpiry {
  std::string node;
  InventoryEntry certificate;
};

// Heartbeats, node state and inventories in the fleet database. Borrows the connection; as
// thread-safe as the connection (not at all).
class FleetNodes {
 public:
  explicit FleetNodes(PostgresConnection& connection) : connection_(connection) {}

  // Records the node's state with the database's time as its heartbeat.
  void heartbeat(const NodeReport& report);
  // Replaces everything the node reported before, in one transaction; the node must have sent
  // a heartbeat first.
  void replaceInventory(const std::string& node, const std::vector<InventoryEntry>& entries);

  // Every node, by name, with how far behind the log's newest event it is.
  std::vector<NodeState> list();
  std::vector<InventoryEntry> inventory(const std::string& node);
  // The `limit` certificates expiring soonest across the fleet (expired ones included).
  std::vector<FleetExpiry> soonestExpiries(int limit);

 private:
  PostgresConnection& connection_;
};

}  // namespace certbridge::storage::fleet
