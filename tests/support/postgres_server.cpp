#include "tests/support/postgres_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/support/shell.h"

namespace certbridge::testing {
namespace {

constexpr const char* kSuperuserPassword = "fleet-test-superuser-secret";
// The unprivileged system account the server runs as when the tests run as root.
constexpr const char* kServerUser = "nobody";

std::filesystem::path newestPostgresBin() {
  std::filesystem::path newest;
  int newest_version = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > newest_version && std::filesystem::exists(entry.path() / "bin/initdb")) {
      newest_version = version;
      newest = entry.path() / "bin";
    }
  }
  if (newest.empty()) {
    throw std::runtime_error(
        "no PostgreSQL server under /usr/lib/postgresql (Debian: ./scripts/install-deps "
        "postgresql)");
  }
  return newest;
}

void check(const ShellResult& result, const std::string& what) {
  if (result.exit_code != 0) {
    throw std::runtime_error(what + " failed (exit " + std::to_string(result.exit_code) +
                             "): " + result.output);
  }
}

}  // namespace

PostgresServer::PostgresServer(const PostgresTls& tls)
    : bin_dir_(newestPostgresBin()),
      data_dir_(directory_.path() / "server/data"),
      log_file_(directory_.path() / "server/postgres.log"),
      port_(freeLoopbackPort()) {
  const std::filesystem::path server_dir = directory_.path() / "server";
  std::filesystem::create_directories(server_dir);
  const std::string password_file = directory_.file("superuser-password");
  writeFile(password_file, std::string(kSuperuserPassword) + "\n");
  writeFile(passfile(), "*:*:*:postgres:" + std::string(kSuperuserPassword) + "\n");
  ::chmod(passfile().c_str(), 0600);  // libpq ignores a passfile others may read
  if (::geteuid() == 0) {
    check(shell("chown " + std::string(kServerUser) + " " + quoted(server_dir.string()) + " " +
                quoted(password_file)),
          "giving the server folder to " + std::string(kServerUser));
  }
  check(shell(asServerUser(binary("initdb") + " -D " + quoted(data_dir_.string()) +
                           " -U postgres --pwfile=" + quoted(password_file) +
                           " --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync")),
        "initdb");
  std::string settings =
      "\nlisten_addresses = '127.0.0.1'\n"
      "port = " +
      std::to_string(port_) +
      "\nunix_socket_directories = ''\n"
      "fsync = off\n"
      "max_connections = 40\n";
  if (!tls.certificate_pem.empty()) {
    writeFile((data_dir_ / "server.crt").string(), tls.certificate_pem);
    writeFile((data_dir_ / "server.key").string(), tls.key_pem);
    ::chmod((data_dir_ / "server.key").c_str(), 0600);
    if (::geteuid() == 0) {
      check(shell("chown " + std::string(kServerUser) + " " +
                  quoted((data_dir_ / "server.crt").string()) + " " +
                  quoted((data_dir_ / "server.key").string())),
            "giving the TLS key to " + std::string(kServerUser));
    }
    settings += "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
  }
  const std::string config = (data_dir_ / "postgresql.conf").string();
  writeFile(config, readFile(config) + settings);
  start();
}

PostgresServer::~PostgresServer() {
  if (running_) {
    shell(
        asServerUser(binary("pg_ctl") + " stop -m immediate -w -D " + quoted(data_dir_.string())));
  }
}

std::string PostgresServer::binary(const std::string& name) const {
  return quoted((bin_dir_ / name).string());
}

std::string PostgresServer::asServerUser(const std::string& command) const {
  if (::geteuid() != 0) {
    return command;
  }
  return "runuser -u " + std::string(kServerUser) + " -- /bin/sh -c " + quoted(command);
}

void PostgresServer::start() {
  const ShellResult started =
      shell(asServerUser(binary("pg_ctl") + " start -w -t 60 -D " + quoted(data_dir_.string()) +
                         " -l " + quoted(log_file_.string())));
  if (started.exit_code != 0) {
    throw std::runtime_error("PostgreSQL did not start: " + started.output + "\n" + serverLog());
  }
  running_ = true;
}

void PostgresServer::stop() {
  check(shell(asServerUser(binary("pg_ctl") + " stop -m fast -w -t 60 -D " +
                           quoted(data_dir_.string()))),
        "pg_ctl stop");
  running_ = false;
}

std::string PostgresServer::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database +
         " user=postgres passfile=" + passfile() + " sslmode=disable";
}

std::string PostgresServer::psql(const std::string& sql, const std::string& database) const {
  const ShellResult result = shell(binary("psql") + " -X -q -A -t -v ON_ERROR_STOP=1 " +
                                   quoted(conninfo(database)) + " -c " + quoted(sql) + " 2>&1");
  check(result, "psql -c " + sql);
  return result.output;
}

void PostgresServer::createDatabase(const std::string& name) const {
  psql("CREATE DATABASE \"" + name + "\"");
}

std::string PostgresServer::serverLog() const {
  std::error_code error;
  return std::filesystem::exists(log_file_, error) ? readFile(log_file_.string()) : "";
}

}  // namespace certbridge::testing
