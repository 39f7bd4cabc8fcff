// certbridge.exe: the same commands as on Linux from a console, and a Windows service through
// Poco's ServerApplication:
//   certbridge.exe /registerService /displayName=certbridge /startup=auto
//   certbridge.exe /unregisterService
// The service runs `run` with %ProgramData%\certbridge\certbridge.ini and logs to the Event Log
// (source "certbridge") as well as to [log] file.
#include <Poco/EventLogChannel.h>
#include <Poco/Net/Net.h>
#include <Poco/Util/ServerApplication.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "agent/cli/cli.h"

namespace certbridge::agent {
namespace {

// Winsock for the life of the process. Poco starts it by itself only when built with MSVC; a
// MinGW certbridge.exe without it fails at [web] listen with "Net subsystem not initialized".
class WinsockSession {
 public:
  WinsockSession() { Poco::Net::initializeNetwork(); }
  ~WinsockSession() { Poco::Net::uninitializeNetwork(); }
  WinsockSession(const WinsockSession&) = delete;
  WinsockSession& operator=(const WinsockSession&) = delete;
};

class CertbridgeService final : public Poco::Util::ServerApplication {
 protected:
  int main(const std::vector<std::string>& arguments) override {
    if (isInteractive()) {
      return runCli(arguments, std::cout, std::cerr);
    }
    std::atomic<bool> stop_requested{false};
    int exit_code = kExitOk;
    std::thread agent([&] {
      exit_code =
          runAgentService(stop_requested, Poco::makeAuto<Poco::EventLogChannel>("certbridge"));
    });
    waitForTerminationRequest();  // the service control manager's stop
    stop_requested = true;
    agent.join();
    return exit_code;
  }
};

}  // namespace
}  // namespace certbridge::agent

int main(int argc, char** argv) {
  const certbridge::agent::WinsockSession winsock;
  // Poco takes the service's own options (/registerService, ...) and the start by the service
  // control manager (no arguments); everything else is the command line as on Linux.
  if (argc == 1 || argv[1][0] == '/') {
    certbridge::agent::CertbridgeService service;
    return service.run(argc, argv);
  }
  return certbridge::agent::runCli(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                                   std::cerr);
}
