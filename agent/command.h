#pragma once

#include <string>
#include <vector>

namespace certbridge::agent {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together, as a person would see them
};

// Splits a configured command line into arguments: whitespace separates, double or single
// quotes group. No shell is involved, so nothing in the line is expanded.
std::vector<std::string> splitCommandLine(const std::string& command_line);

// Runs a command (searched on PATH) and waits for it, in `working_directory` when not empty
// (nginx for Windows expects to be run from its own folder). Throws std::runtime_error when it
// cannot be started at all.
CommandResult runCommand(const std::string& command_line,
                         const std::string& working_directory = "");

}  // namespace certbridge::agent
