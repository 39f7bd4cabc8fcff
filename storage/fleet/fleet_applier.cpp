#include "storage/fleet/fleet_applier.h"

#include <exception>
#include <optional>
#include <string>

#include "storage/audit_log.h"
#include "storage/certificate_repository.h"

namespace certbridge::storage::fleet {
namespace {

// How the local audit log names where a fleet event came from.
std::string originOf(const FleetEvent& event) {
  return "fleet #" + std::to_string(event.id) + " " + event.node +
         (event.address.empty() ? "" : " " + event.address);
}

bool holdsCertificate(Database& database, const std::string& sha256) {
  Statement select = database.prepare("SELECT 1 FROM certificates WHERE sha256 = ?");
  select.bind(1, sha256);
  return select.step();
}

// The trust state here, or "" when there is no decision.
std::string currentState(Database& database, const std::string& sha256) {
  Statement select = database.prepare("SELECT state FROM trust_decisions WHERE sha256 = ?");
  select.bind(1, sha256);
  return select.step() ? select.text(0) : "";
}

bool isActiveUpload(Database& database, const std::string& sha256) {
  Statement select = database.prepare(
      "SELECT 1 FROM certificate_sources WHERE sha256 = ? AND store_name = ? AND gone_at IS NULL");
  select.bind(1, sha256).bind(2, std::string(CertificateRepository::kUploadStore));
  return select.step();
}

void rememberFleetDecision(Database& database, const FleetEvent& event, const std::string& state) {
  database
      .prepare(R"sql(
      INSERT INTO fleet_decisions (sha256, state, event_id) VALUES (?, ?, ?)
      ON CONFLICT (sha256) DO UPDATE SET state = excluded.state, event_id = excluded.event_id)sql")
      .bind(1, event.sha256)
      .bind(2, state)
      .bind(3, event.id)
      .run();
}

void rememberEffect(Database& database, const FleetEvent& event, const std::string& previous) {
  database
      .prepare(
          "INSERT OR REPLACE INTO fleet_event_effects (event_id, sha256, previous) "
          "VALUES (?, ?, ?)")
      .bind(1, event.id)
      .bind(2, event.sha256)
      .bind(3, previous)
      .run();
}

}  // namespace

std::int64_t FleetApplier::appliedEventId() {
  std::int64_t applied = 0;
  database_.read([&] {
    Statement select = database_.prepare("SELECT applied_event_id FROM fleet_position");
    if (select.step()) {
      applied = select.integer(0);
    }
  });
  return applied;
}

void FleetApplier::applyOne(const FleetEvent& event, FleetApplyOutcome& outcome) {
  CertificateRepository certificates(database_);
  const std::string origin = originOf(event);
  const auto skip = [&](const std::string& reason) {
    AuditLog(database_).append({event.at, event.actor, origin, "fleet.skipped", event.sha256,
                                toString(event.kind) + ": " + reason});
    ++outcome.skipped;
  };
  // `fleet_decided`: the state is the fleet's (remembered for certificates that come later),
  // not this host's own.
  const auto decide = [&](TrustState state, bool fleet_decided = true) {
    if (fleet_decided) {
      rememberFleetDecision(database_, event, toString(state));
    }
    if (!holdsCertificate(database_, event.sha256)) {
      AuditLog(database_).append(
          {event.at, event.actor, origin, "fleet.deferred", event.sha256,
           toString(event.kind) + ": this host holds no certificate with this fingerprint yet; " +
               toString(state) + " when a store brings it"});
      ++outcome.deferred;
      return;
    }
    rememberEffect(database_, event, currentState(database_, event.sha256));
    certificates.setTrustState(event.sha256, state, event.actor, origin, event.at);
    ++outcome.applied;
  };

  switch (event.kind) {
    case FleetEventKind::approve: decide(TrustState::trusted); return;
    case FleetEventKind::block:
    case FleetEventKind::revoke: decide(TrustState::blocked); return;
    case FleetEventKind::upload: {
      std::optional<CertificateRecord> record;
      try {
        record = decode_upload_(event.der);
      } catch (const std::exception& error) {
        skip(std::string("not a usable client certificate: ") + error.what());
        return;
      }
      if (record->sha256 != event.sha256) {
        skip("the certificate's SHA-256 is " + record->sha256 + ", not the event's");
        return;
      }
      rememberFleetDecision(database_, event, "trusted");
      rememberEffect(database_, event, currentState(database_, event.sha256));
      certificates.addUpload(*record, event.actor, origin, event.at);
      ++outcome.applied;
      return;
    }
    case FleetEventKind::undo: {
      if (event.restores.empty() || event.restores == "withdrawn") {
        // The log knew nothing before the undone event: the fleet has no decision on the
        // certificate any more.
        database_.prepare("DELETE FROM fleet_decisions WHERE sha256 = ?")
            .bind(1, event.sha256)
            .run();
      }
      if (event.restores.empty()) {
        // Back to what this host had before the undone event.
        Statement effect =
            database_.prepare("SELECT previous FROM fleet_event_effects WHERE event_id = ?");
        effect.bind(1, event.undoes);
        if (!effect.step()) {
          skip("event " + std::to_string(event.undoes) + " was not applied here");
          return;
        }
        const std::string previous = effect.text(0);
        effect.reset();
        decide(previous.empty() ? TrustState::pending : trustStateFromString(previous), false);
        return;
      }
      if (event.restores == "withdrawn") {
        if (!isActiveUpload(database_, event.sha256)) {
          skip("the certificate is not an active upload here");
          return;
        }
        certificates.removeUpload(event.sha256, event.actor, origin, event.at);
        ++outcome.applied;
        return;
      }
      decide(trustStateFromString(event.restores));
      return;
    }
  }
}

FleetApplyOutcome FleetApplier::apply(const std::vector<FleetEvent>& events, UnixTime now) {
  FleetApplyOutcome outcome;
  database_.transaction([&] {
    outcome = {};
    Statement position = database_.prepare("SELECT applied_event_id FROM fleet_position");
    std::int64_t applied = position.step() ? position.integer(0) : 0;
    position.reset();
    const std::int64_t before = applied;
    for (const FleetEvent& event : events) {
      if (event.id <= applied) {
        continue;  // applied before: a batch read again, or events out of order
      }
      applyOne(event, outcome);
      applied = event.id;
    }
    if (applied != before) {
      database_
          .prepare(R"sql(
          INSERT INTO fleet_position (singleton, applied_event_id, applied_at) VALUES (1, ?, ?)
          ON CONFLICT (singleton) DO UPDATE SET applied_event_id = excluded.applied_event_id,
                                                applied_at = excluded.applied_at)sql")
          .bind(1, applied)
          .bind(2, now)
          .run();
    }
    outcome.applied_event_id = applied;
  });
  return outcome;
}

FleetApplyOutcome FleetApplier::catchUp(FleetLog& log, UnixTime now, int batch) {
  FleetApplyOutcome total;
  total.applied_event_id = appliedEventId();
  for (;;) {
    const std::vector<FleetEvent> events = log.readAfter(total.applied_event_id, batch);
    if (events.empty()) {
      return total;
    }
    const FleetApplyOutcome outcome = apply(events, now);
    total.applied += outcome.applied;
    total.deferred += outcome.deferred;
    total.skipped += outcome.skipped;
    total.applied_event_id = outcome.applied_event_id;
  }
}

}  // namespace certbridge::storage::fleet
