#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include "platform/process_signal.h"

namespace certbridge::platform {
namespace {

// nginx rewrites its argv[0]: the master shows "nginx: master process /usr/sbin/nginx -c ...",
// its workers "nginx: worker process". (With `master_process off` it keeps its own command
// line, and its executable is nginx.)
constexpr const char* kMasterTitle = "nginx: master process";

struct ProcessIdentity {
  bool exists = false;
  std::string command_line;  // arguments joined by spaces; empty when unreadable
  std::string executable;    // the target of /proc/PID/exe; empty when unreadable
};

ProcessIdentity identify(long pid) {
  ProcessIdentity identity;
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  std::error_code error;
  identity.exists = std::filesystem::exists(proc, error);
  if (!identity.exists) {
    return identity;
  }
  std::ifstream cmdline(proc / "cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  while (!raw.empty() && raw.back() == '\0') {
    raw.pop_back();
  }
  for (char& c : raw) {
    if (c == '\0') {
      c = ' ';
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '?';  // it goes into logs and the status page
    }
  }
  identity.command_line = raw;
  const auto executable = std::filesystem::read_symlink(proc / "exe", error);
  if (!error) {
    identity.executable = executable.string();
  }
  return identity;
}

bool isNginxMaster(const ProcessIdentity& identity) {
  if (identity.command_line.starts_with(kMasterTitle)) {
    return true;
  }
  // A single-process nginx (master_process off) keeps the command line it was started with.
  const std::string name = std::filesystem::path(identity.executable).filename().string();
  return (name == "nginx" || name.starts_with("nginx ")) &&
         !identity.command_line.starts_with("nginx: ");
}

}  // namespace

std::string describeProcess(long pid) {
  const ProcessIdentity identity = identify(pid);
  if (!identity.exists) {
    return "";
  }
  std::string text = "'" + identity.command_line + "'";
  if (!identity.executable.empty()) {
    text += " (" + identity.executable + ")";
  }
  return text;
}

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
  const std::string named_by = "pid " + std::to_string(pid) + " from " + pid_file;
  if (pid == static_cast<long>(::getpid())) {
    throw std::runtime_error("not reloading nginx: " + named_by +
                             " is certbridge itself, not an nginx master process");
  }
  const ProcessIdentity identity = identify(pid);
  if (!identity.exists) {
    return false;
  }
  if (!isNginxMaster(identity)) {
    throw std::runtime_error("not reloading nginx: " + named_by + " is " + describeProcess(pid) +
                             ", not an nginx master process; nothing was signalled");
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    if (errno == ESRCH) {
      return false;
    }
    throw std::runtime_error("cannot signal nginx (" + named_by + "): " + std::strerror(errno));
  }
  return true;
}

}  // namespace certbridge::platform
