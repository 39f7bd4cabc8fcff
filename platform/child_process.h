#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace certbridge::platform {

struct ChildProcessResult {
  int exit_code = -1;      // the program's exit code; 128 + N when signal N ended it (POSIX)
  std::string output;      // standard output and standard error together, as a person sees them
  bool timed_out = false;  // still running at the deadline: it and everything it started were
                           // killed
};

// Runs `arguments[0]` (searched on PATH) with the other arguments, without a shell, in
// `working_directory` when not empty, with standard input empty, and waits at most `timeout`.
// The program runs in a group of its own (a process group on POSIX, a job object on Windows),
// so that at the deadline the whole group is killed: a test command that started helpers
// cannot hold the caller either. Throws std::runtime_error naming the program and the OS error
// when it cannot be started.
ChildProcessResult runChildProcess(const std::vector<std::string>& arguments,
                                   const std::string& working_directory,
                                   std::chrono::milliseconds timeout);

}  // namespace certbridge::platform
