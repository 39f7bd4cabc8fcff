#include "storage/fleet/fleet_log.h"

namespace certbridge::storage::fleet {
namespace {

// Held by every append until its commit (see FleetLog::appendDecision). An advisory lock, not
// LOCK TABLE, so that the least-privilege role needs no UPDATE or DELETE right on the log.
constexpr const char* kAppendLock = "SELECT pg_advisory_xact_lock(4342524702)";

constexpr const char* kEventColumns =
    "id, extract(epoch FROM at)::bigint, kind, sha256, encode(der, 'hex'), "
    "COALESCE(undoes, 0), COALESCE(restores, ''), actor, node, address";

FleetEvent readEvent(const PostgresResult& rows, int row) {
  FleetEvent event;
  event.id = rows.integer(row, 0);
  event.at = rows.integer(row, 1);
  event.kind = fleetEventKindFromString(rows.text(row, 2));
  event.sha256 = rows.text(row, 3);
  if (!rows.isNull(row, 4)) {
    event.der = fromHex(rows.text(row, 4));
  }
  event.undoes = rows.integer(row, 5);
  event.restores = rows.text(row, 6);
  event.actor = rows.text(row, 7);
  event.node = rows.text(row, 8);
  event.address = rows.text(row, 9);
  return event;
}

}  // namespace

std::string toString(FleetEventKind kind) {
  switch (kind) {
    case FleetEventKind::approve: return "approve";
    case FleetEventKind::block: return "block";
    case FleetEventKind::revoke: return "revoke";
    case FleetEventKind::undo: return "undo";
    case FleetEventKind::upload: return "upload-certificate";
  }
  return "approve";
}

FleetEventKind fleetEventKindFromString(const std::string& text) {
  for (const FleetEventKind kind :
       {FleetEventKind::approve, FleetEventKind::block, FleetEventKind::revoke,
        FleetEventKind::undo, FleetEventKind::upload}) {
    if (toString(kind) == text) {
      return kind;
    }
  }
  throw FleetError("fleet database: unknown event kind '" + text + "'");
}

FleetEvent FleetLog::append(const std::string& kind, const PostgresParameter& sha256,
                            const PostgresParameter& der_hex, const PostgresParameter& undoes,
                            const PostgresParameter& restores, const std::string& actor,
                            const std::string& node, const std::string& address) {
  FleetEvent event;
  connection_.transaction([&] {
    connection_.execute(kAppendLock);
    const PostgresResult rows = connection_.run(
        std::string("INSERT INTO certbridge.events (kind, sha256, der, undoes, restores, actor, "
                    "node, address) "
                    "SELECT $1, COALESCE($2, encode(sha256(d), 'hex')), d, $4::bigint, $5, $6, "
                    "$7, $8 FROM (SELECT decode($3, 'hex') AS d) AS upload RETURNING ") +
            kEventColumns,
        {kind, sha256, der_hex, undoes, restores, actor, node, address});
    event = readEvent(rows, 0);
  });
  return event;
}

FleetEvent FleetLog::appendDecision(FleetEventKind kind, const std::string& sha256,
                                    const std::string& actor, const std::string& node,
                                    const std::string& address) {
  if (kind == FleetEventKind::undo || kind == FleetEventKind::upload) {
    throw FleetError("fleet log: " + toString(kind) + " is not a decision");
  }
  return append(toString(kind), sha256, std::nullopt, std::nullopt, std::nullopt, actor, node,
                address);
}

FleetEvent FleetLog::appendUpload(const std::vector<unsigned char>& der, const std::string& actor,
                                  const std::string& node, const std::string& address) {
  if (der.empty()) {
    throw FleetError("fleet log: an upload needs the certificate's bytes");
  }
  return append(toString(FleetEventKind::upload), std::nullopt, toHex(der), std::nullopt,
                std::nullopt, actor, node, address);
}

FleetEvent FleetLog::appendUndo(std::int64_t undone, const std::string& actor,
                                const std::string& node, const std::string& address) {
  // What the certificate was before `undone`, by the log: the effect of the newest earlier event
  // on the same certificate. Read inside append's lock would be tidier, but the answer depends
  // only on events before `undone`, which never change.
  const PostgresResult target = connection_.run(
      "SELECT kind, sha256 FROM certbridge.events WHERE id = $1", {std::to_string(undone)});
  if (target.rows() == 0) {
    throw FleetError("fleet log: no event " + std::to_string(undone) + " to undo");
  }
  const FleetEventKind kind = fleetEventKindFromString(target.text(0, 0));
  if (kind == FleetEventKind::undo) {
    throw FleetError("fleet log: event " + std::to_string(undone) +
                     " is an undo; undo the event it undid, or make the change again");
  }
  const std::string sha256 = target.text(0, 1);
  const PostgresResult before = connection_.run(
      "SELECT kind, COALESCE(restores, '') FROM certbridge.events WHERE sha256 = $1 AND id < $2 "
      "ORDER BY id DESC LIMIT 1",
      {sha256, std::to_string(undone)});
  std::string restores;
  if (before.rows() == 0) {
    restores = kind == FleetEventKind::upload ? "withdrawn" : "";
  } else {
    switch (fleetEventKindFromString(before.text(0, 0))) {
      case FleetEventKind::approve:
      case FleetEventKind::upload: restores = "trusted"; break;
      case FleetEventKind::block:
      case FleetEventKind::revoke: restores = "blocked"; break;
      case FleetEventKind::undo: restores = before.text(0, 1); break;
    }
  }
  return append(toString(FleetEventKind::undo), sha256, std::nullopt, std::to_string(undone),
                restores, actor, node, address);
}

std::vector<FleetEvent> FleetLog::readAfter(std::int64_t after, int limit) {
  const PostgresResult rows =
      connection_.run(std::string("SELECT ") + kEventColumns +
                          " FROM certbridge.events WHERE id > $1 ORDER BY id LIMIT $2",
                      {std::to_string(after), std::to_string(limit)});
  std::vector<FleetEvent> events;
  events.reserve(static_cast<std::size_t>(rows.rows()));
  for (int row = 0; row < rows.rows(); ++row) {
    events.push_back(readEvent(rows, row));
  }
  return events;
}

std::vector<FleetEvent> FleetLog::recent(int limit) {
  const PostgresResult rows = connection_.run(
      "SELECT id, extract(epoch FROM at)::bigint, kind, sha256, NULL, COALESCE(undoes, 0), "
      "COALESCE(restores, ''), actor, node, address FROM certbridge.events "
      "ORDER BY id DESC LIMIT $1",
      {std::to_string(limit)});
  std::vector<FleetEvent> events;
  for (int row = 0; row < rows.rows(); ++row) {
    events.push_back(readEvent(rows, row));
  }
  return events;
}

std::int64_t FleetLog::latestId() {
  return connection_.run("SELECT COALESCE(max(id), 0) FROM certbridge.events").integer(0, 0);
}

std::optional<std::int64_t> FleetLog::latestUploadOf(const std::string& sha256) {
  const PostgresResult result = connection_.run(
      "SELECT max(id) FROM certbridge.events WHERE kind = 'upload-certificate' AND sha256 = $1",
      {sha256});
  return result.optionalInteger(0, 0);
}

}  // namespace certbridge::storage::fleet
