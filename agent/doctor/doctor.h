#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace certbridge::agent {

enum class CheckStatus { pass, warn, fail };

// One diagnosis: `id` is stable (scripts match on it), `message` says what was found (file, line,
// certificate), `fix` what to do about it (empty when nothing needs doing).
struct CheckResult {
  std::string id;
  CheckStatus status = CheckStatus::pass;
  std::string message;
  std::string fix;
};

// The checks of one nginx server {} that verifies client certificates.
struct ServerDiagnosis {
  std::string listen;       // its listen addresses, comma-separated
  std::string server_name;  // its server names, space-separated
  std::string where;        // file:line of the server block
  std::vector<CheckResult> checks;
};

struct DoctorReport {
  std::vector<CheckResult> checks;  // about nginx as a whole, and translated nginx -T failures
  std::vector<ServerDiagnosis> servers;
  bool failed() const;
};

struct DoctorOptions {
  std::string dump_command = "nginx -T";
  std::string working_directory;             // where dump_command runs
  std::chrono::seconds command_timeout{30};  // [nginx] command_timeout for dump_command
  std::optional<std::string> endpoint;       // HOST:PORT for the live handshake checks
  std::string server_name;                   // SNI and Host for the endpoint; empty: the host
  std::string client_certificate;            // files for endpoint_client; both or neither
  std::string client_key;
  std::int64_t now = 0;
  std::chrono::seconds expiry_margin{30 * 86400};  // certificates
  std::chrono::seconds crl_margin{86400};          // CRLs: [crl] warning_margin
  std::chrono::seconds timeout{10};
};

// Reads nginx's effective configuration with `dump_command` and checks every server that
// verifies client certificates, then (with an endpoint) what the running nginx really does.
DoctorReport diagnose(const DoctorOptions& options);

void writeDoctorText(const DoctorReport& report, std::ostream& out);
void writeDoctorJson(const DoctorReport& report, std::ostream& out);

}  // namespace certbridge::agent
