#include "agent/command.h"

#include <Poco/Exception.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <stdexcept>

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

CommandResult runCommand(const std::string& command_line, const std::string& working_directory) {
  std::vector<std::string> arguments = splitCommandLine(command_line);
  if (arguments.empty()) {
    throw std::invalid_argument("empty command");
  }
  const std::string program = arguments.front();
  arguments.erase(arguments.begin());

  Poco::Pipe output_pipe;
  CommandResult result;
  try {
    Poco::ProcessHandle handle =
        working_directory.empty()
            ? Poco::Process::launch(program, arguments, nullptr, &output_pipe, &output_pipe)
            : Poco::Process::launch(program, arguments, working_directory, nullptr, &output_pipe,
                                    &output_pipe);
    Poco::PipeInputStream output(output_pipe);
    Poco::StreamCopier::copyToString(output, result.output);
    result.exit_code = handle.wait();
  } catch (const Poco::Exception& error) {
    throw std::runtime_error("cannot run '" + command_line + "': " + error.displayText());
  }
  // Poco reports a failed exec in the child as exit code 72 with nothing printed.
  if (result.exit_code == 72 && result.output.empty()) {
    result.output = "could not start '" + program + "' (not found on PATH or not executable)";
  }
  return result;
}

}  // namespace certbridge::agent
