#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "storage/database.h"
#include "storage/fleet/fleet_log.h"
#include "storage/records.h"

namespace certbridge::storage::fleet {

struct FleetApplyOutcome {
  int applied = 0;   // events that changed, or confirmed, a decision here
  int deferred = 0;  // decisions on certificates this host does not hold yet (see FleetApplier)
  int skipped = 0;   // events that cannot apply here (see FleetApplier), each in the audit log
  std::int64_t applied_event_id = 0;  // the position afterwards
};

// Applies the fleet's events to this host's SQLite database through the same repository calls
// a person's decision takes, in the log's order (so the later of two conflicting events wins
// on every host, and both stay in the audit trails), and stores the id of the last event applied
// in the same transaction as what it applied: a crash, kill -9 included, leaves either a whole
// batch applied and remembered or none of it, and applying again is a no-op.
//
// The fleet's latest decision on each certificate is also kept (table fleet_decisions): a
// decision on a certificate this host does not hold yet is "deferred" (audit entry
// "fleet.deferred") and becomes that certificate's first decision when a store sync brings it,
// instead of the store's policy, so a client blocked anywhere is not trusted here because its
// certificate reached this host's store later. An event that cannot apply here (an upload that
// does not decode, an undo of an event not applied here) is skipped with an audit entry
// "fleet.skipped" saying why; it never stops the events after it. A failure of the local
// database throws StorageError and applies nothing of the batch.
//
// Borrows the Database; as thread-safe as the Database (batches take turns on its writer).
class FleetApplier {
 public:
  // Turns an uploaded certificate's DER into what storage keeps; throws (anything derived from
  // std::exception, with a message) for bytes that are not a usable client certificate. The
  // agent passes the same check its upload page uses.
  using CertificateDecoder = std::function<CertificateRecord(std::span<const unsigned char>)>;

  FleetApplier(Database& database, CertificateDecoder decode_upload)
      : database_(database), decode_upload_(std::move(decode_upload)) {}

  // The id of the last fleet event applied here; 0 before the first.
  std::int64_t appliedEventId();

  // Applies `events` (oldest first) in one transaction; those at or below the applied id are
  // passed over, so a batch read twice applies once. `now` is when it is applied.
  FleetApplyOutcome apply(const std::vector<FleetEvent>& events, UnixTime now);

  // Reads the log after the applied id, `batch` events at a time, and applies each batch, until
  // the log has no more. Throws FleetError when the log cannot be read (what was applied stays).
  FleetApplyOutcome catchUp(FleetLog& log, UnixTime now, int batch = 500);

 private:
  void applyOne(const FleetEvent& event, FleetApplyOutcome& outcome);

  Database& database_;
  CertificateDecoder decode_upload_;
};

}  // namespace certbridge::storage::fleet
