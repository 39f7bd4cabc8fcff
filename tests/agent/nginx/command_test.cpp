#include "agent/nginx/command.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/temp_dir.h"

namespace certbridge::agent {
namespace {

TEST(SplitCommandLine, SplitsOnWhitespaceAndHonoursQuotes) {
  EXPECT_EQ(splitCommandLine("nginx -t"), (std::vector<std::string>{"nginx", "-t"}));
  EXPECT_EQ(splitCommandLine("  nginx   -p \"/opt/my nginx\" -c 'conf/a b.conf' "),
            (std::vector<std::string>{"nginx", "-p", "/opt/my nginx", "-c", "conf/a b.conf"}));
  EXPECT_EQ(splitCommandLine("x \"\""), (std::vector<std::string>{"x", ""}));
  EXPECT_THROW(splitCommandLine("nginx \"-t"), std::invalid_argument);
}

TEST(RunCommand, CapturesOutputAndExitCode) {
  const CommandResult result = runCommand("sh -c 'echo out; echo err >&2; exit 3'");
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.output.find("out"), std::string::npos);
  EXPECT_NE(result.output.find("err"), std::string::npos);
}

TEST(RunCommand, NoShellExpansion) {
  const CommandResult result = runCommand("echo $HOME;ls");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "$HOME;ls\n");
}

// nginx for Windows is run from its own folder, as `nginx -s reload` there.
TEST(RunCommand, RunsInTheWorkingDirectoryGiven) {
  const testing::TempDir dir;
  testing::writeFile(dir.file("marker"), "here\n");
  const CommandResult result = runCommand("cat marker", dir.path().string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "here\n");
  EXPECT_NE(runCommand("cat marker").exit_code, 0);
}

TEST(RunCommand, MissingProgramSaysSo) {
  try {
    runCommand("certbridge-no-such-program -t");
    FAIL() << "a program that does not exist was run";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("cannot run 'certbridge-no-such-program'"), std::string::npos)
        << message;
    EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  }
}

// True once `pid` has ended (gone, or a zombie waiting for whoever adopted it), waiting at most
// five seconds for it: a SIGKILL is delivered asynchronously.
bool endsWithinFiveSeconds(long pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      return true;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string ignored;
    std::string state;
    // pid (comm) state ...; comm has no spaces for sh and sleep.
    if (stat >> ignored >> ignored >> state && state == "Z") {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(RunCommand, PastTheDeadlineTheWholeProcessGroupIsKilled) {
  // A test command that starts a helper and then hangs: both must go.
  const auto started = std::chrono::steady_clock::now();
  const CommandResult result =
      runCommand("sh -c 'sleep 600 & echo helper $!; sleep 600'", "", std::chrono::seconds(1));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60))
      << "it returned at all, long before the commands would have ended";
  EXPECT_TRUE(result.timed_out);
  EXPECT_NE(result.output.find("timed out after 1 s"), std::string::npos) << result.output;
  EXPECT_EQ(describeFailure("x", result, std::chrono::seconds(1)), "'x' timed out after 1 s");
  const auto at = result.output.find("helper ");
  ASSERT_NE(at, std::string::npos) << result.output;
  const long helper = std::stol(result.output.substr(at + 7));
  EXPECT_TRUE(endsWithinFiveSeconds(helper)) << "the helper " << helper << " survived";
}

TEST(RunCommand, HelpersLeftBehindByAFinishedCommandAreKilledAtTheDeadline) {
  const CommandResult result =
      runCommand("sh -c 'sleep 600 & echo helper $!; exit 4'", "", std::chrono::seconds(1));
  EXPECT_FALSE(result.timed_out) << "the command itself finished";
  EXPECT_EQ(result.exit_code, 4);
  const auto at = result.output.find("helper ");
  ASSERT_NE(at, std::string::npos) << result.output;
  EXPECT_TRUE(endsWithinFiveSeconds(std::stol(result.output.substr(at + 7))));
}

TEST(RunCommand, AFastCommandIsNotHeldByTheDeadline) {
  const CommandResult result = runCommand("sh -c 'exit 0'", "", std::chrono::seconds(3600));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_FALSE(result.timed_out);
}

}  // namespace
}  // namespace certbridge::agent
