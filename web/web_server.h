#pragma once

#include <Poco/Logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/database.h"
#include "web/agent_control.h"
#include "web/web_settings.h"

namespace certbridge::web {

class WebApp;

// The status and management web page, its JSON API, /healthz and /metrics: Poco's HTTP
// connection handling behind a ConnectionGate, which gives a request thread only to requests
// whose head has arrived in time. Reads the audit log and records trust decisions in storage
// itself; asks `agent` for the status snapshot (the trust as nginx is told it) and for everything
// that changes what nginx enforces. Borrows the Database and the AgentControl, which must outlive
// it.
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
