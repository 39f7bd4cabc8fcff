#include "agent/nginx/command.h"

#include <stdexcept>

#include "platform/child_process.h"

namespace certbridge::agent {

std::vector<std::string> splitCommandLine(const std::string& command_line) {
  std::vector<std::string> arguments;
  std::string current;
  bool in_argument = false;
  char quote = 0;
  for (const char c : command_line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        current.push_back(c);
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_argument = true;
    } else if (c == ' ' || c == '\t') {
      if (in_argument) {
        arguments.push_back(current);
        current.clear();
        in_argument = false;
      }
    } else {
      current.push_back(c);
      in_argument = true;
    }
  }
  if (quote != 0) {
    throw std::invalid_argument("unbalanced quote in command '" + command_line + "'");
  }
  if (in_argument) {
    arguments.push_back(current);
  }
  return arguments;
}

CommandResult runCommand(const std::string& command_line, const std::string& working_directory,
                         std::chrono::seconds timeout) {
  const std::vector<std::string> arguments = splitCommandLine(command_line);
  if (arguments.empty()) {
    throw std::invalid_argument("empty command");
  }
  const platform::ChildProcessResult child =
      platform::runChildProcess(arguments, working_directory, timeout);
  CommandResult result{child.exit_code, child.output, child.timed_out};
  if (result.timed_out) {
    if (!result.output.empty() && result.output.back() != '\n') {
      result.output += '\n';
    }
    result.output += "timed out after " + std::to_string(timeout.count()) +
                     " s; it and every process it started were killed";
  }
  return result;
}

std::string describeFailure(const std::string& command_line, const CommandResult& result,
                            std::chrono::seconds timeout) {
  if (result.timed_out) {
    return "'" + command_line + "' timed out after " + std::to_string(timeout.count()) + " s";
  }
  return "'" + command_line + "' exited with " + std::to_string(result.exit_code);
}

}  // namespace certbridge::agent
