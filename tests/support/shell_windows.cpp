#include <stdexcept>

#include "tests/support/shell.h"

namespace certbridge::testing {

// The Windows test binaries run under Wine, where a Windows process can start a Linux program
// (sqlite3, openssl, dd) but cannot read its exit code, and there is no /bin/sh on Windows: the
// tests that need it are excluded there with that reason (tests/windows/CMakeLists.txt), and
// one that is not fails here loudly instead of passing on a half-run command.
ShellResult shell(const std::string& command) {
  throw std::runtime_error("no /bin/sh in a Windows test binary; cannot run: " + command);
}

}  // namespace certbridge::testing
