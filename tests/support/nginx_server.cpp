#include "tests/support/nginx_server.h"

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::testing {

NginxServer::NginxServer(std::filesystem::path prefix, std::string server_certificate,
                         std::string server_key, std::string certbridge_dir, int backend_port)
    : prefix_(std::move(prefix)), port_(freeLoopbackPort()) {
  const std::string backend_location =
      backend_port == 0 ? ""
                        : "    location /backend/ {\n      include " + certbridge_dir +
                              "/mtls-proxy.conf;\n      proxy_pass http://127.0.0.1:" +
                              std::to_string(backend_port) + ";\n    }\n";
  std::filesystem::create_directories(prefix_ / "conf");
  std::filesystem::create_directories(prefix_ / "logs");
  writeFile(configFile(), "pid " + pidFile() + ";\n" + "error_log " + errorLog() +
                              " info;\n"
                              "worker_processes 1;\n"
                              "events { worker_connections 128; }\n"
                              "http {\n"
                              "  access_log off;\n"
                              "  include " +
                              certbridge_dir +
                              "/clients.map;\n"
                              "  server {\n"
                              "    listen 127.0.0.1:" +
                              std::to_string(port_) +
                              " ssl;\n"
                              "    ssl_certificate " +
                              server_certificate +
                              ";\n"
                              "    ssl_certificate_key " +
                              server_key +
                              ";\n"
                              "    include " +
                              certbridge_dir +
                              "/mtls.conf;\n"
                              "    location / { return 200 \"hello $ssl_client_s_dn\\n\"; }\n" +
                              backend_location +
                              "  }\n"
                              "}\n");
}

NginxServer::~NginxServer() {
  stop();
}

std::string NginxServer::nginxArguments() const {
  return "-p " + quoted(prefix_.string()) + " -c " + quoted(configFile()) + " -e " +
         quoted(errorLog());
}

std::string NginxServer::testCommand() const {
  return "nginx " + nginxArguments() + " -t";
}

std::string NginxServer::reloadCommand() const {
  return "nginx " + nginxArguments() + " -s reload";
}

void NginxServer::start() {
  const ShellResult started = shell("nginx " + nginxArguments());
  if (started.exit_code != 0) {
    throw std::runtime_error("nginx did not start: " + started.output);
  }
  running_ = true;
  for (int attempt = 0; attempt < 100; ++attempt) {
    // curl's exit code 7: nothing listens yet.
    const ShellResult probe = shell(
        "curl -sk -o /dev/null --max-time 1 https://127.0.0.1:" + std::to_string(port_) + "/");
    if (probe.exit_code != 7) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("nginx does not accept connections on port " + std::to_string(port_));
}

void NginxServer::stop() {
  if (running_) {
    shell("nginx " + nginxArguments() + " -s stop");
    running_ = false;
  }
}

std::string NginxServer::bodyFor(const std::string& path, const std::string& certificate,
                                 const std::string& key, const std::string& server_ca,
                                 const std::string& curl_arguments) const {
  return shell("curl -s --max-time 5 --cacert " + quoted(server_ca) + " --cert " +
               quoted(certificate) + " --key " + quoted(key) + " " + curl_arguments +
               " https://127.0.0.1:" + std::to_string(port_) + path)
      .output;
}

int NginxServer::statusFor(const std::string& certificate, const std::string& key,
                           const std::string& server_ca) const {
  std::string command =
      "curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert " + quoted(server_ca);
  if (!certificate.empty()) {
    command += " --cert " + quoted(certificate) + " --key " + quoted(key);
  }
  command += " https://127.0.0.1:" + std::to_string(port_) + "/";
  const ShellResult result = shell(command);
  try {
    return std::stoi(result.output);
  } catch (const std::exception&) {
    return 0;
  }
}

int NginxServer::waitForStatus(int expected, const std::string& certificate, const std::string& key,
                               const std::string& server_ca) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int status = 0;
  do {
    status = statusFor(certificate, key, server_ca);
    if (status == expected) {
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return status;
}

}  // namespace certbridge::testing
