#include "storage/fleet/fleet_schema.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "storage/fleet/fleet_log.h"
#include "storage/fleet/fleet_nodes.h"
#include "tests/storage/fleet/fleet_fixture.h"
#include "tests/support/shell.h"

namespace certbridge::storage::fleet {
namespace {

// Every table, column, index, constraint and trigger of the certbridge schema, as text to
// compare: equal text, equal schema.
std::string describeSchema(const certbridge::testing::PostgresServer& server,
                           const std::string& database) {
  return server.psql(R"sql(
      SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
             COALESCE(column_default, '')
      FROM information_schema.columns WHERE table_schema = 'certbridge'
      UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'certbridge'
      UNION ALL SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'certbridge'::regnamespace
      UNION ALL SELECT tgrelid::regclass || ' ' || pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'certbridge.%'
      ORDER BY 1)sql",
                     database);
}

TEST_F(FleetTest, InitCreatesTheCurrentVersionAndASecondInitChangesNothing) {
  PostgresConnection connection(conninfo());
  EXPECT_EQ(FleetSchema::version(connection), FleetSchema::kVersion);
  const std::string schema = describeSchema(server(), "fleet");
  EXPECT_EQ(FleetSchema::migrate(connection), FleetSchema::kVersion);
  EXPECT_EQ(describeSchema(server(), "fleet"), schema);
  EXPECT_NO_THROW(FleetSchema::require(connection));
}

TEST_F(FleetTest, UpgradesFromEveryEarlierVersionToTheSchemaOfAFreshInit) {
  const std::string fresh = describeSchema(server(), "fleet");
  ASSERT_NE(fresh, "");
  for (int version = 0; version < FleetSchema::kVersion; ++version) {
    SCOPED_TRACE("from version " + std::to_string(version));
    const std::string name = "fleet_v" + std::to_string(version);
    server().createDatabase(name);
    PostgresConnection connection(server().conninfo(name));
    FleetSchema::migrate(connection, version);
    ASSERT_EQ(FleetSchema::version(connection), version);
    EXPECT_EQ(FleetSchema::migrate(connection), version);
    EXPECT_EQ(FleetSchema::version(connection), FleetSchema::kVersion);
    EXPECT_EQ(describeSchema(server(), name), fresh);
  }
}

TEST_F(FleetTest, TwoInitsAtOnceTakeTurns) {
  server().createDatabase("racing");
  std::vector<std::thread> inits;
  std::atomic<int> failures{0};
  for (int index = 0; index < 2; ++index) {
    inits.emplace_back([&] {
      try {
        PostgresConnection connection(server().conninfo("racing"));
        FleetSchema::migrate(connection);
      } catch (const FleetError&) {
        ++failures;
      }
    });
  }
  for (std::thread& init : inits) {
    init.join();
  }
  EXPECT_EQ(failures, 0);
  PostgresConnection connection(server().conninfo("racing"));
  EXPECT_EQ(FleetSchema::version(connection), FleetSchema::kVersion);
  EXPECT_EQ(describeSchema(server(), "racing"), describeSchema(server(), "fleet"));
}

// A server that takes the TCP connection but never answers (a hung database) does not hang the
// caller: libpq gives up after connect_timeout, 5 s unless the conninfo says otherwise.
TEST(FleetConnection, AServerThatNeverAnswersIsGivenUpOn) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string port = std::to_string(ntohs(address.sin_port));
  const auto started = std::chrono::steady_clock::now();
  try {
    PostgresConnection connection("host=127.0.0.1 port=" + port + " dbname=fleet user=agent");
    FAIL() << "connected to a server that never answered";
  } catch (const FleetError& error) {
    EXPECT_NE(std::string(error.what()).find("timeout"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("port=" + port), std::string::npos) << error.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  ::close(listener);
}

TEST_F(FleetTest, AnAgentIsToldToRunInitOnAnEmptyDatabase) {
  server().createDatabase("empty");
  PostgresConnection connection(server().conninfo("empty"));
  EXPECT_EQ(FleetSchema::version(connection), 0);
  try {
    FleetSchema::require(connection);
    FAIL() << "an empty database was accepted";
  } catch (const FleetError& error) {
    EXPECT_NE(std::string(error.what()).find("certbridge fleet init"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("dbname=empty"), std::string::npos) << error.what();
  }
}

TEST_F(FleetTest, ANewerSchemaIsRefusedAndLeftAsItWas) {
  server().psql("UPDATE certbridge.schema_version SET version = 99", "fleet");
  PostgresConnection connection(conninfo());
  EXPECT_THROW(
      {
        try {
          FleetSchema::migrate(connection);
        } catch (const FleetError& error) {
          EXPECT_NE(std::string(error.what()).find("schema version 99"), std::string::npos);
          throw;
        }
      },
      FleetError);
  EXPECT_THROW(FleetSchema::require(connection), FleetError);
  EXPECT_EQ(FleetSchema::version(connection), 99);
}

TEST_F(FleetTest, ARefusedConnectionNamesHostAndPortButNeverThePassword) {
  const int closed_port = certbridge::testing::freeLoopbackPort();
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(closed_port) +
                               " dbname=fleet user=agent password=hunter2-secret";
  try {
    PostgresConnection connection(conninfo);
    FAIL() << "connected to a closed port";
  } catch (const FleetError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(closed_port)), std::string::npos) << message;
    EXPECT_NE(message.find("refused"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

TEST_F(FleetTest, AWrongPasswordIsAClearErrorWithoutThePassword) {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(server().port()) +
                               " dbname=fleet user=postgres password=hunter2-secret";
  try {
    PostgresConnection connection(conninfo);
    FAIL() << "a wrong password was accepted";
  } catch (const FleetError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
}

TEST_F(FleetTest, AnUnparsableConninfoIsRefusedWithoutQuotingIt) {
  try {
    PostgresConnection connection("host=127.0.0.1 password hunter2-secret");
    FAIL() << "a malformed conninfo was accepted";
  } catch (const FleetError& error) {
    EXPECT_NE(std::string(error.what()).find("[fleet] postgres"), std::string::npos);
    EXPECT_EQ(std::string(error.what()).find("hunter2"), std::string::npos) << error.what();
  }
}

TEST_F(FleetTest, AUriWithThePasswordInPGPASSFILEConnects) {
  ASSERT_EQ(::setenv("PGPASSFILE", server().passfile().c_str(), 1), 0);
  PostgresConnection connection("postgresql://postgres@127.0.0.1:" +
                                std::to_string(server().port()) + "/fleet?sslmode=disable");
  ::unsetenv("PGPASSFILE");
  EXPECT_EQ(FleetSchema::version(connection), FleetSchema::kVersion);
  EXPECT_EQ(connection.name().find("password"), std::string::npos);
  EXPECT_NE(connection.name().find("port=" + std::to_string(server().port())), std::string::npos);
}

// The role SQL the README shows: an agent can do its whole job with it, and cannot rewrite
// history or the schema.
TEST_F(FleetTest, TheLeastPrivilegeRoleDoesAnAgentsJobAndNoMore) {
  server().psql(certbridge::testing::readFile(certbridge::testing::sourceDir() +
                                              "/storage/fleet/agent_role.sql"),
                "fleet");
  server().psql("ALTER ROLE certbridge_agent PASSWORD 'agent-secret'");
  certbridge::testing::writeFile(server().passfile(),
                                 certbridge::testing::readFile(server().passfile()) +
                                     "127.0.0.1:*:*:certbridge_agent:agent-secret\n");
  const std::string agent_conninfo = "host=127.0.0.1 port=" + std::to_string(server().port()) +
                                     " dbname=fleet user=certbridge_agent sslmode=disable " +
                                     "passfile=" + server().passfile();
  PostgresConnection connection(agent_conninfo);
  EXPECT_NO_THROW(FleetSchema::require(connection));
  FleetLog log(connection);
  const FleetEvent approved =
      log.appendDecision(FleetEventKind::approve, std::string(64, 'a'), "alice", "a", "::1");
  EXPECT_NO_THROW(log.appendUndo(approved.id, "alice", "a", "::1"));
  EXPECT_EQ(log.readAfter(0, 10).size(), 2U);
  FleetNodes nodes(connection);
  EXPECT_NO_THROW(nodes.heartbeat({.node = "a", .applied_event_id = approved.id}));
  EXPECT_NO_THROW(nodes.heartbeat({.node = "a", .applied_event_id = approved.id + 1}));
  EXPECT_NO_THROW(nodes.replaceInventory(
      "a", {{std::string(64, 'b'), "CN=b", "CN=ca", "client", "trusted", "main/b", 2000000000}}));
  EXPECT_NO_THROW(nodes.replaceInventory("a", {}));

  EXPECT_THROW(connection.execute("UPDATE certbridge.events SET actor = 'mallory'"), FleetError);
  EXPECT_THROW(connection.execute("DELETE FROM certbridge.events"), FleetError);
  EXPECT_THROW(connection.execute("CREATE TABLE certbridge.extra (x int)"), FleetError);
  EXPECT_THROW(connection.execute("ALTER TABLE certbridge.nodes ADD COLUMN x int"), FleetError);
  // Not even the owner rewrites the log.
  EXPECT_THROW(server().psql("DELETE FROM certbridge.events", "fleet"), std::runtime_error);
  EXPECT_THROW(server().psql("UPDATE certbridge.events SET actor = 'x'", "fleet"),
               std::runtime_error);
  EXPECT_THROW(server().psql("TRUNCATE certbridge.events CASCADE", "fleet"), std::runtime_error);
  EXPECT_EQ(server().psql("SELECT count(*) FROM certbridge.events", "fleet"), "2\n");
}

}  // namespace
}  // namespace certbridge::storage::fleet

namespace certbridge::storage::fleet {
namespace {

using certbridge::testing::TestCertificate;

// sslmode=verify-full against a server whose certificate a test CA issued for "localhost": the
// connection is encrypted and the server proven; another CA, or another host name, is refused
// with libpq's reason.
TEST(FleetTls, VerifyFullConnectsToTheRightServerAndRefusesAnyOther) {
  // No EKU on the CA: OpenSSL holds a CA's EKU against the purpose of what it issues.
  const TestCertificate ca = TestCertificate::issue(
      {.common_name = "Fleet test CA", .ca = true, .extended_key_usage = ""}, nullptr);
  const TestCertificate other_ca =
      TestCertificate::issue({.common_name = "Another CA", .ca = true}, nullptr);
  const TestCertificate server_certificate =
      TestCertificate::issue({.common_name = "localhost", .extended_key_usage = "serverAuth"}, &ca);
  certbridge::testing::PostgresServer server(
      {.certificate_pem = server_certificate.pem(), .key_pem = server_certificate.keyPem()});
  const std::string ca_file = server.directory().file("ca.pem");
  const std::string other_ca_file = server.directory().file("other-ca.pem");
  certbridge::testing::writeFile(ca_file, ca.pem());
  certbridge::testing::writeFile(other_ca_file, other_ca.pem());
  const auto conninfo = [&](const std::string& host, const std::string& root) {
    return "host=" + host + " hostaddr=127.0.0.1 port=" + std::to_string(server.port()) +
           " dbname=postgres user=postgres passfile=" + server.passfile() +
           " sslmode=verify-full sslrootcert=" + root;
  };

  PostgresConnection connection(conninfo("localhost", ca_file));
  EXPECT_EQ(connection.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").text(0, 0),
            "t");
  EXPECT_NO_THROW(FleetSchema::migrate(connection));

  try {
    PostgresConnection refused(conninfo("localhost", other_ca_file));
    FAIL() << "a server certificate from another CA was accepted";
  } catch (const FleetError& error) {
    EXPECT_NE(std::string(error.what()).find("certificate verify failed"), std::string::npos)
        << error.what();
  }
  try {
    PostgresConnection refused(conninfo("edge.invalid", ca_file));
    FAIL() << "a server certificate for another host name was accepted";
  } catch (const FleetError& error) {
    EXPECT_NE(std::string(error.what()).find("does not match host name"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace certbridge::storage::fleet
