#pragma once

#include <Poco/Logger.h>
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "web/client_address.h"

namespace certbridge::web {

// The bounds a connection meets before a request thread sees it.
struct ConnectionLimits {
  // The whole request head (request line and headers) must arrive within this time of the
  // connection being accepted, or of the previous response on a kept-alive connection; else
  // 408 (or, when nothing at all was sent, the connection is closed without a word).
  std::chrono::milliseconds head_timeout{10000};
  // A longer head gets 431. A request (head and Content-Length body) that fits in this size
  // must arrive whole within `head_timeout` before a request thread takes it.
  std::size_t max_head_bytes = 32 * 1024;
  // Open connections (waiting for their head, queued or being served) per client address;
  // trusted proxies are exempt. Beyond it, and beyond `max_connections` in all, 503.
  std::size_t max_per_address = 128;
  std::size_t max_connections = 512;
  // Complete requests waiting for a free request thread; beyond it, 503.
  std::size_t max_queued = 64;
  int threads = 8;
};

// Accepts connections and holds each one, in a single thread that only polls and peeks, until
// its whole request head has arrived; only then does a request thread take it and run `serve`
// for one request (which reads it as if nothing had happened: the head is peeked, never
// consumed). When `serve` returns true the connection comes back here to wait for its next
// request (keep-alive). So a client that sends a head slowly, or never, occupies a poll slot
// for at most `head_timeout`, and never a request thread: /healthz keeps answering while slow
// clients wait. The request body and the response are bounded by the HTTP layer's per-read
// timeout, not here.
//
// Owns its threads; stop() (also run by the destructor) closes waiting connections, shuts down
// the ones being served, and joins every thread. Thread-safe.
class ConnectionGate {
 public:
  // Serves one request whose head has arrived; true: keep the connection for another.
  using Serve = std::function<bool(const Poco::Net::StreamSocket&)>;

  ConnectionGate(const Poco::Net::ServerSocket& socket, ConnectionLimits limits,
                 std::vector<AddressRange> exempt_from_address_limit, Serve serve,
                 Poco::Logger& logger);
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;
  ~ConnectionGate();

  void start();
  void stop();

 private:
  struct Waiting {
    Poco::Net::StreamSocket socket;
    std::string address;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point quiet_until;  // no new bytes at the last look
    bool sent_anything = false;
  };
  struct Ready {
    Poco::Net::StreamSocket socket;
    std::string address;
  };

  void wakeAcceptor();

  void acceptLoop();
  void acceptOne();
  // True when the connection is finished with here (handed over or closed).
  bool look(Waiting& waiting, std::vector<char>& buffer);
  void handOver(Waiting& waiting);
  void refuse(Poco::Net::StreamSocket& socket, const char* status_line, std::size_t pending_bytes);
  void release(const std::string& address);
  void serveLoop();

  Poco::Net::ServerSocket listening_;
  ConnectionLimits limits_;
  std::vector<AddressRange> exempt_;
  Serve serve_;
  Poco::Logger& logger_;
  // A request thread that hands a kept-alive connection back wakes the poll through these.
  Poco::Net::DatagramSocket wake_receiver_;
  Poco::Net::DatagramSocket wake_sender_;

  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  std::vector<Waiting> waiting_;  // acceptor thread only, as the two below
  std::size_t refused_unlogged_ = 0;
  std::chrono::steady_clock::time_point last_refusal_logged_;

  std::mutex mutex_;  // guards everything below
  std::condition_variable ready_changed_;
  std::deque<Ready> ready_;     // head complete, waiting for a request thread
  std::deque<Ready> returned_;  // served and kept alive, for the acceptor to wait on again
  std::vector<Poco::Net::StreamSocket> serving_;
  std::map<std::string, std::size_t> open_by_address_;
  std::size_t open_ = 0;
};

}  // namespace certbridge::web
