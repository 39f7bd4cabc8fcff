#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace certbridge::storage::fleet {

// Any failure to reach, read or write the fleet's PostgreSQL database. The message names the
// database by its conninfo without the password, and carries libpq's or the server's own text.
class FleetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PostgresDeleter {
  void operator()(PGconn* connection) const { PQfinish(connection); }
  void operator()(PGresult* result) const { PQclear(result); }
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
  void operator()(PGnotify* notification) const { PQfreemem(notification); }
};
using PgConnPtr = std::unique_ptr<PGconn, PostgresDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PostgresDeleter>;
using PgConninfoPtr = std::unique_ptr<PQconninfoOption, PostgresDeleter>;
using PgNotifyPtr = std::unique_ptr<PGnotify, PostgresDeleter>;

// `conninfo` (key=value pairs or a postgresql:// URI) as it may be shown and logged: every
// parameter it sets except the password, e.g. "host=db1 port=5432 dbname=fleet user=agent".
// Throws FleetError when libpq cannot parse it (without libpq's text, which may quote the
// password).
std::string describeConninfo(const std::string& conninfo);

// The rows of one statement, in text format. Move-only; owns its PGresult.
class PostgresResult {
 public:
  explicit PostgresResult(PgResultPtr result) : result_(std::move(result)) {}

  int rows() const { return PQntuples(result_.get()); }
  bool isNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  std::optional<std::int64_t> optionalInteger(int row, int column) const;

 private:
  PgResultPtr result_;
};

// A parameter of a statement: text, or SQL NULL.
using PostgresParameter = std::optional<std::string>;

// One libpq connection to the fleet database. Not thread-safe: one thread at a time (each user
// of the fleet opens its own). Move-only.
class PostgresConnection {
 public:
  // Connects (blocking; connect_timeout 5 s unless `conninfo` says otherwise) and checks that
  // the connection works. The password comes from `conninfo`, its passfile, PGPASSFILE or
  // ~/.pgpass, as libpq finds it; it never appears in a message. Throws FleetError naming the
  // database, with libpq's reason (for a refused connection: the host and port).
  explicit PostgresConnection(const std::string& conninfo);

  // The database as messages name it: describeConninfo(conninfo).
  const std::string& name() const { return name_; }
  PGconn* get() const { return connection_.get(); }

  // Runs one statement with $1… parameters; throws FleetError with the server's message.
  PostgresResult run(const std::string& sql, const std::vector<PostgresParameter>& parameters = {});
  // Runs statements without parameters (several, separated by ';').
  void execute(const std::string& sql);
  // Runs `work` between BEGIN and COMMIT; anything thrown rolls back and is rethrown.
  void transaction(const std::function<void()>& work);

  [[noreturn]] void fail(const std::string& what) const;

  // What the server said outside any answer (warnings, "terminating connection due to
  // administrator command"), oldest first, at most the last 20; taken out by the call. libpq
  // would print them to standard error, past the agent's log; the caller logs them instead.
  std::vector<std::string> takeNotices();

 private:
  std::string name_;
  // On the heap so that its address, which libpq keeps, survives a move of the connection.
  std::unique_ptr<std::deque<std::string>> notices_;
  PgConnPtr connection_;
};

// Lower-case hex of `bytes`, and back (throws FleetError on anything but hex digits).
std::string toHex(const std::vector<unsigned char>& bytes);
std::vector<unsigned char> fromHex(const std::string& hex);

}  // namespace certbridge::storage::fleet
