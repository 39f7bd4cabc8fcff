#include "tests/support/notify_socket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace certbridge::testing {

NotifySocket::NotifySocket(std::string name)
    : name_(std::move(name)), fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, name_.data(), name_.size());
  if (name_[0] == '@') {
    address.sun_path[0] = '\0';
  }
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot bind the notify socket " + name_);
  }
  ::setenv("NOTIFY_SOCKET", name_.c_str(), 1);
}

NotifySocket::~NotifySocket() {
  ::unsetenv("NOTIFY_SOCKET");
  ::close(fd_);
}

std::string NotifySocket::receive(int timeout_seconds) const {
  timeval timeout{timeout_seconds, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[256];
  const ssize_t size = ::recv(fd_, buffer, sizeof(buffer), 0);
  return size < 0 ? "(nothing)" : std::string(buffer, static_cast<std::size_t>(size));
}

}  // namespace certbridge::testing
