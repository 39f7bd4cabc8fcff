#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/fleet/postgres.h"
#include "storage/records.h"

namespace certbridge::storage::fleet {

enum class FleetEventKind { approve, block, revoke, undo, upload };

// "approve", "block", "revoke", "undo", "upload-certificate", as the log stores them.
std::string toString(FleetEventKind kind);
FleetEventKind fleetEventKindFromString(const std::string& text);

// One entry of the fleet's trust log: a decision made on some host, in the order every host
// applies it.
struct FleetEvent {
  std::int64_t id = 0;  // assigned by the log: the fleet's order
  UnixTime at = 0;      // assigned by the log (the database's clock)
  FleetEventKind kind = FleetEventKind::approve;
  std::string sha256;              // the certificate; for an upload, computed from `der`
  std::vector<unsigned char> der;  // upload only: the client certificate
  std::int64_t undoes = 0;         // undo only: the event undone
  // Undo only: the state the certificate returns to, as the log had it before the undone event:
  // "trusted", "blocked", "pending", "withdrawn" (an upload the log knew nothing before), or
  // "" (the log knew nothing before: each host returns to its own state before that event).
  std::string restores;
  std::string actor;    // who: the signed-in person or the API token's name
  std::string node;     // on which host
  std::string address;  // from which address
};

// The fleet's append-only event log, which is also its audit trail. Borrows the connection,
// which must outlive it; as thread-safe as the connection (not at all).
class FleetLog {
 public:
  explicit FleetLog(PostgresConnection& connection) : connection_(connection) {}

  // Appends a decision (approve, block or revoke of `sha256`) and returns it with its id and
  // time. Appends are serialised by a lock held until commit, so ids commit in their order and
  // a reader that has seen id N never sees an id below N appear later.
  FleetEvent appendDecision(FleetEventKind kind, const std::string& sha256,
                            const std::string& actor, const std::string& node,
                            const std::string& address);
  // Appends an uploaded client certificate (DER; its SHA-256 is computed by the database).
  FleetEvent appendUpload(const std::vector<unsigned char>& der, const std::string& actor,
                          const std::string& node, const std::string& address);
  // Appends an undo of event `undone` (which must exist and not be an undo itself); what it
  // restores is worked out from the log before `undone` (see FleetEvent::restores).
  FleetEvent appendUndo(std::int64_t undone, const std::string& actor, const std::string& node,
                        const std::string& address);

  // Up to `limit` events with an id above `after`, oldest first: what a host has yet to apply.
  std::vector<FleetEvent> readAfter(std::int64_t after, int limit);
  // The newest `limit` events, newest first, without certificate bytes: the audit trail.
  std::vector<FleetEvent> recent(int limit);
  // The newest upload of the certificate `sha256`, if the log holds one (what withdrawing the
  // upload undoes).
  std::optional<std::int64_t> latestUploadOf(const std::string& sha256);
  // The id of the newest event; 0 for an empty log.
  std::int64_t latestId();

 private:
  FleetEvent append(const std::string& kind, const PostgresParameter& sha256,
                    const PostgresParameter& der_hex, const PostgresParameter& undoes,
                    const PostgresParameter& restores, const std::string& actor,
                    const std::string& node, const std::string& address);

  PostgresConnection& connection_;
};

}  // namespace certbridge::storage::fleet
