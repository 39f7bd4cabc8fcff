#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "web/client_address.h"
#include "web/connection_gate.h"

namespace certbridge::web {

// What the web server is told to do: filled by agent/config from the [web] section. Apart from
// the server, so that the configuration needs the web's settings and nothing else of it.
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

}  // namespace certbridge::web
