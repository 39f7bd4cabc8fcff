#include "storage/database.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unordered_map>
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

// Records beside the database that it exists, so that a database deleted or moved away later is
// refused instead of silently replaced by an empty one (which would forget every block). Written
// once; a marker that cannot be written is not fatal (the state folder may be read-only for
// `status`), the database itself is the authority while it exists.
void writeExistenceMarker(const std::filesystem::path& marker, const std::string& path) {
  std::error_code error_code;
  if (std::filesystem::exists(marker, error_code)) {
    return;
  }
  std::ofstream stream(marker, std::ios::trunc);
  stream << "certbridge keeps its state in " << path
         << ".\nWhile this file exists, certbridge refuses to start with that database missing;\n"
            "delete this file only to start over with an empty database.\n";
}

// Version 3: publish_history is pruned after [storage] history_days; what the pruned rows
// counted (the reloads and failures behind /metrics' counters) is kept here, so that a counter
// never goes down.
void migrateToV3(Database& database) {
  database.execute(R"sql(
    CREATE TABLE publish_totals (
      result TEXT PRIMARY KEY CHECK (result IN ('published', 'unchanged', 'failed')),
      pruned INTEGER NOT NULL
    );
    CREATE INDEX publish_history_at ON publish_history (at);
  )sql");
}

// Version 4: one exact serial form (storage/serial_number.h). Before it a CRL entry for -1
// (DER FF) was stored as "FF", the text of 255, while the certificate said "-01"; the old texts
// are ambiguous, so every serial is derived again from the DER stored beside it.
void migrateToV4(Database& database) {
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

// Version 5: the status page, the certificates API and /metrics at 100,000 certificates. Pages
// walk certificates by expiry (an index holding what filters read, so a subject filter scans the
// index, not the DER), look a serial up and find the CAs through indexes; and the
// trusted clients the last render left out of clients.map are kept (by SHA-1, as nginx sees
// them), so the state shown ("trusted" or "left out") is a join, not a chain building on every
// request. The last publish forgets until when it held, so the first sync after the upgrade
// renders and fills the table.
void migrateToV5(Database& database) {
  database.execute(R"sql(
    CREATE INDEX certificates_by_expiry
      ON certificates (not_after, sha256, sha1, serial, subject, issuer);
    CREATE INDEX certificates_ca ON certificates (sha256) WHERE is_ca = 1;
    CREATE INDEX certificates_serial ON certificates (serial);
    CREATE TABLE left_out_clients (
      sha1 TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    UPDATE publish_history SET valid_until = 0;
  )sql");
}

// Version 6: the fleet (storage/fleet/). Which event of the fleet's log this host enforces, kept
// in the same transaction as the decisions it applied, so that a crash never applies an event
// twice or skips one; per applied trust event, the state it replaced here, so that an undo of an
// event the fleet log knows no earlier state for returns to this host's own; and the fleet's
// latest decision on each certificate, so that one this host does not hold yet gets it, not its
// store's policy, when it appears.
void migrateToV6(Database& database) {
  database.execute(R"sql(
    CREATE TABLE fleet_position (
      singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
      applied_event_id INTEGER NOT NULL,
      applied_at INTEGER NOT NULL
    );
    CREATE TABLE fleet_event_effects (
      event_id INTEGER PRIMARY KEY,
      sha256 TEXT NOT NULL,
      previous TEXT NOT NULL
    );
    CREATE TABLE fleet_decisions (
      sha256 TEXT PRIMARY KEY,
      state TEXT NOT NULL CHECK (state IN ('trusted', 'blocked', 'pending')),
      event_id INTEGER NOT NULL
    );
  )sql");
}

// Version 7: the fleet link (storage/fleet_link.h): whether the fleet's database was reachable
// when the agent last tried, which `status` and the page show, and the last audit entry shared
// with the fleet, after which this host's own decisions wait to be appended to the fleet's log.
void migrateToV7(Database& database) {
  database.execute(R"sql(
    CREATE TABLE fleet_link (
      singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
      node TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('connected', 'degraded')),
      detail TEXT NOT NULL,
      since INTEGER NOT NULL,
      latest_event_id INTEGER NOT NULL,
      shared_audit_id INTEGER NOT NULL
    );
  )sql");
}

using MigrationStep = void (*)(Database&);
constexpr std::array<MigrationStep, Database::kSchemaVersion> kMigrations = {
    migrateToV1, migrateToV2, migrateToV3, migrateToV4, migrateToV5, migrateToV6, migrateToV7};

// The connection each thread works on, per Database, while it is inside read() or transaction().
struct Scope {
  const Database* database;
  Database::Connection* connection;
  bool writing;
};
thread_local std::vector<Scope> t_scopes;

const Scope* findScope(const Database* database) {
  for (auto scope = t_scopes.rbegin(); scope != t_scopes.rend(); ++scope) {
    if (scope->database == database) {
      return &*scope;
    }
  }
  return nullptr;
}

// Pushes a scope for the lifetime of this object, exception or not.
class ScopeGuard {
 public:
  ScopeGuard(const Database* database, Database::Connection* connection, bool writing) {
    t_scopes.push_back({database, connection, writing});
  }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() { t_scopes.pop_back(); }
};

}  // namespace

struct Database::Connection {
  SqlitePtr handle;
  // Declared after `handle`, so finalised before it is closed.
  std::unordered_map<std::string, CachedStatement> statements;

  Statement prepare(const char* sql) {
    CachedStatement& cached = statements[sql];
    if (cached.in_use) {
      // The same SQL twice at once (a loop inside a loop): a statement of its own.
      return {handle.get(), sql};
    }
    if (!cached.statement) {
      sqlite3_stmt* raw = nullptr;
      const int prepared = sqlite3_prepare_v2(handle.get(), sql, -1, &raw, nullptr);
      cached.statement.reset(raw);
      if (prepared != SQLITE_OK) {
        const char* file = sqlite3_db_filename(handle.get(), "main");
        const std::string message = sqlite3_errmsg(handle.get());
        statements.erase(sql);
        throw StorageError(std::string("database ") + (file != nullptr ? file : "?") +
                           ": cannot prepare '" + sql + "': " + message);
      }
    }
    return {handle.get(), cached};
  }

  void execute(const char* sql, const std::string& path) const {
    char* error = nullptr;
    if (sqlite3_exec(handle.get(), sql, nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error != nullptr ? error : sqlite3_errmsg(handle.get());
      sqlite3_free(error);
      throw StorageError("database " + path + ": " + message);
    }
  }

  // Runs `work` between `begin` and COMMIT; rolls back, and rethrows, when it throws.
  void runTransaction(const char* begin, const std::string& path,
                      const std::function<void()>& work) const {
    execute(begin, path);
    try {
      work();
      execute("COMMIT", path);
    } catch (...) {
      sqlite3_exec(handle.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
};

Database::~Database() = default;

Database::Database(const std::string& path, std::chrono::milliseconds busy_timeout)
    : path_(path), busy_timeout_(busy_timeout), writer_(std::make_unique<Connection>()) {
  // Whose file is this? Decided before SQLite writes a byte: a file that exists is opened
  // without SQLITE_OPEN_CREATE and must already carry certbridge's application_id.
  std::error_code error_code;
  const std::filesystem::path file(path);
  const bool brand_new = !std::filesystem::exists(file, error_code);
  const std::filesystem::path marker = existenceMarker(path);
  if (brand_new && std::filesystem::exists(marker, error_code)) {
    throw StorageError("database " + path + " is gone, but " + marker.string() +
                       " records that it existed (every trust decision was in it): restore it "
                       "from backup, or delete " +
                       marker.string() + " to start over with an empty database");
  }
  if (!brand_new && std::filesystem::is_regular_file(file, error_code) &&
      std::filesystem::file_size(file, error_code) == 0 && !error_code) {
    throw StorageError("database " + path +
                       " is empty (0 bytes), so every trust decision it held is lost: restore it "
                       "from backup, or delete it to start over");
  }
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (brand_new ? SQLITE_OPEN_CREATE : 0),
      nullptr);
  writer_->handle.reset(raw);
  if (opened != SQLITE_OK) {
    throw StorageError("cannot open database " + path + ": " +
                       (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(opened)));
  }
  sqlite3_busy_timeout(writer_->handle.get(), static_cast<int>(busy_timeout.count()));
  sqlite3_extended_result_codes(writer_->handle.get(), 1);

  const int application_id = pragmaInt("application_id");
  if (application_id != kApplicationId && !brand_new) {
    throw StorageError("database " + path + " is not a certbridge database (application_id " +
                       std::to_string(application_id) + ", certbridge's is " +
                       std::to_string(kApplicationId) +
                       "): it belongs to another application; refusing to touch it");
  }
  std::string verdict = "no answer";
  {
    Statement check(writer_->handle.get(), "PRAGMA quick_check");
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
  writeExistenceMarker(marker, path);
}

std::filesystem::path Database::existenceMarker(const std::string& path) {
  return std::filesystem::path(path + ".created");
}

int Database::pragmaInt(const char* name) {
  Statement statement(writer_->handle.get(), (std::string("PRAGMA ") + name).c_str());
  return statement.step() ? static_cast<int>(statement.integer(0)) : 0;
}

Database::Connection& Database::current() {
  const Scope* scope = findScope(this);
  return scope != nullptr ? *scope->connection : *writer_;
}

Statement Database::prepare(const char* sql) {
  return current().prepare(sql);
}

void Database::execute(const char* sql) {
  current().execute(sql, path_);
}

int Database::changes() {
  return sqlite3_changes(current().handle.get());
}

std::unique_ptr<Database::Connection> Database::openReader() {
  auto reader = std::make_unique<Connection>();
  sqlite3* raw = nullptr;
  const int opened =
      sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  reader->handle.reset(raw);
  if (opened != SQLITE_OK) {
    throw StorageError("cannot open database " + path_ + " for reading: " +
                       (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(opened)));
  }
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout_.count()));
  sqlite3_extended_result_codes(raw, 1);
  // A write on a reader is a bug (a write inside a read path): make SQLite refuse it.
  reader->execute("PRAGMA query_only = ON", path_);
  return reader;
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
  if (const Scope* scope = findScope(this)) {
    if (!scope->writing) {
      throw StorageError("database " + path_ +
                         ": a write was attempted inside a read (a bug: reads never write)");
    }
    work();  // joins the enclosing transaction, which commits or rolls back
    return;
  }
  const std::lock_guard lock(writer_mutex_);
  const ScopeGuard scope(this, writer_.get(), true);
  writer_->runTransaction("BEGIN IMMEDIATE", path_, work);
}

void Database::read(const std::function<void()>& work) {
  if (findScope(this) != nullptr) {
    work();  // one picture with the enclosing read or transaction
    return;
  }
  std::unique_ptr<Connection> reader;
  {
    const std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!reader) {
    reader = openReader();
  }
  {
    const ScopeGuard scope(this, reader.get(), false);
    try {
      reader->runTransaction("BEGIN", path_, work);
    } catch (...) {
      // The reader stays usable: give it back.
      const std::lock_guard lock(readers_mutex_);
      idle_readers_.push_back(std::move(reader));
      throw;
    }
  }
  const std::lock_guard lock(readers_mutex_);
  idle_readers_.push_back(std::move(reader));
}

}  // namespace certbridge::storage
