#include "storage/fleet/postgres.h"

#include <array>
#include <charconv>

namespace certbridge::storage::fleet {
namespace {

// libpq ends its messages with a newline (sometimes two lines); one line reads better in a log.
std::string oneLine(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  for (char& character : text) {
    if (character == '\n' || character == '\t') {
      character = ' ';
    }
  }
  return text;
}

void keepNotice(void* notices, const char* message) {
  auto& kept = *static_cast<std::deque<std::string>*>(notices);
  constexpr std::size_t kKept = 20;
  if (kept.size() == kKept) {
    kept.pop_front();
  }
  kept.push_back(oneLine(message));
}

}  // namespace

std::string describeConninfo(const std::string& conninfo) {
  char* error = nullptr;
  PgConninfoPtr options(PQconninfoParse(conninfo.c_str(), &error));
  if (!options) {
    PQfreemem(error);
    throw FleetError(
        "[fleet] postgres is neither a libpq conninfo (key=value ...) nor a postgresql:// URI "
        "(libpq's detail is left out: it may quote the password)");
  }
  std::string description;
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr || std::string(option->keyword) == "password") {
      continue;
    }
    if (!description.empty()) {
      description += ' ';
    }
    description += std::string(option->keyword) + "=" + option->val;
  }
  return description.empty() ? "(libpq defaults)" : description;
}

std::string PostgresResult::text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return {value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t PostgresResult::integer(int row, int column) const {
  const std::string value = text(row, column);
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size()) {
    throw FleetError("fleet database: expected an integer in column " +
                     std::string(PQfname(result_.get(), column)) + ", got '" + value + "'");
  }
  return number;
}

std::optional<std::int64_t> PostgresResult::optionalInteger(int row, int column) const {
  if (isNull(row, column)) {
    return std::nullopt;
  }
  return integer(row, column);
}

PostgresConnection::PostgresConnection(const std::string& conninfo)
    : name_(describeConninfo(conninfo)), notices_(std::make_unique<std::deque<std::string>>()) {
  // Keywords before "dbname" are defaults that the expanded conninfo overrides.
  const std::array<const char*, 4> keywords = {"connect_timeout", "application_name", "dbname",
                                               nullptr};
  const std::array<const char*, 4> values = {"5", "certbridge", conninfo.c_str(), nullptr};
  connection_.reset(PQconnectdbParams(keywords.data(), values.data(), 1));
  if (!connection_) {
    throw FleetError("fleet database " + name_ + ": cannot connect: out of memory");
  }
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    fail("cannot connect");
  }
  PQsetNoticeProcessor(connection_.get(), keepNotice, notices_.get());
}

std::vector<std::string> PostgresConnection::takeNotices() {
  std::vector<std::string> taken(notices_->begin(), notices_->end());
  notices_->clear();
  return taken;
}

void PostgresConnection::fail(const std::string& what) const {
  throw FleetError("fleet database " + name_ + ": " + what + ": " +
                   oneLine(PQerrorMessage(connection_.get())));
}

PostgresResult PostgresConnection::run(const std::string& sql,
                                       const std::vector<PostgresParameter>& parameters) {
  std::vector<const char*> values;
  values.reserve(parameters.size());
  for (const PostgresParameter& parameter : parameters) {
    values.push_back(parameter ? parameter->c_str() : nullptr);
  }
  PgResultPtr result(PQexecParams(connection_.get(), sql.c_str(), static_cast<int>(values.size()),
                                  nullptr, values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string message = result ? oneLine(PQresultErrorMessage(result.get()))
                                       : oneLine(PQerrorMessage(connection_.get()));
    throw FleetError("fleet database " + name_ + ": " + message);
  }
  return PostgresResult(std::move(result));
}

void PostgresConnection::execute(const std::string& sql) {
  PgResultPtr result(PQexec(connection_.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string message = result ? oneLine(PQresultErrorMessage(result.get()))
                                       : oneLine(PQerrorMessage(connection_.get()));
    throw FleetError("fleet database " + name_ + ": " + message);
  }
}

void PostgresConnection::transaction(const std::function<void()>& work) {
  execute("BEGIN");
  try {
    work();
    execute("COMMIT");
  } catch (...) {
    // A lost connection cannot roll back; the server does it when the session ends.
    PgResultPtr ignored(PQexec(connection_.get(), "ROLLBACK"));
    throw;
  }
}

std::string toHex(const std::vector<unsigned char>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const unsigned char byte : bytes) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0x0f];
  }
  return hex;
}

std::vector<unsigned char> fromHex(const std::string& hex) {
  const auto digit = [&](char character) -> unsigned {
    if (character >= '0' && character <= '9')
      return static_cast<unsigned>(character - '0');
    if (character >= 'a' && character <= 'f')
      return static_cast<unsigned>(character - 'a' + 10);
    if (character >= 'A' && character <= 'F')
      return static_cast<unsigned>(character - 'A' + 10);
    throw FleetError("fleet database: not hexadecimal: '" + hex.substr(0, 40) + "'");
  };
  if (hex.size() % 2 != 0) {
    throw FleetError("fleet database: odd-length hexadecimal text");
  }
  std::vector<unsigned char> bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t index = 0; index < hex.size(); index += 2) {
    bytes.push_back(static_cast<unsigned char>(digit(hex[index]) << 4 | digit(hex[index + 1])));
  }
  return bytes;
}

}  // namespace certbridge::storage::fleet
