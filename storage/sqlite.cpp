#include "storage/sqlite.h"

#include <utility>

namespace certbridge::storage {

Statement::Statement(sqlite3* connection, const char* sql) : connection_(connection) {
  sqlite3_stmt* raw = nullptr;
  const int prepared = sqlite3_prepare_v2(connection, sql, -1, &raw, nullptr);
  owned_.reset(raw);
  if (prepared != SQLITE_OK) {
    fail(std::string("cannot prepare '") + sql + "'");
  }
  statement_ = raw;
}

Statement::Statement(sqlite3* connection, CachedStatement& cached)
    : connection_(connection), statement_(cached.statement.get()), cached_(&cached) {
  cached.in_use = true;
}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      owned_(std::move(other.owned_)),
      statement_(std::exchange(other.statement_, nullptr)),
      cached_(std::exchange(other.cached_, nullptr)) {}

Statement::~Statement() {
  if (cached_ != nullptr) {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
    cached_->in_use = false;
  }
}

void Statement::fail(const std::string& what) const {
  const char* file = sqlite3_db_filename(connection_, "main");
  throw StorageError(std::string("database ") + (file != nullptr ? file : "?") + ": " + what +
                     ": " + sqlite3_errmsg(connection_));
}

Statement& Statement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, std::span<const unsigned char> value) {
  if (sqlite3_bind_blob64(statement_, index, value.data(), value.size(), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bindNull(index);
}

Statement& Statement::bindUncopied(int index, std::span<const unsigned char> value) {
  if (sqlite3_bind_blob64(statement_, index, value.data(), value.size(), SQLITE_STATIC) !=
      SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

Statement& Statement::bindNull(int index) {
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

bool Statement::step() {
  const int result = sqlite3_step(statement_);
  if (result == SQLITE_ROW) {
    return true;
  }
  if (result == SQLITE_DONE) {
    return false;
  }
  fail(std::string("cannot run '") + sqlite3_sql(statement_) + "'");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

std::string Statement::text(int column) const {
  const auto* value = sqlite3_column_text(statement_, column);
  if (value == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(value),
          static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_, column);
}

std::optional<std::int64_t> Statement::optionalInteger(int column) const {
  if (sqlite3_column_type(statement_, column) == SQLITE_NULL) {
    return std::nullopt;
  }
  return integer(column);
}

std::vector<unsigned char> Statement::blob(int column) const {
  const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(statement_, column));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, column));
  return data != nullptr ? std::vector<unsigned char>(data, data + size)
                         : std::vector<unsigned char>{};
}

}  // namespace certbridge::storage
