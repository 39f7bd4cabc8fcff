#include "storage/sqlite.h"

namespace certbridge::storage {

Statement::Statement(sqlite3* connection, const char* sql) : connection_(connection) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(connection, sql, -1, &raw, nullptr) != SQLITE_OK) {
    statement_.reset(raw);
    fail(std::string("cannot prepare '") + sql + "'");
  }
  statement_.reset(raw);
}

void Statement::fail(const std::string& what) const {
  const char* file = sqlite3_db_filename(connection_, "main");
  throw StorageError(std::string("database ") + (file != nullptr ? file : "?") + ": " + what +
                     ": " + sqlite3_errmsg(connection_));
}

Statement& Statement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(statement_.get(), index, value.data(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(statement_.get(), index, value) != SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, std::span<const unsigned char> value) {
  if (sqlite3_bind_blob64(statement_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bindNull(index);
}

Statement& Statement::bindUncopied(int index, std::span<const unsigned char> value) {
  if (sqlite3_bind_blob64(statement_.get(), index, value.data(), value.size(), SQLITE_STATIC) !=
      SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL;
}

Statement& Statement::bindNull(int index) {
  if (sqlite3_bind_null(statement_.get(), index) != SQLITE_OK) {
    fail("cannot bind parameter " + std::to_string(index));
  }
  return *this;
}

bool Statement::step() {
  const int result = sqlite3_step(statement_.get());
  if (result == SQLITE_ROW) {
    return true;
  }
  if (result == SQLITE_DONE) {
    return false;
  }
  fail(std::string("cannot run '") + sqlite3_sql(statement_.get()) + "'");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
}

std::string Statement::text(int column) const {
  const auto* value = sqlite3_column_text(statement_.get(), column);
  if (value == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(value),
          static_cast<std::size_t>(sqlite3_column_bytes(statement_.get(), column))};
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_.get(), column);
}

std::optional<std::int64_t> Statement::optionalInteger(int column) const {
  if (sqlite3_column_type(statement_.get(), column) == SQLITE_NULL) {
    return std::nullopt;
  }
  return integer(column);
}

std::vector<unsigned char> Statement::blob(int column) const {
  const auto* data =
      static_cast<const unsigned char*>(sqlite3_column_blob(statement_.get(), column));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_.get(), column));
  return data != nullptr ? std::vector<unsigned char>(data, data + size)
                         : std::vector<unsigned char>{};
}

}  // namespace certbridge::storage
