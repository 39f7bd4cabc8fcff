#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace certbridge::agent {

struct CommandResult {
  int exit_code = -1;
  std::string output;      // stdout and stderr together, as a person would see them
  bool timed_out = false;  // killed, with every process it started, at the deadline
};

constexpr std::chrono::seconds kDefaultCommandTimeout{30};

// Splits a configured command line into arguments: whitespace separates, double or single
// quotes group. No shell is involved, so nothing in the line is expanded.
std::vector<std::string> splitCommandLine(const std::string& command_line);

// Runs a command (searched on PATH) and waits for it, in `working_directory` when not empty
// (nginx for Windows expects to be run from its own folder), at most `timeout`: past it the
// command and every process it started are killed and the result says `timed_out` (the
// output then ends with "timed out after N s"). Throws std::runtime_error when it cannot be
// started at all.
CommandResult runCommand(const std::string& command_line, const std::string& working_directory = "",
                         std::chrono::seconds timeout = kDefaultCommandTimeout);

// "'nginx -t' exited with 1", "'nginx -t' timed out after 30 s": how a failed command ended.
std::string describeFailure(const std::string& command_line, const CommandResult& result,
                            std::chrono::seconds timeout);

}  // namespace certbridge::agent
