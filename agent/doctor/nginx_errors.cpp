#include "agent/doctor/doctor_internal.h"

namespace certbridge::agent::doctor_internal {

CheckResult translateNginxError(const std::string& line) {
  const bool file_problem = line.find("No such file") != std::string::npos ||
                            line.find("Permission denied") != std::string::npos ||
                            line.find("system lib") != std::string::npos;
  if (line.find("no ssl_client_certificate for ssl_verify_client") != std::string::npos) {
    return check("client_ca_configured", CheckStatus::fail,
                 "nginx refuses the configuration: " + line,
                 "add ssl_client_certificate with the CA bundle beside ssl_verify_client "
                 "(ssl_trusted_certificate does not advertise CA names); certbridge's mtls.conf "
                 "sets both");
  }
  const bool bundle = line.find("SSL_CTX_load_verify_locations") != std::string::npos ||
                      line.find("SSL_load_client_CA_file") != std::string::npos ||
                      line.find("X509_LOOKUP_load_file") != std::string::npos ||
                      line.find("X509_STORE_add_crl") != std::string::npos ||
                      line.find("cannot load certificate") != std::string::npos;
  if (bundle && file_problem) {
    return check("bundle_readable", CheckStatus::fail, "nginx cannot open a file: " + line,
                 "create the file named, or correct the path, or let the user nginx starts as "
                 "read it (chmod 0644: it holds only public certificates)");
  }
  if (bundle) {
    return check("bundle_parses", CheckStatus::fail,
                 "nginx cannot load a certificate or CRL file: " + line,
                 "the file must hold PEM certificates (ssl_client_certificate, "
                 "ssl_trusted_certificate, ssl_certificate) or PEM CRLs (ssl_crl) only");
  }
  return check("nginx_config", CheckStatus::fail, "nginx refuses the configuration: " + line,
               "correct the configuration as nginx says, then nginx -t");
}

std::vector<CheckResult> translateDumpFailure(const CommandResult& result,
                                              const std::string& command) {
  std::vector<CheckResult> checks;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[emerg]") != std::string::npos) {
      checks.push_back(translateNginxError(line.substr(line.find("[emerg]"))));
    }
  }
  if (checks.empty()) {
    checks.push_back(
        check("nginx_config", CheckStatus::fail,
              "'" + command + "' " +
                  (result.timed_out ? std::string("did not finish")
                                    : "failed (exit " + std::to_string(result.exit_code) + ")") +
                  ": " + result.output,
              "set [nginx] dump_command to the command that prints nginx's "
              "configuration (nginx -T, with -p/-c as nginx is started)"));
  }
  return checks;
}

// --- where nginx keeps its pid and log ---------------------------------------------------------

}  // namespace certbridge::agent::doctor_internal
