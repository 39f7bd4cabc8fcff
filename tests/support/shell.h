#pragma once

#include <string>

namespace certbridge::testing {

struct ShellResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh and waits; the output is kept for assertions and failure messages.
ShellResult shell(const std::string& command);

// How often `needle` occurs in `text`, overlapping occurrences included.
int countOccurrences(const std::string& text, const std::string& needle);

// Quotes `text` for /bin/sh.
std::string quoted(const std::string& text);

// The repository and the certbridge binary under test.
std::string sourceDir();
std::string certbridgeBinary();

// A TCP port on 127.0.0.1 that was free a moment ago.
int freeLoopbackPort();

}  // namespace certbridge::testing
