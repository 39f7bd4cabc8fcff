#pragma once

#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"

namespace certbridge::testing {

// Server certificate and key (PEM) for a PostgreSQL that speaks TLS; empty for none.
struct PostgresTls {
  std::string certificate_pem;
  std::string key_pem;
};

// A real PostgreSQL (Debian's, the newest under /usr/lib/postgresql) made by initdb in a
// temporary folder, listening on a free 127.0.0.1 port only (no Unix socket), with password
// (SCRAM) authentication for TCP. PostgreSQL refuses to run as root, so when the tests run as
// root (CI does), initdb and the server run as the system user `nobody` (through runuser).
// The superuser is "postgres"; its password is in a passfile (0600) that conninfo() points to.
// Started by the constructor; stop() and start() for outage tests; the destructor stops it
// (immediate mode) and removes the folder.
class PostgresServer {
 public:
  explicit PostgresServer(const PostgresTls& tls = {});
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  // Starts (again) on the same port and waits until it accepts connections; throws with the
  // server's log if it does not.
  void start();
  // Stops it (fast mode: open sessions are ended) and waits until it is gone.
  void stop();

  int port() const { return port_; }
  // libpq conninfo for `database` as the superuser, the password read from passfile().
  std::string conninfo(const std::string& database = "postgres") const;
  std::string passfile() const { return directory_.file("pgpass"); }
  // Runs `sql` with psql as the superuser in `database`; throws with psql's output on an error.
  std::string psql(const std::string& sql, const std::string& database = "postgres") const;
  // Creates an empty database `name`.
  void createDatabase(const std::string& name) const;
  std::string serverLog() const;
  // The folder the test may put files in (world-readable, removed with the server).
  const TempDir& directory() const { return directory_; }

 private:
  std::string asServerUser(const std::string& command) const;
  std::string binary(const std::string& name) const;

  TempDir directory_;
  std::filesystem::path bin_dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path log_file_;
  int port_;
  bool running_ = false;
};

}  // namespace certbridge::testing
