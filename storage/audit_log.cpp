#include "storage/audit_log.h"

namespace certbridge::storage {

namespace {

AuditEntry readEntry(const Statement& row) {
  return AuditEntry{row.integer(0), row.text(1), row.text(2),    row.text(3),
                    row.text(4),    row.text(5), row.integer(6), row.text(7)};
}

}  // namespace

std::optional<AuditEntry> AuditLog::find(std::int64_t id) {
  std::optional<AuditEntry> entry;
  database_.read([&] {
    Statement select = database_.prepare(R"sql(
        SELECT at, actor, origin, action, target, detail, id, previous FROM audit_log
        WHERE id = ?)sql");
    select.bind(1, id);
    if (select.step()) {
      entry = readEntry(select);
    }
  });
  return entry;
}

void AuditLog::append(const AuditEntry& entry) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        INSERT INTO audit_log (at, actor, origin, action, target, detail, previous)
        VALUES (?, ?, ?, ?, ?, ?, ?))sql")
        .bind(1, entry.at)
        .bind(2, entry.actor)
        .bind(3, entry.origin)
        .bind(4, entry.action)
        .bind(5, entry.target)
        .bind(6, entry.detail)
        .bind(7, entry.previous)
        .run();
  });
}

std::vector<AuditEntry> AuditLog::recent(int limit) {
  std::vector<AuditEntry> entries;
  database_.read([&] {
    Statement select = database_.prepare(R"sql(
        SELECT at, actor, origin, action, target, detail, id, previous FROM audit_log
        ORDER BY id DESC LIMIT ?)sql");
    select.bind(1, std::int64_t{limit});
    while (select.step()) {
      entries.push_back(readEntry(select));
    }
  });
  return entries;
}

void PublishHistory::append(const PublishRecord& record) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        INSERT INTO publish_history (at, result, client_ca_sha256, clients_map_sha256,
                                     mtls_conf_sha256, detail, crl_pem_sha256, input_digest,
                                     valid_until, warnings)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql")
        .bind(1, record.at)
        .bind(2, record.result)
        .bind(3, record.client_ca_sha256)
        .bind(4, record.clients_map_sha256)
        .bind(5, record.mtls_conf_sha256)
        .bind(6, record.detail)
        .bind(7, record.crl_pem_sha256)
        .bind(8, record.input_digest)
        .bind(9, record.valid_until)
        .bind(10, record.warnings)
        .run();
  });
}

std::optional<PublishRecord> PublishHistory::selectOne(const char* sql) {
  std::optional<PublishRecord> record;
  database_.read([&] {
    Statement select = database_.prepare(sql);
    if (select.step()) {
      record = PublishRecord{select.integer(0), select.text(1), select.text(2), select.text(3),
                             select.text(4),    select.text(5), select.text(6), select.text(7),
                             select.integer(8), select.text(9)};
    }
  });
  return record;
}

std::pair<std::int64_t, std::int64_t> PublishHistory::countPublishedAndFailed() {
  std::pair<std::int64_t, std::int64_t> counts{0, 0};
  database_.read([&] {
    Statement select = database_.prepare(R"sql(
        SELECT COALESCE(SUM(result = 'published'), 0), COALESCE(SUM(result = 'failed'), 0)
        FROM publish_history)sql");
    if (select.step()) {
      counts = {select.integer(0), select.integer(1)};
    }
    Statement pruned = database_.prepare(R"sql(
        SELECT COALESCE(SUM(CASE result WHEN 'published' THEN pruned END), 0),
               COALESCE(SUM(CASE result WHEN 'failed' THEN pruned END), 0)
        FROM publish_totals)sql");
    if (pruned.step()) {
      counts.first += pruned.integer(0);
      counts.second += pruned.integer(1);
    }
  });
  return counts;
}

std::int64_t PublishHistory::prune(UnixTime older_than) {
  std::int64_t deleted = 0;
  database_.transaction([&] {
    // The last attempt and the last change stay whatever their age: status and the web page
    // show them.
    constexpr const char* kPrunable = R"sql(
        at < ?1 AND id <> (SELECT MAX(id) FROM publish_history)
        AND id <> COALESCE((SELECT MAX(id) FROM publish_history WHERE result <> 'unchanged'), 0))sql";
    database_
        .prepare((std::string(R"sql(
        INSERT INTO publish_totals (result, pruned)
        SELECT result, COUNT(*) FROM publish_history WHERE )sql") +
                  kPrunable + R"sql( GROUP BY result
        ON CONFLICT (result) DO UPDATE SET pruned = pruned + excluded.pruned)sql")
                     .c_str())
        .bind(1, older_than)
        .run();
    database_.prepare((std::string("DELETE FROM publish_history WHERE ") + kPrunable).c_str())
        .bind(1, older_than)
        .run();
    deleted = database_.changes();
  });
  return deleted;
}

std::optional<PublishRecord> PublishHistory::last() {
  return selectOne(R"sql(
      SELECT at, result, client_ca_sha256, clients_map_sha256, mtls_conf_sha256, detail,
             crl_pem_sha256, input_digest, valid_until, warnings
      FROM publish_history ORDER BY id DESC LIMIT 1)sql");
}

std::optional<PublishRecord> PublishHistory::lastChange() {
  return selectOne(R"sql(
      SELECT at, result, client_ca_sha256, clients_map_sha256, mtls_conf_sha256, detail,
             crl_pem_sha256, input_digest, valid_until, warnings
      FROM publish_history WHERE result <> 'unchanged' ORDER BY id DESC LIMIT 1)sql");
}

}  // namespace certbridge::storage
