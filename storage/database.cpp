#include "storage/database.h"

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/serial_number.h"

namespace certbridge::storage {
namespace {

// One function per schema version, each run inside the migration transaction. Never edit a step
// that has shipped: add the next one.
void migrateToV1(Database& database) {
  database.execute(R"sql(
    CREATE TABLE stores (
      name TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      location TEXT NOT NULL,
      policy TEXT NOT NULL CHECK (policy IN ('auto', 'manual')),
      snapshot_sha256 TEXT,
      last_sync_at INTEGER,
      last_sync_ok INTEGER,
      last_sync_error TEXT
    );
    CREATE TABLE certificates (
      sha256 TEXT PRIMARY KEY,
      sha1 TEXT NOT NULL,
      der BLOB NOT NULL,
      subject TEXT NOT NULL,
      issuer TEXT NOT NULL,
      serial TEXT NOT NULL,
      not_before INTEGER NOT NULL,
      not_after INTEGER NOT NULL,
      key_type TEXT NOT NULL,
      extended_key_usage TEXT NOT NULL,
      is_ca INTEGER NOT NULL,
      crl_distribution_points TEXT NOT NULL
    );
    CREATE INDEX certificates_sha1 ON certificates (sha1);
    CREATE TABLE certificate_sources (
      sha256 TEXT NOT NULL REFERENCES certificates (sha256),
      store_name TEXT NOT NULL REFERENCES stores (name),
      nickname TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('anchor', 'intermediate', 'client', 'other')),
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      gone_at INTEGER,
      PRIMARY KEY (sha256, store_name)
    );
    CREATE TABLE trust_decisions (
      sha256 TEXT PRIMARY KEY REFERENCES certificates (sha256),
      state TEXT NOT NULL CHECK (state IN ('trusted', 'blocked', 'pending')),
      decided_by TEXT NOT NULL,
      decided_at INTEGER NOT NULL
    );
    CREATE TABLE publish_history (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      result TEXT NOT NULL CHECK (result IN ('published', 'unchanged', 'failed')),
      client_ca_sha256 TEXT NOT NULL,
      clients_map_sha256 TEXT NOT NULL,
      mtls_conf_sha256 TEXT NOT NULL,
      detail TEXT NOT NULL
    );
    CREATE TABLE audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      actor TEXT NOT NULL,
      origin TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      detail TEXT NOT NULL
    );
  )sql");
}

// Version 2: CRLs, undoable audit entries, each store's change token, and what each publish
// was rendered from. One current CRL per CA, its revoked serials indexed
// for "is this client revoked?", and the fetch plan per CA so that it survives a restart.
void migrateToV2(Database& database) {
  database.execute(R"sql(
    CREATE TABLE crls (
      ca_sha256 TEXT PRIMARY KEY REFERENCES certificates (sha256),
      issuer TEXT NOT NULL,
      crl_number TEXT,
      this_update INTEGER NOT NULL,
      next_update INTEGER,
      source TEXT NOT NULL,
      fetched_at INTEGER NOT NULL,
      sha256 TEXT NOT NULL,
      revoked_count INTEGER NOT NULL,
      der BLOB NOT NULL
    );
    CREATE TABLE revoked_serials (
      ca_sha256 TEXT NOT NULL,
      serial TEXT NOT NULL,
      PRIMARY KEY (ca_sha256, serial)
    ) WITHOUT ROWID;
    CREATE TABLE crl_fetches (
      ca_sha256 TEXT PRIMARY KEY,
      next_fetch_at INTEGER,
      last_attempt_at INTEGER,
      last_result TEXT NOT NULL,
      last_error TEXT NOT NULL,
      failures INTEGER NOT NULL
    );
    ALTER TABLE audit_log ADD COLUMN previous TEXT NOT NULL DEFAULT '';
    ALTER TABLE stores ADD COLUMN change_token TEXT NOT NULL DEFAULT '';
    ALTER TABLE publish_history ADD COLUMN crl_pem_sha256 TEXT NOT NULL DEFAULT '';
    ALTER TABLE publish_history ADD COLUMN input_digest TEXT NOT NULL DEFAULT '';
    ALTER TABLE publish_history ADD COLUMN valid_until INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE publish_history ADD COLUMN warnings TEXT NOT NULL DEFAULT '';
  )sql");
}

// Version 3: one exact serial form (storage/serial_number.h). Before it a CRL entry for -1
// (DER FF) was stored as "FF", the text of 255, while the certificate said "-01"; the old texts
// are ambiguous, so every serial is derived again from the DER stored beside it.
void migrateToV3(Database& database) {
  std::vector<std::pair<std::string, std::string>> certificate_serials;
  {
    Statement select = database.prepare("SELECT sha256, der FROM certificates");
    while (select.step()) {
      const std::optional<std::string> serial = certificateSerialFromDer(select.blob(1));
      if (!serial) {
        throw StorageError("database " + database.path() + ": stored certificate " +
                           select.text(0) + " has no readable serial number");
      }
      certificate_serials.emplace_back(select.text(0), *serial);
    }
  }
  Statement update = database.prepare("UPDATE certificates SET serial = ? WHERE sha256 = ?");
  for (const auto& [sha256, serial] : certificate_serials) {
    update.bind(1, serial).bind(2, sha256).run();
  }

  database.execute("DELETE FROM revoked_serials");
  Statement insert =
      database.prepare("INSERT OR IGNORE INTO revoked_serials (ca_sha256, serial) VALUES (?, ?)");
  Statement select = database.prepare("SELECT ca_sha256, der FROM crls");
  while (select.step()) {
    const std::string ca_sha256 = select.text(0);
    const bool walked = forEachCrlEntrySerialInDer(select.blob(1), [&](const std::string& serial) {
      insert.bind(1, ca_sha256).bind(2, serial).run();
    });
    if (!walked) {
      throw StorageError("database " + database.path() + ": the stored CRL of CA " + ca_sha256 +
                         " cannot be read again to migrate its revoked serials");
    }
  }
}

using MigrationStep = void (*)(Database&);
constexpr std::array<MigrationStep, Database::kSchemaVersion> kMigrations = {
    migrateToV1, migrateToV2, migrateToV3};

}  // namespace

Database::Database(const std::string& path, std::chrono::milliseconds busy_timeout) : path_(path) {
  sqlite3* raw = nullptr;
  const int opened =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  connection_.reset(raw);
  if (opened != SQLITE_OK) {
    throw StorageError("cannot open database " + path + ": " +
                       (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(opened)));
  }
  sqlite3_busy_timeout(connection_.get(), static_cast<int>(busy_timeout.count()));
  sqlite3_extended_result_codes(connection_.get(), 1);

  const int application_id = pragmaInt("application_id");
  if (application_id != 0 && application_id != kApplicationId) {
    throw StorageError("database " + path + " belongs to another application (application_id " +
                       std::to_string(application_id) + "); refusing to touch it");
  }
  std::string verdict = "no answer";
  {
    Statement check = prepare("PRAGMA quick_check");
    if (check.step()) {
      verdict = check.text(0);
    }
  }  // finalised here: an unfinished statement would hold a read transaction open
  if (verdict != "ok") {
    throw StorageError("database " + path + " is damaged (quick_check: " + verdict +
                       "); restore it from a backup or move it away to start afresh");
  }
  execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
  migrate();
}

int Database::pragmaInt(const char* name) {
  Statement statement = prepare((std::string("PRAGMA ") + name).c_str());
  return statement.step() ? static_cast<int>(statement.integer(0)) : 0;
}

void Database::execute(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(connection_.get(), sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : sqlite3_errmsg(connection_.get());
    sqlite3_free(error);
    throw StorageError("database " + path_ + ": " + message);
  }
}

void Database::migrate() {
  const int version = pragmaInt("user_version");
  if (version > kSchemaVersion) {
    throw StorageError("database " + path_ + " has schema version " + std::to_string(version) +
                       ", written by a newer certbridge; this build knows up to version " +
                       std::to_string(kSchemaVersion));
  }
  if (version == kSchemaVersion) {
    return;
  }
  transaction([&] {
    for (int step = version; step < kSchemaVersion; ++step) {
      kMigrations[static_cast<std::size_t>(step)](*this);
    }
    execute(("PRAGMA application_id = " + std::to_string(kApplicationId) +
             "; PRAGMA user_version = " + std::to_string(kSchemaVersion))
                .c_str());
  });
}

void Database::transaction(const std::function<void()>& work) {
  const std::lock_guard lock(mutex_);
  execute("BEGIN IMMEDIATE");
  try {
    work();
    execute("COMMIT");
  } catch (...) {
    sqlite3_exec(connection_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Database::read(const std::function<void()>& work) {
  const std::lock_guard lock(mutex_);
  work();
}

}  // namespace certbridge::storage
