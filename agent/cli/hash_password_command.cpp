#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <Poco/SplitterChannel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <set>
#include <thread>

#include "agent/cli/cli_command.h"
#include "agent/cli/log_text.h"
#include "agent/cli/status_report.h"
#include "agent/config/config.h"
#include "agent/doctor/doctor.h"
#include "agent/sync/agent_control_service.h"
#include "agent/sync/sync_scheduler.h"
#include "agent/sync/trust_sync.h"
#include "platform/cert_store.h"
#include "platform/default_paths.h"
#include "platform/service_notify.h"
#include "platform/store_watcher.h"
#include "platform/terminal.h"
#include "storage/database.h"
#include "storage/password.h"
#include "web/web_server.h"

namespace certbridge::agent {
namespace {

constexpr const char* kHashPasswordHelp = R"(Usage: certbridge hash-password

Reads a password (twice, without echo, from a terminal; one line from a pipe) and prints its
PBKDF2-SHA256 hash for [web] admin_password_hash. The password itself is stored nowhere.
)";

// Reads a password without echo from a terminal (asked twice), or one line from a pipe.
int commandHashPassword(const CommandLine& line) {
  line.allowOnly("hash-password", {});
  std::ostream& out = line.out;
  std::ostream& err = line.err;
  const bool terminal = platform::standardInputIsTerminal();
  const auto readSecret = [&](const char* prompt) {
    std::string secret;
    if (terminal) {
      err << prompt << std::flush;
      secret = platform::readLineWithoutEcho();
      err << "\n";
    } else {
      std::getline(std::cin, secret);
    }
    return secret;
  };
  const std::string password = readSecret("Password: ");
  if (password.size() < 8) {
    err << "certbridge: the password needs at least 8 characters\n";
    return kExitUsage;
  }
  if (terminal && readSecret("Again: ") != password) {
    err << "certbridge: the two passwords differ\n";
    return kExitUsage;
  }
  out << storage::hashPassword(password) << "\n";
  return kExitOk;
}

}  // namespace

const Command kHashPasswordCommand{"hash-password", kHashPasswordHelp, commandHashPassword};

}  // namespace certbridge::agent
