#pragma once

#include <Poco/Logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/database.h"
#include "web/agent_control.h"
#include "web/client_address.h"
#include "web/connection_gate.h"

namespace certbridge::web {

struct WebSettings {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  std::string admin_password_hash;        // hashPassword(); empty: nobody can log in
  std::string api_token_sha256;           // SHA-256 of a bearer token for scripts; empty: none
  bool public_status = false;             // read-only pages and /metrics without logging in
  std::size_t max_body = 1024 * 1024;     // larger request bodies get 413
  int threads = 8;
  std::chrono::seconds session_timeout{8 * 3600};
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds crl_warning_margin{86400};
  // Peers whose X-Forwarded-For names the client (for the login lockout and the audit log), and
  // which the per-address connection limit leaves alone. Empty: the TCP peer is the client.
  std::vector<AddressRange> trusted_proxies;
  // Request head deadline and connection caps; `threads` above is copied into them.
  ConnectionLimits connection_limits;
};

class WebApp;

// The status and management web page, its JSON API, /healthz and /metrics: Poco's HTTP
// connection handling behind a ConnectionGate, which gives a request thread only to requests
// whose head has arrived in time. Reads storage directly; asks `agent` for everything
// that changes what nginx enforces. Borrows the Database and the AgentControl, which must
// outlive it.
class WebServer {
 public:
  WebServer(WebSettings settings, storage::Database& database, AgentControl& agent,
            Poco::Logger& logger);
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;
  ~WebServer();

  // Binds and starts serving; throws std::runtime_error naming the address when it cannot.
  void start();
  void stop();
  int port() const { return port_; }

 private:
  WebSettings settings_;
  std::shared_ptr<WebApp> app_;
  std::unique_ptr<class PocoServer> server_;
  int port_ = 0;
  Poco::Logger& logger_;
};

}  // namespace certbridge::web
