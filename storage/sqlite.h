#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/storage_error.h"

namespace certbridge::storage {

struct SqliteDeleter {
  void operator()(sqlite3* connection) const { sqlite3_close_v2(connection); }
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteDeleter>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, SqliteDeleter>;

// A statement kept prepared on its connection (Database caches one per SQL text), lent to one
// Statement at a time.
struct CachedStatement {
  StatementPtr statement;
  bool in_use = false;
};

// One prepared statement. Binds are 1-based as in SQLite; columns 0-based. Used inside storage/
// only: nothing outside this folder talks to SQLite. Either owns its statement, or borrows a
// cached one, which it resets (ending any read it holds open) and gives back when it ends.
class Statement {
 public:
  Statement(sqlite3* connection, const char* sql);
  Statement(sqlite3* connection, CachedStatement& cached);
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::span<const unsigned char> value);
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  Statement& bindNull(int index);
  // Binds without copying: `value` must stay valid until the statement is reset or stepped to
  // its end. For large blobs (a CRL of tens of megabytes).
  Statement& bindUncopied(int index, std::span<const unsigned char> value);
  bool isNull(int column) const;

  // True while a row is available.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();

  std::string text(int column) const;
  std::int64_t integer(int column) const;
  std::optional<std::int64_t> optionalInteger(int column) const;
  std::vector<unsigned char> blob(int column) const;

 private:
  [[noreturn]] void fail(const std::string& what) const;

  sqlite3* connection_;
  StatementPtr owned_;
  sqlite3_stmt* statement_ = nullptr;
  CachedStatement* cached_ = nullptr;
};

}  // namespace certbridge::storage
