#include "web/connection_gate.h"

#include <Poco/Net/NetException.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace certbridge::web {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long a waiting connection that sent nothing new is left out of the poll: the poll is
// level-triggered, and the peeked bytes stay readable until Poco reads them.
constexpr auto kQuietPause = 20ms;
// The longest the acceptor sleeps in one poll, so that stop() is noticed.
constexpr auto kPollSlice = 200ms;
constexpr auto kRefusalLogInterval = 10s;

// Whether a request thread may take the connection: its head has arrived and, when the whole
// request fits in `window` bytes with a Content-Length body, its body too. Larger bodies,
// chunked ones and those the client sends only after "100 Continue" go to the request thread
// with the head alone.
bool requestReady(std::string_view peeked, std::size_t window) {
  std::size_t head_end = peeked.find("\r\n\r\n");
  std::size_t separator = 4;
  if (const std::size_t bare = peeked.find("\n\n"); bare < head_end) {
    head_end = bare;
    separator = 2;
  }
  if (head_end == std::string_view::npos) {
    return false;
  }
  std::string head(peeked.substr(0, head_end));
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (head.find("\nexpect:") != std::string::npos) {
    return true;
  }
  const std::size_t field = head.find("\ncontent-length:");
  if (field == std::string::npos) {
    return true;
  }
  const std::size_t digits = head.find_first_not_of(" \t", field + 16);
  const std::size_t digits_end =
      std::min(head.find_first_not_of("0123456789", digits), head.size());
  if (digits == std::string::npos || digits_end == digits || digits_end - digits > 9) {
    return true;  // not a length certbridge would wait for; the HTTP layer judges it
  }
  const std::size_t body = std::stoul(head.substr(digits, digits_end - digits));
  const std::size_t whole = head_end + separator + body;
  return whole > window || peeked.size() >= whole;
}

}  // namespace

ConnectionGate::ConnectionGate(const Poco::Net::ServerSocket& socket, ConnectionLimits limits,
                               std::vector<AddressRange> exempt_from_address_limit, Serve serve,
                               Poco::Logger& logger)
    : listening_(socket),
      limits_(limits),
      exempt_(std::move(exempt_from_address_limit)),
      serve_(std::move(serve)),
      logger_(logger),
      wake_receiver_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
  wake_sender_.connect(wake_receiver_.address());
}

ConnectionGate::~ConnectionGate() {
  stop();
}

void ConnectionGate::start() {
  acceptor_ = std::thread([this] { acceptLoop(); });
  for (int i = 0; i < std::max(1, limits_.threads); ++i) {
    workers_.emplace_back([this] { serveLoop(); });
  }
}

void ConnectionGate::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  wakeAcceptor();
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  for (Waiting& waiting : waiting_) {
    waiting.socket.close();
  }
  waiting_.clear();
  {
    const std::lock_guard lock(mutex_);
    for (std::deque<Ready>* queue : {&ready_, &returned_}) {
      for (Ready& ready : *queue) {
        ready.socket.close();
      }
      queue->clear();
    }
    // Cut the requests being served: their reads and writes fail at once.
    for (Poco::Net::StreamSocket& socket : serving_) {
      try {
        socket.shutdown();
      } catch (const Poco::Exception&) {
      }
    }
  }
  ready_changed_.notify_all();
  for (std::thread& worker : workers_) {
    worker.join();
  }
  workers_.clear();
  listening_.close();
}

void ConnectionGate::acceptLoop() {
  std::vector<char> buffer(limits_.max_head_bytes);
  while (!stopping_) {
    const auto now = Clock::now();
    auto wake = now + kPollSlice;
    Poco::Net::Socket::SocketList readable{listening_, wake_receiver_};
    for (const Waiting& waiting : waiting_) {
      wake = std::min(wake, waiting.deadline);
      if (waiting.quiet_until <= now) {
        readable.push_back(waiting.socket);
      } else {
        wake = std::min(wake, waiting.quiet_until);
      }
    }
    Poco::Net::Socket::SocketList writable;
    Poco::Net::Socket::SocketList failed;
    const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
        std::max<Clock::duration>(wake - now, 1ms));
    try {
      Poco::Net::Socket::select(readable, writable, failed, Poco::Timespan(timeout.count()));
    } catch (const Poco::Exception& error) {
      logger_.error("web: polling connections failed: %s", error.displayText());
      std::this_thread::sleep_for(kPollSlice);
      continue;
    }
    if (std::find(readable.begin(), readable.end(), wake_receiver_) != readable.end()) {
      char drained[64];
      while (wake_receiver_.available() > 0) {
        wake_receiver_.receiveBytes(drained, sizeof(drained));
      }
    }
    {
      const std::lock_guard lock(mutex_);
      const auto now_back = Clock::now();
      for (Ready& back : returned_) {
        waiting_.push_back(
            Waiting{back.socket, back.address, now_back + limits_.head_timeout, now_back, false});
      }
      returned_.clear();
    }
    if (std::find(readable.begin(), readable.end(), listening_) != readable.end()) {
      acceptOne();
    }
    const auto looked_at = Clock::now();
    std::erase_if(waiting_, [&](Waiting& waiting) {
      if (std::find(readable.begin(), readable.end(), waiting.socket) != readable.end()) {
        return look(waiting, buffer);
      }
      if (waiting.deadline <= looked_at) {
        if (waiting.sent_anything) {
          refuse(waiting.socket, "408 Request Timeout", limits_.max_head_bytes);
        } else {
          waiting.socket.close();  // idle: a kept-alive connection's end, or a silent client
        }
        release(waiting.address);
        return true;
      }
      return false;
    });
  }
}

void ConnectionGate::acceptOne() {
  Poco::Net::StreamSocket socket;
  Poco::Net::IPAddress peer;
  try {
    socket = listening_.acceptConnection();
    peer = socket.peerAddress().host();
  } catch (const Poco::Exception& error) {
    // Out of descriptors, or the peer gave up already; the listening socket stays readable
    // while descriptors are short, so pause instead of spinning.
    logger_.warning("web: accepting a connection failed: %s", error.displayText());
    std::this_thread::sleep_for(50ms);
    return;
  }
  const std::string address = peer.toString();
  const bool exempt = isTrustedProxy(peer, exempt_);
  const char* refusal = nullptr;
  {
    const std::lock_guard lock(mutex_);
    std::size_t& from_address = open_by_address_[address];
    if (open_ >= limits_.max_connections) {
      refusal = "too many connections";
    } else if (!exempt && from_address >= limits_.max_per_address) {
      refusal = "too many connections from one address";
    } else {
      ++from_address;
      ++open_;
    }
    if (from_address == 0) {
      open_by_address_.erase(address);
    }
  }
  if (refusal != nullptr) {
    refuse(socket, "503 Service Unavailable", 0);
    // Once per burst, not once per connection: a flood must not flood the log too.
    ++refused_unlogged_;
    const auto now = Clock::now();
    if (now - last_refusal_logged_ >= kRefusalLogInterval) {
      logger_.warning("web: refused %d connection(s), the last from %s: %s",
                      static_cast<int>(refused_unlogged_), address, std::string(refusal));
      refused_unlogged_ = 0;
      last_refusal_logged_ = now;
    }
    return;
  }
  const auto now = Clock::now();
  waiting_.push_back(Waiting{socket, address, now + limits_.head_timeout, now, false});
}

bool ConnectionGate::look(Waiting& waiting, std::vector<char>& buffer) {
  int peeked = 0;
  try {
    peeked = waiting.socket.receiveBytes(buffer.data(), static_cast<int>(buffer.size()), MSG_PEEK);
  } catch (const Poco::Exception&) {
    peeked = 0;  // reset by the peer: nothing to answer
  }
  if (peeked <= 0) {
    waiting.socket.close();
    release(waiting.address);
    return true;
  }
  waiting.sent_anything = true;
  if (requestReady(std::string_view(buffer.data(), static_cast<std::size_t>(peeked)),
                   limits_.max_head_bytes)) {
    handOver(waiting);
    return true;
  }
  if (static_cast<std::size_t>(peeked) >= limits_.max_head_bytes) {
    refuse(waiting.socket, "431 Request Header Fields Too Large", limits_.max_head_bytes);
    release(waiting.address);
    return true;
  }
  if (waiting.deadline <= Clock::now()) {
    refuse(waiting.socket, "408 Request Timeout", limits_.max_head_bytes);
    release(waiting.address);
    return true;
  }
  waiting.quiet_until = Clock::now() + kQuietPause;
  return false;
}

void ConnectionGate::handOver(Waiting& waiting) {
  {
    const std::lock_guard lock(mutex_);
    if (ready_.size() < limits_.max_queued) {
      ready_.push_back(Ready{waiting.socket, waiting.address});
      ready_changed_.notify_one();
      return;
    }
  }
  logger_.warning("web: every request thread is busy and %d requests wait; refused one from %s",
                  static_cast<int>(limits_.max_queued), waiting.address);
  refuse(waiting.socket, "503 Service Unavailable", limits_.max_head_bytes);
  release(waiting.address);
}

void ConnectionGate::refuse(Poco::Net::StreamSocket& socket, const char* status_line,
                            std::size_t pending_bytes) {
  try {
    socket.setBlocking(false);
    // Read what the client sent, so that closing does not reset the connection before the
    // client has read the answer.
    std::vector<char> discard(std::min<std::size_t>(pending_bytes, 64 * 1024));
    while (!discard.empty() &&
           socket.receiveBytes(discard.data(), static_cast<int>(discard.size())) > 0) {
    }
    const std::string reason = std::string(status_line).substr(4);
    const std::string response = "HTTP/1.1 " + std::string(status_line) +
                                 "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                                 std::to_string(reason.size() + 1) +
                                 "\r\nConnection: close\r\n\r\n" + reason + "\n";
    socket.sendBytes(response.data(), static_cast<int>(response.size()));
    socket.shutdownSend();
  } catch (const Poco::Exception&) {
    // The client is gone or not reading: closing is all that is left.
  }
  socket.close();
}

void ConnectionGate::wakeAcceptor() {
  try {
    wake_sender_.sendBytes("!", 1);
  } catch (const Poco::Exception& error) {
    // The acceptor still looks again within kPollSlice.
    logger_.debug("web: waking the connection poll failed: %s", error.displayText());
  }
}

void ConnectionGate::release(const std::string& address) {
  const std::lock_guard lock(mutex_);
  const auto found = open_by_address_.find(address);
  if (found != open_by_address_.end() && --found->second == 0) {
    open_by_address_.erase(found);
  }
  --open_;
}

void ConnectionGate::serveLoop() {
  for (;;) {
    Ready ready;
    {
      std::unique_lock lock(mutex_);
      ready_changed_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (stopping_ || ready_.empty()) {
        return;
      }
      ready = std::move(ready_.front());
      ready_.pop_front();
      serving_.push_back(ready.socket);
    }
    bool keep = false;
    try {
      keep = serve_(ready.socket);
    } catch (const Poco::Exception& error) {
      logger_.debug("web: connection from %s ended: %s", ready.address, error.displayText());
    } catch (const std::exception& error) {
      logger_.debug("web: connection from %s ended: %s", ready.address, std::string(error.what()));
    }
    bool handed_back = false;
    {
      const std::lock_guard lock(mutex_);
      std::erase(serving_, ready.socket);
      if (keep && !stopping_) {
        returned_.push_back(ready);
        handed_back = true;
      }
    }
    if (handed_back) {
      wakeAcceptor();
      continue;
    }
    try {
      ready.socket.close();
    } catch (const Poco::Exception&) {
    }
    release(ready.address);
  }
}

}  // namespace certbridge::web
