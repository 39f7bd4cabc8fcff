#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "platform/service_notify.h"

namespace certbridge::platform {
namespace {

struct SocketCloser {
  int fd;
  ~SocketCloser() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

}  // namespace

// The protocol is one datagram per message; libsystemd is not needed for that. A socket name
// starting with '@' is in the abstract namespace.
void notifyServiceManager(const std::string& state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || socket_path[0] == '\0') {
    return;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(socket_path);
  if (length >= sizeof(address.sun_path)) {
    return;
  }
  std::memcpy(address.sun_path, socket_path, length);
  if (address.sun_path[0] == '@') {
    address.sun_path[0] = '\0';
  }
  const SocketCloser socket{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (socket.fd < 0) {
    return;
  }
  const auto address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  // Best effort, as sd_notify: a service manager that went away is no reason to stop syncing.
  ::sendto(socket.fd, state.data(), state.size(), MSG_NOSIGNAL,
           reinterpret_cast<const sockaddr*>(&address), address_length);
}

std::optional<std::chrono::milliseconds> watchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) {
    return std::nullopt;
  }
  // WATCHDOG_PID, when set, names the process the watchdog is meant for.
  if (const char* pid = std::getenv("WATCHDOG_PID");
      pid != nullptr && std::strtol(pid, nullptr, 10) != static_cast<long>(::getpid())) {
    return std::nullopt;
  }
  const long long microseconds = std::strtoll(usec, nullptr, 10);
  if (microseconds <= 0) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(microseconds / 2000);
}

}  // namespace certbridge::platform
