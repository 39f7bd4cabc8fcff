#include "tests/support/shell.h"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

namespace certbridge::testing {

int countOccurrences(const std::string& text, const std::string& needle) {
  int count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::string quoted(const std::string& text) {
  std::string result = "'";
  for (const char c : text) {
    result += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return result + "'";
}

std::string sourceDir() {
  return CERTBRIDGE_SOURCE_DIR;
}
std::string certbridgeBinary() {
  return CERTBRIDGE_BINARY;
}

int freeLoopbackPort() {
  // Poco's socket rather than the BSD calls, so that the Windows test binaries have it too.
  const Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  return socket.address().port();
}

}  // namespace certbridge::testing
