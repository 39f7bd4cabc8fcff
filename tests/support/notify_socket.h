#pragma once

#include <string>

namespace certbridge::testing {

// What systemd gives a Type=notify service: a datagram socket, named in NOTIFY_SOCKET (set in
// this process's environment while the object lives). A name starting with '@' is abstract.
class NotifySocket {
 public:
  explicit NotifySocket(std::string name);
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket();

  const std::string& name() const { return name_; }
  // The next message, or "(nothing)" after `timeout_seconds`.
  std::string receive(int timeout_seconds = 2) const;

 private:
  std::string name_;
  int fd_;
};

}  // namespace certbridge::testing
