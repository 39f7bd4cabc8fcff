#include "storage/audit_log.h"

namespace certbridge::storage {

void AuditLog::append(const AuditEntry& entry) {
  database_.read([&] {
    database_
        .prepare(R"sql(
        INSERT INTO audit_log (at, actor, origin, action, target, detail)
        VALUES (?, ?, ?, ?, ?, ?))sql")
        .bind(1, entry.at)
        .bind(2, entry.actor)
        .bind(3, entry.origin)
        .bind(4, entry.action)
        .bind(5, entry.target)
        .bind(6, entry.detail)
        .run();
  });
}

std::vector<AuditEntry> AuditLog::recent(int limit) {
  std::vector<AuditEntry> entries;
  database_.read([&] {
    Statement select = database_.prepare(R"sql(
        SELECT at, actor, origin, action, target, detail FROM audit_log
        ORDER BY id DESC LIMIT ?)sql");
    select.bind(1, std::int64_t{limit});
    while (select.step()) {
      entries.push_back({select.integer(0), select.text(1), select.text(2), select.text(3),
                         select.text(4), select.text(5)});
    }
  });
  return entries;
}

void PublishHistory::append(const PublishRecord& record) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        INSERT INTO publish_history (at, result, client_ca_sha256, clients_map_sha256,
                                     mtls_conf_sha256, detail)
        VALUES (?, ?, ?, ?, ?, ?))sql")
        .bind(1, record.at)
        .bind(2, record.result)
        .bind(3, record.client_ca_sha256)
        .bind(4, record.clients_map_sha256)
        .bind(5, record.mtls_conf_sha256)
        .bind(6, record.detail)
        .run();
  });
}

std::optional<PublishRecord> PublishHistory::selectOne(const char* sql) {
  std::optional<PublishRecord> record;
  database_.read([&] {
    Statement select = database_.prepare(sql);
    if (select.step()) {
      record = PublishRecord{select.integer(0), select.text(1), select.text(2),
                             select.text(3),    select.text(4), select.text(5)};
    }
  });
  return record;
}

std::optional<PublishRecord> PublishHistory::last() {
  return selectOne(R"sql(
      SELECT at, result, client_ca_sha256, clients_map_sha256, mtls_conf_sha256, detail
      FROM publish_history ORDER BY id DESC LIMIT 1)sql");
}

std::optional<PublishRecord> PublishHistory::lastChange() {
  return selectOne(R"sql(
      SELECT at, result, client_ca_sha256, clients_map_sha256, mtls_conf_sha256, detail
      FROM publish_history WHERE result <> 'unchanged' ORDER BY id DESC LIMIT 1)sql");
}

}  // namespace certbridge::storage
