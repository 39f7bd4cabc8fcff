#include "storage/fleet_link.h"

namespace certbridge::storage {
namespace {

// What a person decided here; the fleet's own events (origin "fleet #N …") and a store sync's
// first decisions (origin "store:NAME") are not shared again.
// (The condition is spelt out in both statements: prepare() caches by the literal.)
constexpr const char* kCountQueued = R"sql(
    SELECT COUNT(*) FROM audit_log WHERE id > ?
    AND action IN ('trust.trusted', 'trust.blocked', 'certificate.uploaded',
                   'certificate.upload_withdrawn')
    AND origin NOT LIKE 'fleet #%' AND origin NOT LIKE 'store:%')sql";
constexpr const char* kSelectQueued = R"sql(
    SELECT id, at, actor, origin, action, target, detail, previous FROM audit_log
    WHERE id > (SELECT shared_audit_id FROM fleet_link)
    AND action IN ('trust.trusted', 'trust.blocked', 'certificate.uploaded',
                   'certificate.upload_withdrawn')
    AND origin NOT LIKE 'fleet #%' AND origin NOT LIKE 'store:%'
    ORDER BY id LIMIT ?)sql";

}  // namespace

std::optional<FleetLinkStatus> readFleetLink(Database& database) {
  std::optional<FleetLinkStatus> link;
  database.read([&] {
    Statement select = database.prepare(
        "SELECT node, state, detail, since, latest_event_id, shared_audit_id FROM fleet_link");
    if (!select.step()) {
      return;
    }
    link.emplace();
    link->node = select.text(0);
    link->state = select.text(1);
    link->detail = select.text(2);
    link->since = select.integer(3);
    link->latest_event_id = select.integer(4);
    const std::int64_t shared = select.integer(5);
    select.reset();
    Statement position = database.prepare("SELECT applied_event_id FROM fleet_position");
    link->applied_event_id = position.step() ? position.integer(0) : 0;
    position.reset();
    Statement queued = database.prepare(kCountQueued);
    queued.bind(1, shared);
    link->queued_changes = queued.step() ? queued.integer(0) : 0;
  });
  return link;
}

void FleetLinkRecord::open(const std::string& node, UnixTime now) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        INSERT INTO fleet_link (singleton, node, state, detail, since, latest_event_id,
                                shared_audit_id)
        VALUES (1, ?, 'degraded', 'not connected yet', ?, 0,
                (SELECT COALESCE(MAX(id), 0) FROM audit_log))
        ON CONFLICT (singleton) DO UPDATE SET node = excluded.node)sql")
        .bind(1, node)
        .bind(2, now)
        .run();
  });
}

void FleetLinkRecord::setState(const std::string& state, const std::string& detail,
                               std::int64_t latest_event_id, UnixTime now) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        UPDATE fleet_link SET since = CASE WHEN state = ? THEN since ELSE ? END, state = ?,
                              detail = ?, latest_event_id = MAX(latest_event_id, ?))sql")
        .bind(1, state)
        .bind(2, now)
        .bind(3, state)
        .bind(4, detail)
        .bind(5, latest_event_id)
        .run();
  });
}

FleetLinkRecord::Queue FleetLinkRecord::queuedDecisions(int limit) {
  Queue queue;
  database_.read([&] {
    Statement newest = database_.prepare("SELECT COALESCE(MAX(id), 0) FROM audit_log");
    queue.newest_audit_id = newest.step() ? newest.integer(0) : 0;
    newest.reset();
    Statement select = database_.prepare(kSelectQueued);
    select.bind(1, static_cast<std::int64_t>(limit));
    while (select.step()) {
      AuditEntry entry;
      entry.id = select.integer(0);
      entry.at = select.integer(1);
      entry.actor = select.text(2);
      entry.origin = select.text(3);
      entry.action = select.text(4);
      entry.target = select.text(5);
      entry.detail = select.text(6);
      entry.previous = select.text(7);
      queue.decisions.push_back(std::move(entry));
    }
  });
  return queue;
}

void FleetLinkRecord::markShared(std::int64_t audit_id) {
  database_.transaction([&] {
    database_.prepare("UPDATE fleet_link SET shared_audit_id = MAX(shared_audit_id, ?)")
        .bind(1, audit_id)
        .run();
  });
}

}  // namespace certbridge::storage
