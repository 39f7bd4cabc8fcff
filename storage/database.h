#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "storage/sqlite.h"
#include "storage/storage_error.h"

namespace certbridge::storage {

// The certbridge SQLite database: opened (and created) with its schema migrated to the version
// this build knows, in WAL mode. Every write goes through transaction(). One Database may be
// shared by the agent's threads: transaction() and read() serialise on an internal mutex.
class Database {
 public:
  static constexpr int kSchemaVersion = 3;
  static constexpr std::int32_t kApplicationId = 0x43425247;  // "CBRG"

  // Throws StorageError naming `path` when the file is not a certbridge database, was written
  // by a newer certbridge, fails its integrity check, or cannot be opened.
  explicit Database(const std::string& path,
                    std::chrono::milliseconds busy_timeout = std::chrono::seconds(5));
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }

  // Runs `work` inside BEGIN IMMEDIATE … COMMIT; any exception rolls everything back.
  void transaction(const std::function<void()>& work);
  // Runs `work` under the connection mutex without a write transaction.
  void read(const std::function<void()>& work);

  Statement prepare(const char* sql) { return Statement(connection_.get(), sql); }
  void execute(const char* sql);
  // Rows changed by the last statement.
  int changes() { return sqlite3_changes(connection_.get()); }

 private:
  void migrate();
  int pragmaInt(const char* name);

  std::string path_;
  SqlitePtr connection_;
  std::recursive_mutex mutex_;
};

}  // namespace certbridge::storage
