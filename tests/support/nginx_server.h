#pragma once

#include <filesystem>
#include <string>

namespace certbridge::testing {

// A real nginx serving HTTPS on a free 127.0.0.1 port from a temporary prefix, including the
// files certbridge writes (clients.map at http level, mtls.conf in the server). Started by
// start(), stopped by the destructor.
class NginxServer {
 public:
  // With `backend_port`, location /backend/ includes mtls-proxy.conf and proxies to
  // 127.0.0.1:backend_port.
  NginxServer(std::filesystem::path prefix, std::string server_certificate, std::string server_key,
              std::string certbridge_dir, int backend_port = 0);
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;
  ~NginxServer();

  // Starts nginx and waits until it accepts connections; throws with nginx's output if not.
  void start();
  void stop();

  int port() const { return port_; }
  std::string configFile() const { return (prefix_ / "conf/nginx.conf").string(); }
  std::string pidFile() const { return (prefix_ / "logs/nginx.pid").string(); }
  std::string errorLog() const { return (prefix_ / "logs/error.log").string(); }
  // What certbridge's [nginx] test_command / reload_command are for this instance.
  std::string testCommand() const;
  std::string reloadCommand() const;

  // The body nginx answers to GET `path` over TLS with the given client certificate and extra
  // curl arguments (e.g. -H 'Name: value').
  std::string bodyFor(const std::string& path, const std::string& certificate,
                      const std::string& key, const std::string& server_ca,
                      const std::string& curl_arguments = "") const;
  // HTTP status of GET / over TLS with the given client certificate (none when empty); 0 when
  // the TLS handshake or connection failed.
  int statusFor(const std::string& certificate, const std::string& key,
                const std::string& server_ca) const;
  // Polls statusFor until it returns `expected` or 15 s pass; returns the last status seen.
  // Reloads are asynchronous in nginx, so a test waits for the new workers.
  int waitForStatus(int expected, const std::string& certificate, const std::string& key,
                    const std::string& server_ca) const;

 private:
  std::string nginxArguments() const;

  std::filesystem::path prefix_;
  int port_;
  bool running_ = false;
};

}  // namespace certbridge::testing
