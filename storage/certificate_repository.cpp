#include "storage/certificate_repository.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <set>
#include <string_view>
#include <unordered_set>

#include "storage/audit_log.h"

namespace certbridge::storage {
namespace {

constexpr const char* kInsertCertificate = R"sql(
    INSERT OR IGNORE INTO certificates (sha256, sha1, der, subject, issuer, serial,
        not_before, not_after, key_type, extended_key_usage, is_ca, crl_distribution_points)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql";

// Runs kInsertCertificate for `certificate`; a certificate stored before is left as it is.
void insertCertificate(Statement& insert, const CertificateRecord& certificate) {
  insert.bind(1, certificate.sha256)
      .bind(2, certificate.sha1)
      .bind(3, certificate.der)
      .bind(4, certificate.subject)
      .bind(5, certificate.issuer)
      .bind(6, certificate.serial)
      .bind(7, certificate.not_before)
      .bind(8, certificate.not_after)
      .bind(9, certificate.key_type)
      .bind(10, certificate.extended_key_usage)
      .bind(11, std::int64_t{certificate.is_ca ? 1 : 0})
      .bind(12, certificate.crl_distribution_points)
      .run();
}

std::string describeEntry(const std::string& nickname, const std::string& subject) {
  return nickname.empty() ? subject : nickname + " (" + subject + ")";
}

}  // namespace

std::string roleLabel(const CertificateView& view) {
  if (view.anchor)
    return "client CA";
  if (view.certificate.is_ca)
    return "CA";
  if (view.client)
    return "client";
  return "other";
}

std::int64_t daysLeft(UnixTime not_after, UnixTime now) {
  constexpr std::int64_t kSecondsPerDay = 86400;
  const std::int64_t seconds = not_after - now;
  return seconds >= 0 ? seconds / kSecondsPerDay
                      : -((-seconds + kSecondsPerDay - 1) / kSecondsPerDay);
}

std::string formatUtc(UnixTime time, const char* format) {
  // Calendar arithmetic from <chrono>: gmtime_r is POSIX only.
  using namespace std::chrono;
  const sys_seconds point{seconds(time)};
  const sys_days day = floor<days>(point);
  const year_month_day date(day);
  const hh_mm_ss clock(point - day);
  std::tm parts{};
  parts.tm_year = static_cast<int>(date.year()) - 1900;
  parts.tm_mon = static_cast<int>(static_cast<unsigned>(date.month())) - 1;
  parts.tm_mday = static_cast<int>(static_cast<unsigned>(date.day()));
  parts.tm_hour = static_cast<int>(clock.hours().count());
  parts.tm_min = static_cast<int>(clock.minutes().count());
  parts.tm_sec = static_cast<int>(clock.seconds().count());
  parts.tm_wday = static_cast<int>(weekday(day).c_encoding());
  char text[64];
  return std::string(text, std::strftime(text, sizeof(text), format, &parts));
}

std::string toString(CertificateRole role) {
  switch (role) {
    case CertificateRole::anchor: return "anchor";
    case CertificateRole::intermediate: return "intermediate";
    case CertificateRole::client: return "client";
    case CertificateRole::other: return "other";
  }
  return "other";
}

std::string toString(TrustState state) {
  switch (state) {
    case TrustState::trusted: return "trusted";
    case TrustState::blocked: return "blocked";
    case TrustState::pending: return "pending";
  }
  return "pending";
}

CertificateRole roleFromString(const std::string& text) {
  if (text == "anchor")
    return CertificateRole::anchor;
  if (text == "intermediate")
    return CertificateRole::intermediate;
  if (text == "client")
    return CertificateRole::client;
  return CertificateRole::other;
}

TrustState trustStateFromString(const std::string& text) {
  if (text == "trusted")
    return TrustState::trusted;
  if (text == "blocked")
    return TrustState::blocked;
  if (text == "pending")
    return TrustState::pending;
  throw StorageError("unknown trust state '" + text + "' in the database");
}

std::optional<std::string> CertificateRepository::snapshotDigest(const std::string& store) {
  std::optional<std::string> digest;
  database_.read([&] {
    Statement select = database_.prepare("SELECT snapshot_sha256 FROM stores WHERE name = ?");
    select.bind(1, store);
    if (select.step() && !select.isNull(0)) {
      digest = select.text(0);
    }
  });
  return digest;
}

void CertificateRepository::upsertStore(const StoreDefinition& store) {
  database_
      .prepare(R"sql(
      INSERT INTO stores (name, type, location, policy) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET type = excluded.type, location = excluded.location,
                                       policy = excluded.policy)sql")
      .bind(1, store.name)
      .bind(2, store.type)
      .bind(3, store.location)
      .bind(4, store.policy)
      .run();
}

std::unordered_map<std::string, KnownCertificate> CertificateRepository::knownCertificates() {
  std::unordered_map<std::string, KnownCertificate> known;
  database_.read([&] {
    Statement select = database_.prepare(R"sql(
        SELECT c.sha256, c.subject, c.is_ca,
               (SELECT s.role FROM certificate_sources s
                WHERE s.sha256 = c.sha256 AND s.store_name != ? LIMIT 1)
        FROM certificates c)sql");
    select.bind(1, std::string(kUploadStore));
    while (select.step()) {
      KnownCertificate& certificate = known[select.text(0)];
      certificate.subject = select.text(1);
      certificate.is_ca = select.integer(2) != 0;
      if (!select.isNull(3)) {
        certificate.store_role = roleFromString(select.text(3));
      }
    }
  });
  return known;
}

StoreChanges CertificateRepository::applySnapshot(const StoreDefinition& store,
                                                  const std::vector<StoreEntry>& entries,
                                                  const std::string& digest, UnixTime now) {
  StoreChanges changes;
  database_.transaction([&] {
    upsertStore(store);
    AuditLog audit(database_);
    const std::string origin = "store:" + store.name;
    const TrustState first_decision =
        store.policy == "auto" ? TrustState::trusted : TrustState::pending;

    // What the store held at its last sync: the snapshot is compared with it, so that an
    // unchanged certificate costs a lookup in memory rather than statements.
    struct Held {
      std::string nickname;
      std::string role;
      bool gone = false;
    };
    std::unordered_map<std::string, Held> held;
    Statement select_held = database_.prepare(
        "SELECT sha256, nickname, role, gone_at IS NOT NULL FROM certificate_sources "
        "WHERE store_name = ?");
    select_held.bind(1, store.name);
    while (select_held.step()) {
      held.emplace(select_held.text(0),
                   Held{select_held.text(1), select_held.text(2), select_held.integer(3) != 0});
    }

    Statement insert_certificate = database_.prepare(kInsertCertificate);
    Statement insert_source = database_.prepare(R"sql(
        INSERT INTO certificate_sources (sha256, store_name, nickname, role, first_seen,
                                         last_seen, gone_at)
        VALUES (?, ?, ?, ?, ?, ?, NULL))sql");
    Statement update_source = database_.prepare(R"sql(
        UPDATE certificate_sources SET nickname = ?, role = ?, last_seen = ?, gone_at = NULL
        WHERE sha256 = ? AND store_name = ?)sql");
    // A decision the fleet made on a certificate before this host held it (see
    // storage/fleet/fleet_applier.h) comes before the store's policy.
    Statement fleet_decision =
        database_.prepare("SELECT state, event_id FROM fleet_decisions WHERE sha256 = ?");
    Statement insert_decision = database_.prepare(R"sql(
        INSERT OR IGNORE INTO trust_decisions (sha256, state, decided_by, decided_at)
        VALUES (?, ?, ?, ?))sql");

    std::unordered_set<std::string> seen;
    seen.reserve(entries.size());
    for (const StoreEntry& entry : entries) {
      const CertificateRecord& certificate = entry.certificate;
      if (!seen.insert(certificate.sha256).second) {
        continue;  // the same certificate under two nicknames: the first one names it
      }
      const std::string role = toString(entry.role);
      const auto before = held.find(certificate.sha256);
      if (before != held.end() && !before->second.gone &&
          before->second.nickname == entry.nickname && before->second.role == role) {
        continue;  // held as it was: only last_seen moves, below
      }
      if (!entry.stored) {
        insertCertificate(insert_certificate, certificate);
      }

      const std::string description = describeEntry(entry.nickname, certificate.subject);
      if (before == held.end()) {
        insert_source.bind(1, certificate.sha256)
            .bind(2, store.name)
            .bind(3, entry.nickname)
            .bind(4, role)
            .bind(5, now)
            .bind(6, now)
            .run();
        changes.added.push_back(description);
        audit.append({now, "sync", origin, "certificate.added", certificate.sha256,
                      description + " as " + role});
      } else {
        update_source.bind(1, entry.nickname)
            .bind(2, role)
            .bind(3, now)
            .bind(4, certificate.sha256)
            .bind(5, store.name)
            .run();
        if (before->second.gone) {
          changes.returned.push_back(description);
          audit.append(
              {now, "sync", origin, "certificate.returned", certificate.sha256, description});
        }
      }

      // Decisions are never deleted, so a client held unchanged since its last sync has one.
      if (entry.role == CertificateRole::client) {
        fleet_decision.bind(1, certificate.sha256);
        const bool fleet_decided = fleet_decision.step();
        const std::string state = fleet_decided ? fleet_decision.text(0) : toString(first_decision);
        const std::string decided_by = fleet_decided
                                           ? "fleet #" + std::to_string(fleet_decision.integer(1))
                                           : "policy:" + store.policy;
        fleet_decision.reset();
        insert_decision.bind(1, certificate.sha256)
            .bind(2, state)
            .bind(3, decided_by)
            .bind(4, now)
            .run();
        if (database_.changes() > 0) {
          audit.append(
              {now, decided_by, origin, "trust." + state, certificate.sha256, description});
        }
      }
    }

    // In fingerprint order, so that the log and the audit trail read the same every time.
    std::vector<std::pair<std::string, std::string>> departed;  // SHA-256, nickname
    for (const auto& [sha256, before] : held) {
      if (!before.gone && !seen.contains(sha256)) {
        departed.emplace_back(sha256, before.nickname);
      }
    }
    std::sort(departed.begin(), departed.end());
    Statement subject = database_.prepare("SELECT subject FROM certificates WHERE sha256 = ?");
    Statement mark_gone = database_.prepare(
        "UPDATE certificate_sources SET gone_at = ? WHERE sha256 = ? AND store_name = ?");
    for (const auto& [sha256, nickname] : departed) {
      subject.bind(1, sha256);
      const std::string description =
          describeEntry(nickname, subject.step() ? subject.text(0) : "");
      subject.reset();
      mark_gone.bind(1, now).bind(2, sha256).bind(3, store.name).run();
      changes.gone.push_back(description);
      audit.append({now, "sync", origin, "certificate.gone", sha256, description});
    }
    database_
        .prepare(
            "UPDATE certificate_sources SET last_seen = ? WHERE store_name = ? AND gone_at IS NULL")
        .bind(1, now)
        .bind(2, store.name)
        .run();

    database_
        .prepare(R"sql(
        UPDATE stores SET snapshot_sha256 = ?, last_sync_at = ?, last_sync_ok = 1,
                          last_sync_error = '' WHERE name = ?)sql")
        .bind(1, digest)
        .bind(2, now)
        .bind(3, store.name)
        .run();
  });
  return changes;
}

void CertificateRepository::recordSyncResult(const StoreDefinition& store, UnixTime now,
                                             const std::string& error,
                                             const std::string& change_token) {
  database_.transaction([&] {
    upsertStore(store);
    database_
        .prepare(R"sql(
        UPDATE stores SET last_sync_at = ?, last_sync_ok = ?, last_sync_error = ?,
                          change_token = ?
        WHERE name = ?)sql")
        .bind(1, now)
        .bind(2, std::int64_t{error.empty() ? 1 : 0})
        .bind(3, error)
        .bind(4, error.empty() ? change_token : std::string())
        .bind(5, store.name)
        .run();
  });
}

std::string CertificateRepository::changeToken(const std::string& store) {
  std::string token;
  database_.read([&] {
    Statement select =
        database_.prepare("SELECT change_token FROM stores WHERE name = ? AND last_sync_ok = 1");
    select.bind(1, store);
    if (select.step()) {
      token = select.text(0);
    }
  });
  return token;
}

namespace {

// What listCertificates, certificateView and listPresentCas select: a certificate with its
// sources and decision, to be followed by WHERE / GROUP BY c.sha256.
constexpr std::string_view kViewSelect =
    "SELECT c.sha256, c.sha1, c.der, c.subject, c.issuer, c.serial, c.not_before, c.not_after, "
    "c.key_type, c.extended_key_usage, c.is_ca, c.crl_distribution_points, "
    "COALESCE(MAX(s.gone_at IS NULL AND s.role = 'anchor'), 0), "
    "COALESCE(MAX(s.gone_at IS NULL AND s.role = 'client'), 0), "
    "COALESCE(MAX(s.gone_at IS NULL), 0), t.state, "
    "COALESCE(GROUP_CONCAT(CASE WHEN s.gone_at IS NULL "
    "THEN s.store_name || '/' || s.nickname END, ', '), ''), "
    "COALESCE(MIN(s.first_seen), 0), "
    "COALESCE(MAX(CASE WHEN s.gone_at IS NULL THEN st.last_sync_at ELSE s.last_seen END), 0), "
    "COALESCE(MIN(CASE WHEN s.gone_at IS NULL THEN s.nickname END), '') "
    "FROM certificates c "
    "LEFT JOIN certificate_sources s ON s.sha256 = c.sha256 "
    "LEFT JOIN stores st ON st.name = s.store_name "
    "LEFT JOIN trust_decisions t ON t.sha256 = c.sha256 ";

CertificateView viewFromRow(const Statement& select) {
  CertificateView view;
  CertificateRecord& record = view.certificate;
  record.sha256 = select.text(0);
  record.sha1 = select.text(1);
  record.der = select.blob(2);
  record.subject = select.text(3);
  record.issuer = select.text(4);
  record.serial = select.text(5);
  record.not_before = select.integer(6);
  record.not_after = select.integer(7);
  record.key_type = select.text(8);
  record.extended_key_usage = select.text(9);
  record.is_ca = select.integer(10) != 0;
  record.crl_distribution_points = select.text(11);
  view.anchor = select.integer(12) != 0;
  view.client = select.integer(13) != 0;
  view.present = select.integer(14) != 0;
  if (select.optionalInteger(15).has_value()) {
    view.trust = trustStateFromString(select.text(15));
  }
  view.sources = select.text(16);
  view.first_seen = select.integer(17);
  view.last_seen = select.integer(18);
  view.nickname = select.text(19);
  return view;
}

}  // namespace

std::vector<CertificateView> CertificateRepository::listCertificates() {
  std::vector<CertificateView> views;
  database_.read([&] {
    static const std::string sql = std::string(kViewSelect) + "GROUP BY c.sha256 ORDER BY c.sha256";
    Statement select = database_.prepare(sql.c_str());
    while (select.step()) {
      views.push_back(viewFromRow(select));
    }
  });
  return views;
}

std::optional<CertificateView> CertificateRepository::certificateView(const std::string& sha256) {
  std::optional<CertificateView> view;
  database_.read([&] {
    static const std::string sql =
        std::string(kViewSelect) + "WHERE c.sha256 = ? GROUP BY c.sha256";
    Statement select = database_.prepare(sql.c_str());
    select.bind(1, sha256);
    if (select.step()) {
      view = viewFromRow(select);
    }
  });
  return view;
}

std::vector<CertificateView> CertificateRepository::listPresentCas() {
  std::vector<CertificateView> views;
  database_.read([&] {
    // certificates_ca (a partial index) finds the few CAs among 100,000 clients.
    static const std::string sql =
        std::string(kViewSelect) + "WHERE c.is_ca = 1 GROUP BY c.sha256 ORDER BY c.sha256";
    Statement select = database_.prepare(sql.c_str());
    while (select.step()) {
      CertificateView view = viewFromRow(select);
      if (view.present) {
        views.push_back(std::move(view));
      }
    }
  });
  return views;
}

std::string CertificateRepository::renderInputs(UnixTime now, UnixTime& valid_until) {
  std::string inputs;
  database_.read([&] {
    Statement sources = database_.prepare(R"sql(
        SELECT s.sha256, s.store_name, s.role, s.gone_at IS NULL, COALESCE(t.state, '')
        FROM certificate_sources s LEFT JOIN trust_decisions t ON t.sha256 = s.sha256
        ORDER BY s.sha256, s.store_name)sql");
    while (sources.step()) {
      inputs += sources.text(0) + " " + sources.text(1) + " " + sources.text(2) + " " +
                std::to_string(sources.integer(3)) + " " + sources.text(4) + "\n";
    }
    Statement crls = database_.prepare("SELECT ca_sha256, sha256 FROM crls ORDER BY ca_sha256");
    while (crls.step()) {
      inputs += "crl " + crls.text(0) + " " + crls.text(1) + "\n";
    }
    Statement boundary = database_.prepare(R"sql(
        SELECT MIN(t) FROM (
          SELECT not_before AS t FROM certificates WHERE not_before > ?1
          UNION ALL SELECT not_after + 1 FROM certificates WHERE not_after >= ?1
          UNION ALL SELECT next_update FROM crls WHERE next_update > ?1))sql");
    boundary.bind(1, now);
    valid_until = boundary.step() && !boundary.isNull(0) ? boundary.integer(0)
                                                         : std::numeric_limits<UnixTime>::max();
  });
  return inputs;
}

std::vector<StoreStatus> CertificateRepository::listStores() {
  std::vector<StoreStatus> stores;
  database_.read([&] {
    Statement select = database_.prepare(R"sql(
        SELECT name, type, location, policy, last_sync_at, last_sync_ok, last_sync_error
        FROM stores ORDER BY name)sql");
    while (select.step()) {
      stores.push_back(StoreStatus{
          .definition = {select.text(0), select.text(1), select.text(2), select.text(3)},
          .last_sync_at = select.optionalInteger(4),
          .last_sync_ok = select.integer(5) != 0,
          .last_sync_error = select.text(6),
      });
    }
  });
  return stores;
}

void CertificateRepository::setTrustState(const std::string& sha256, TrustState state,
                                          const std::string& actor, const std::string& origin,
                                          UnixTime now) {
  database_.transaction([&] {
    Statement exists = database_.prepare("SELECT subject FROM certificates WHERE sha256 = ?");
    exists.bind(1, sha256);
    if (!exists.step()) {
      throw StorageError("no certificate with SHA-256 fingerprint " + sha256);
    }
    const std::string subject = exists.text(0);
    Statement current = database_.prepare("SELECT state FROM trust_decisions WHERE sha256 = ?");
    current.bind(1, sha256);
    const std::string previous = current.step() ? current.text(0) : "";
    database_
        .prepare(R"sql(
        INSERT INTO trust_decisions (sha256, state, decided_by, decided_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET state = excluded.state,
            decided_by = excluded.decided_by, decided_at = excluded.decided_at)sql")
        .bind(1, sha256)
        .bind(2, toString(state))
        .bind(3, actor)
        .bind(4, now)
        .run();
    AuditLog(database_).append(
        {now, actor, origin, "trust." + toString(state), sha256, subject, 0, previous});
  });
}

void CertificateRepository::addUpload(const CertificateRecord& certificate,
                                      const std::string& actor, const std::string& origin,
                                      UnixTime now) {
  database_.transaction([&] {
    // The pseudo-store is always "synced": it has nothing to read.
    database_
        .prepare(R"sql(
        INSERT INTO stores (name, type, location, policy, last_sync_at, last_sync_ok,
                            last_sync_error)
        VALUES (?, 'upload', 'web', 'manual', ?, 1, '')
        ON CONFLICT (name) DO UPDATE SET last_sync_at = excluded.last_sync_at)sql")
        .bind(1, std::string(kUploadStore))
        .bind(2, now)
        .run();
    Statement insert_certificate = database_.prepare(kInsertCertificate);
    insertCertificate(insert_certificate, certificate);
    database_
        .prepare(R"sql(
        INSERT INTO certificate_sources (sha256, store_name, nickname, role, first_seen,
                                         last_seen, gone_at)
        VALUES (?, ?, ?, 'client', ?, ?, NULL)
        ON CONFLICT (sha256, store_name) DO UPDATE SET gone_at = NULL,
                                                       last_seen = excluded.last_seen)sql")
        .bind(1, certificate.sha256)
        .bind(2, std::string(kUploadStore))
        .bind(3, "uploaded by " + actor)
        .bind(4, now)
        .bind(5, now)
        .run();
    Statement current = database_.prepare("SELECT state FROM trust_decisions WHERE sha256 = ?");
    current.bind(1, certificate.sha256);
    const std::string previous = current.step() ? current.text(0) : "";
    database_
        .prepare(R"sql(
        INSERT INTO trust_decisions (sha256, state, decided_by, decided_at)
        VALUES (?, 'trusted', ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET state = 'trusted', decided_by = excluded.decided_by,
                                           decided_at = excluded.decided_at)sql")
        .bind(1, certificate.sha256)
        .bind(2, actor)
        .bind(3, now)
        .run();
    AuditLog(database_).append({now, actor, origin, "certificate.uploaded", certificate.sha256,
                                certificate.subject, 0, previous});
  });
}

void CertificateRepository::removeUpload(const std::string& sha256, const std::string& actor,
                                         const std::string& origin, UnixTime now) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        UPDATE certificate_sources SET gone_at = ? WHERE sha256 = ? AND store_name = ?
        AND gone_at IS NULL)sql")
        .bind(1, now)
        .bind(2, sha256)
        .bind(3, std::string(kUploadStore))
        .run();
    if (database_.changes() == 0) {
      throw StorageError("certificate " + sha256 + " is not an active upload");
    }
    AuditLog(database_).append(
        {now, actor, origin, "certificate.upload_withdrawn", sha256, "", 0, ""});
  });
}

}  // namespace certbridge::storage
