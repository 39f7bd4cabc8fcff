#include "agent/doctor/doctor_internal.h"

namespace certbridge::agent::doctor_internal {

std::string nginxPrefix(const std::string& dump_command) {
  const std::vector<std::string> arguments = splitCommandLine(dump_command);
  for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
    if (arguments[i] == "-p") {
      return arguments[i + 1];
    }
  }
  return kDefaultNginxPrefix;
}

std::string prefixed(const std::string& prefix, const std::string& path) {
  return path.starts_with("/") ? path : (std::filesystem::path(prefix) / path).string();
}

MasterProcess findMaster(const NginxConfig& config, const std::string& prefix) {
  const NginxDirective* pid_directive = config.root.find("pid");
  const std::string pid_file = pid_directive != nullptr && !pid_directive->arguments.empty()
                                   ? prefixed(prefix, pid_directive->arguments.front())
                                   : kDefaultPidFile;
  std::ifstream stream(pid_file);
  long pid = 0;
  if (stream >> pid && pid > 0) {
    if (auto account = platform::accountOfProcess(pid)) {
      const std::string how = "nginx's master process (user " + account->name + ", pid " +
                              std::to_string(pid) + " from " + pid_file + ")";
      return {std::move(account), how};
    }
  }
  platform::Account self = platform::currentAccount();
  const std::string how = "the user nginx will start as (assumed " + self.name +
                          ", the user running doctor: nginx is not running, no live pid in " +
                          pid_file + ")";
  return {std::move(self), how};
}

std::string errorLogPath(const NginxConfig& config, const ServerContext* context,
                         const std::string& prefix) {
  const NginxDirective* directive = nullptr;
  if (context != nullptr) {
    directive = context->setting("error_log");
  }
  if (directive == nullptr) {
    directive = config.root.find("error_log");
  }
  const std::string path = directive != nullptr && !directive->arguments.empty()
                               ? directive->arguments.front()
                               : "logs/error.log";
  if (path == "stderr" || path.find(':') != std::string::npos) {
    return "";
  }
  return prefixed(prefix, path);
}

std::uintmax_t fileSize(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

// The last line nginx logged about a client certificate or TLS since `offset`.
std::string nginxReason(const std::string& error_log, std::uintmax_t offset) {
  std::ifstream stream(error_log, std::ios::binary);
  stream.seekg(static_cast<std::streamoff>(offset));
  std::string reason;
  for (std::string line; std::getline(stream, line);) {
    if (line.find("certificate") != std::string::npos || line.find("SSL") != std::string::npos) {
      const std::size_t start = line.find(": *");
      reason = start == std::string::npos ? line : line.substr(line.find(' ', start + 3) + 1);
    }
  }
  return reason;
}

// --- the live endpoint -------------------------------------------------------------------------

}  // namespace certbridge::agent::doctor_internal
