#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/nginx_server.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::testing {

// A whole mTLS edge in a temporary folder: the demo PKI in an NSS database (scripts/demo-pki),
// a certbridge configuration, and a real nginx on a free loopback port that includes the files
// certbridge writes. Tests drive the real certbridge binary against it.
class MtlsEdge : public ::testing::Test {
 protected:
  void SetUp() override;

  std::string pki(const std::string& file) const { return (root_.path() / "pki" / file).string(); }
  std::string out(const std::string& file) const { return (root_.path() / "out" / file).string(); }
  std::string nssdb() const { return pki("nssdb"); }
  std::string configFile() const { return root_.file("certbridge.ini"); }
  std::string database() const { return root_.file("certbridge.db"); }

  // Writes the configuration; `extra` is appended verbatim (more sections or keys).
  void writeConfig(const std::string& nginx_reload_line, const std::string& policy = "auto",
                   const std::string& extra = "");
  // Runs the certbridge binary with this edge's configuration.
  ShellResult certbridge(const std::string& arguments) const;
  // A demo certificate's fingerprint ("sha256" or "sha1"), lower-case hex, as certbridge and
  // nginx's $ssl_client_fingerprint write it.
  std::string fingerprint(const std::string& name, const std::string& digest = "sha256") const;
  // Runs `scripts/demo-pki COMMAND PKI-FOLDER ARGUMENTS`.
  ShellResult demoPki(const std::string& command, const std::string& arguments = "") const;

  // The first sync (nginx needs the files to start), then nginx itself.
  void publishAndStartNginx();

  // Polls until nginx answers `expected` to this client (by file name in the PKI, "" for none).
  int waitForStatus(int expected, const std::string& client) const;
  int statusFor(const std::string& client) const;

  TempDir root_;
  std::unique_ptr<NginxServer> nginx_;
};

}  // namespace certbridge::testing
