#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/pki/certificate.h"
#include "storage/fleet/fleet_schema.h"
#include "storage/fleet/postgres.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_pki.h"

namespace certbridge::storage::fleet {

// A real PostgreSQL with database "fleet" initialised to the current schema.
class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<certbridge::testing::PostgresServer>();
    server_->createDatabase("fleet");
    PostgresConnection connection(conninfo());
    FleetSchema::migrate(connection);
  }

  std::string conninfo() const { return server_->conninfo("fleet"); }
  certbridge::testing::PostgresServer& server() { return *server_; }

 private:
  std::unique_ptr<certbridge::testing::PostgresServer> server_;
};

// What the agent does with an uploaded certificate's bytes, for the applier.
inline CertificateRecord decodeCertificate(std::span<const unsigned char> der) {
  return agent::Certificate::fromDer(der, "fleet upload").record();
}

inline certbridge::testing::TestCertificate clientCertificate(
    const std::string& name, const certbridge::testing::TestCertificate& ca) {
  return certbridge::testing::TestCertificate::issue({.common_name = name}, &ca);
}

}  // namespace certbridge::storage::fleet
