#include "agent/command.h"

#include <gtest/gtest.h>

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
  const CommandResult result = runCommand("certbridge-no-such-program -t");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("certbridge-no-such-program"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace certbridge::agent
