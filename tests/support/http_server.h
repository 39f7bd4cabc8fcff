#pragma once

#include <Poco/Net/HTTPServer.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace certbridge::testing {

struct HttpReply {
  int status = 200;
  std::vector<unsigned char> body;
  std::map<std::string, std::string> headers;
  std::chrono::milliseconds delay{0};  // before answering, to provoke read timeouts
  bool echo_headers = false;  // answer with the request's headers, one "Name: value" per line
};

// A real HTTP server on 127.0.0.1 (ephemeral port) in the test process, answering each path with
// what the test put there; unknown paths get 404. Counts requests per path.
class TestHttpServer {
 public:
  TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;
  ~TestHttpServer();

  int port() const { return port_; }
  std::string url(const std::string& path) const;

  void set(const std::string& path, HttpReply reply);
  // Computes the reply at request time (e.g. a fresh CRL each time).
  void set(const std::string& path, std::function<HttpReply()> reply);
  int requests(const std::string& path) const;

  // Used by the request handler.
  HttpReply replyFor(const std::string& path);
  // Sleeps for `delay`, or less when the server is being destroyed.
  void pause(std::chrono::milliseconds delay) const;
  std::atomic<int>& activeHandlers() { return active_handlers_; }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::function<HttpReply()>> replies_;
  std::map<std::string, int> requests_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_handlers_{0};
};

}  // namespace certbridge::testing
