#include "platform/child_process.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace certbridge::platform {
namespace {

// Under Wine as on Windows: cmd.exe is there, its output and exit code come back.
TEST(ChildProcess, OutputAndExitCodeComeBack) {
  const ChildProcessResult result = runChildProcess(
      {"cmd.exe", "/c", "echo from the child& exit /b 3"}, "", std::chrono::seconds(60));
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.output.find("from the child"), std::string::npos) << result.output;
}

TEST(ChildProcess, ItRunsInTheWorkingDirectoryGiven) {
  const ChildProcessResult result =
      runChildProcess({"cmd.exe", "/c", "cd"}, "C:\\windows", std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("C:\\windows"), std::string::npos) << result.output;
}

// cmd.exe starts ping.exe, which would run for minutes: at the deadline the job object ends
// both, and the call returns.
TEST(ChildProcess, PastTheDeadlineTheWholeJobIsEnded) {
  const ChildProcessResult result =
      runChildProcess({"cmd.exe", "/c", "ping -n 600 127.0.0.1 >NUL"}, "", std::chrono::seconds(2));
  EXPECT_TRUE(result.timed_out);
}

TEST(ChildProcess, AProgramThatDoesNotExistIsAnErrorNamingIt) {
  try {
    runChildProcess({"certbridge-no-such-program.exe"}, "", std::chrono::seconds(60));
    FAIL() << "a program that does not exist was run";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot run 'certbridge-no-such-program.exe'"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace certbridge::platform
