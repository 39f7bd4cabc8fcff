#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "platform/process_signal.h"

namespace certbridge::platform {

bool signalNginxReload(const std::string& pid_file) {
  std::ifstream stream(pid_file);
  if (!stream) {
    if (errno == ENOENT) {
      return false;
    }
    throw std::runtime_error("cannot read nginx pid file " + pid_file + ": " +
                             std::strerror(errno));
  }
  std::string text;
  stream >> text;
  if (text.empty()) {
    return false;
  }
  long pid = 0;
  try {
    std::size_t used = 0;
    pid = std::stol(text, &used);
    if (used != text.size()) {
      pid = 0;
    }
  } catch (const std::exception&) {
    pid = 0;
  }
  if (pid <= 1) {
    throw std::runtime_error("nginx pid file " + pid_file + " holds '" + text +
                             "', not a process id");
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    if (errno == ESRCH) {
      return false;
    }
    throw std::runtime_error("cannot signal nginx (pid " + std::to_string(pid) + " from " +
                             pid_file + "): " + std::strerror(errno));
  }
  return true;
}

}  // namespace certbridge::platform
