// Linked into each Windows test binary: Winsock for the life of the process, as certbridge.exe
// has it (agent/windows/service_main.cpp). Poco starts it by itself only when built with MSVC; a
// MinGW test binary without it fails every socket with "Net subsystem not initialized".
#include <Poco/Net/Net.h>

namespace {

class WinsockSession {
 public:
  WinsockSession() { Poco::Net::initializeNetwork(); }
  ~WinsockSession() { Poco::Net::uninitializeNetwork(); }
  WinsockSession(const WinsockSession&) = delete;
  WinsockSession& operator=(const WinsockSession&) = delete;
};

// Before main (GoogleTest's), after nothing that needs it: no test's static state uses sockets.
const WinsockSession winsock_session;

}  // namespace
