#include "agent/doctor/doctor_internal.h"

namespace certbridge::agent {

using namespace doctor_internal;

bool DoctorReport::failed() const {
  const auto fails = [](const std::vector<CheckResult>& list) {
    return std::any_of(list.begin(), list.end(), [](const CheckResult& result) {
      return result.status == CheckStatus::fail;
    });
  };
  return fails(checks) || std::any_of(servers.begin(), servers.end(),
                                      [&](const ServerDiagnosis& s) { return fails(s.checks); });
}

DoctorReport diagnose(const DoctorOptions& options) {
  DoctorReport report;
  std::optional<Endpoint> endpoint;
  if (options.endpoint) {
    endpoint = parseEndpoint(*options.endpoint);
  }
  CommandResult dump;
  try {
    dump = runCommand(options.dump_command, options.working_directory, options.command_timeout);
  } catch (const std::exception& error) {
    dump.exit_code = -1;
    dump.output = error.what();
  }
  std::optional<NginxConfig> config;
  if (dump.exit_code != 0) {
    report.checks = translateDumpFailure(dump, options.dump_command);
  } else {
    try {
      config = parseNginxDump(dump.output);
    } catch (const NginxConfigError& error) {
      report.checks.push_back(
          check("nginx_config", CheckStatus::fail,
                "cannot read the output of '" + options.dump_command + "': " + error.what()));
    }
  }

  std::vector<ServerContext> contexts;
  const std::string prefix = nginxPrefix(options.dump_command);
  if (config) {
    for (const NginxDirective& http : config->root.children) {
      if (http.name != "http") {
        continue;
      }
      for (const NginxDirective& server : http.children) {
        if (server.name == "server") {
          contexts.push_back(ServerContext{*config, http, server});
        }
      }
    }
    const MasterProcess master = findMaster(*config, prefix);
    std::optional<platform::Account> worker;
    if (master.account && master.account->superuser()) {
      const NginxDirective* user = config->root.find("user");
      worker = platform::accountNamed(
          user != nullptr && !user->arguments.empty() ? user->arguments.front() : "nobody");
    }
    std::vector<ServerContext> verifying;
    for (const ServerContext& context : contexts) {
      if (auto diagnosis = diagnoseServer(context, options, master.account, master.how, worker)) {
        report.servers.push_back(std::move(*diagnosis));
        verifying.push_back(context);
      }
    }
    contexts = std::move(verifying);
    if (report.servers.empty()) {
      report.checks.push_back(check("client_ca_configured", CheckStatus::warn,
                                    "no server {} in " + config->main_file +
                                        " sets ssl_verify_client: nginx asks no client for a "
                                        "certificate",
                                    "include certbridge's mtls.conf in the server {} that "
                                    "requires client certificates"));
    }
  }

  if (endpoint) {
    const std::string endpoint_text = *options.endpoint;
    const ServerContext* context =
        config ? serverFor(contexts, endpoint->port, options.server_name) : nullptr;
    std::vector<CheckResult>* target = &report.checks;
    std::optional<BundleFile> ca_file;
    if (context != nullptr) {
      const std::size_t index = static_cast<std::size_t>(context - contexts.data());
      target = &report.servers[index].checks;
      if (const NginxDirective* directive = context->setting("ssl_client_certificate")) {
        ca_file = readBundle(context->config, *directive);
      }
    }
    TlsProbeRequest request{.host = endpoint->host,
                            .port = endpoint->port,
                            .server_name = options.server_name,
                            .client_certificate = "",
                            .client_key = "",
                            .timeout = options.timeout};
    target->push_back(
        endpointCaNames(probeTls(request), endpoint_text, ca_file ? &*ca_file : nullptr));
    if (!options.client_certificate.empty()) {
      const std::string error_log = config ? errorLogPath(*config, context, prefix) : "";
      const std::uintmax_t offset = error_log.empty() ? 0 : fileSize(error_log);
      request.client_certificate = options.client_certificate;
      request.client_key = options.client_key;
      const TlsProbeResult probe = probeTls(request);
      // nginx writes its log line as it answers; give it a moment to reach the file.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const std::string reason = error_log.empty() ? "" : nginxReason(error_log, offset);
      const bool log_readable = !error_log.empty() && std::ifstream(error_log).good();
      target->push_back(endpointClient(probe, endpoint_text, options.client_certificate, reason,
                                       log_readable ? error_log : ""));
    }
  }
  return report;
}

void writeDoctorText(const DoctorReport& report, std::ostream& out) {
  const auto writeChecks = [&](const std::vector<CheckResult>& checks) {
    for (const CheckResult& result : checks) {
      std::string word = statusWord(result.status);
      std::transform(word.begin(), word.end(), word.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      out << "  " << word << "  " << result.id << ": " << result.message << "\n";
      if (!result.fix.empty() && result.status != CheckStatus::pass) {
        out << "        fix: " << result.fix << "\n";
      }
    }
  };
  if (!report.checks.empty()) {
    out << "nginx\n";
    writeChecks(report.checks);
  }
  for (const ServerDiagnosis& server : report.servers) {
    out << "server " << (server.server_name.empty() ? "(no server_name)" : server.server_name)
        << " listening on " << server.listen << " (" << server.where << ")\n";
    writeChecks(server.checks);
  }
  std::size_t counts[3] = {0, 0, 0};
  const auto count = [&](const std::vector<CheckResult>& checks) {
    for (const CheckResult& result : checks) {
      ++counts[static_cast<int>(result.status)];
    }
  };
  count(report.checks);
  for (const ServerDiagnosis& server : report.servers) {
    count(server.checks);
  }
  out << counts[0] << " passed, " << counts[1] << " warning(s), " << counts[2] << " failed\n";
}

void writeDoctorJson(const DoctorReport& report, std::ostream& out) {
  const auto toJson = [](const std::vector<CheckResult>& checks) {
    Poco::JSON::Array list;
    for (const CheckResult& result : checks) {
      Poco::JSON::Object entry(Poco::JSON_PRESERVE_KEY_ORDER);
      entry.set("id", result.id);
      entry.set("status", statusWord(result.status));
      entry.set("message", result.message);
      entry.set("fix", result.fix);
      list.add(entry);
    }
    return list;
  };
  Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
  root.set("checks", toJson(report.checks));
  Poco::JSON::Array servers;
  for (const ServerDiagnosis& server : report.servers) {
    Poco::JSON::Object entry(Poco::JSON_PRESERVE_KEY_ORDER);
    entry.set("listen", server.listen);
    entry.set("server_name", server.server_name);
    entry.set("where", server.where);
    entry.set("checks", toJson(server.checks));
    servers.add(entry);
  }
  root.set("servers", servers);
  root.stringify(out, 2);
  out << "\n";
}

}  // namespace certbridge::agent
