#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/sqlite.h"
#include "storage/storage_error.h"

namespace certbridge::storage {

// The certbridge SQLite database: opened (and created) with its schema migrated to the version
// this build knows, in WAL mode.
//
// One writer connection, and a pool of reader connections so that reads never wait behind a
// write (WAL lets readers see the last commit while the writer works): `/healthz` answers during a
// CRL ingest. transaction() runs on the writer, one thread at a time; read() runs on a reader
// connection of the calling thread's own, inside one read transaction, so everything it reads is
// one consistent picture. Readers are `query_only`: a write inside read() fails. A read() or
// transaction() inside a transaction() on the same thread joins it (and sees its writes); a
// read() inside a read() joins it too. prepare() and execute() use the connection of the scope
// the calling thread is in; outside any scope, the writer (for tests and single-threaded
// tools). Prepared statements are cached per connection. Thread-safe.
class Database {
 public:
  static constexpr int kSchemaVersion = 7;
  static constexpr std::int32_t kApplicationId = 0x43425247;  // "CBRG"

  // A file is certbridge's only when it carries kApplicationId, or when it does not exist yet
  // (then it is created). Throws StorageError naming `path`, and leaves the file untouched, when
  // it belongs to another application, is empty (0 bytes: a truncated database is never taken
  // as a new one), is missing while its existence marker says it existed, was written by a
  // newer certbridge, fails its integrity check, or cannot be opened.
  explicit Database(const std::string& path,
                    std::chrono::milliseconds busy_timeout = std::chrono::seconds(5));
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::string& path() const { return path_; }
  // The file beside the database (PATH.created) that records that it existed.
  static std::filesystem::path existenceMarker(const std::string& path);

  // Runs `work` inside BEGIN IMMEDIATE … COMMIT on the writer; any exception rolls everything
  // back. Throws StorageError when called inside a read() on the same thread.
  void transaction(const std::function<void()>& work);
  // Runs `work` inside one read transaction on a reader connection.
  void read(const std::function<void()>& work);

  Statement prepare(const char* sql);
  void execute(const char* sql);
  // Rows changed by the last statement on this thread's connection.
  int changes();

  // One SQLite connection and its prepared statements.
  struct Connection;

 private:
  void migrate();
  int pragmaInt(const char* name);
  Connection& current();
  std::unique_ptr<Connection> openReader();

  std::string path_;
  std::chrono::milliseconds busy_timeout_;
  std::unique_ptr<Connection> writer_;
  std::recursive_mutex writer_mutex_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace certbridge::storage
