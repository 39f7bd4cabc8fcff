#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "tests/support/shell.h"

namespace certbridge::testing {

ShellResult shell(const std::string& command) {
  ShellResult result;
  const std::string wrapped = "( " + command + " ) 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(wrapped.c_str(), "r"), ::pclose);
  if (!pipe) {
    throw std::runtime_error("popen failed for " + command);
  }
  std::array<char, 4096> buffer{};
  std::size_t length = 0;
  while ((length = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) {
    result.output.append(buffer.data(), length);
  }
  const int status = ::pclose(pipe.release());
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace certbridge::testing
