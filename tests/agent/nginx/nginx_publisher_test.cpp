#include "agent/nginx/nginx_publisher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::agent {
namespace {

namespace fs = std::filesystem;
using testing::readFile;
using testing::writeFile;

// Real commands (sh) stand in for nginx here, so that each outcome can be forced; the tests
// against a real nginx are in tests/integration.
class NginxPublisherTest : public ::testing::Test {
 protected:
  std::string output() const { return dir_.file("out"); }
  std::string log() const { return dir_.file("calls.log"); }

  // A command that appends `name` to the call log and exits with `code`.
  std::string recorder(const std::string& name, int code = 0) const {
    return "sh -c 'echo " + name + " >> " + log() + "; exit " + std::to_string(code) + "'";
  }

  NginxPublisher publisher(int test_exit = 0, int reload_exit = 0) const {
    return NginxPublisher({.output_dir = output(),
                           .test_command = recorder("test", test_exit),
                           .reload_command = recorder("reload", reload_exit),
                           .pid_file = ""});
  }

  std::string calls() const { return fs::exists(log()) ? readFile(log()) : ""; }

  std::vector<OutputFile> files(const std::string& version) const {
    return {{"client-ca.pem", "ca " + version + "\n"},
            {"clients.map", "map " + version + "\n"},
            {"mtls.conf", "conf " + version + "\n"}};
  }

  std::vector<std::string> leftovers() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(output())) {
      const std::string name = entry.path().filename().string();
      if (name.find(".certbridge-") != std::string::npos) {
        names.push_back(name);
      }
    }
    return names;
  }

  testing::TempDir dir_;
};

TEST_F(NginxPublisherTest, FirstPublishWritesTestsAndReloads) {
  const PublishOutcome outcome = publisher().publish(files("v1"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::published) << outcome.detail;
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v1\n");
  EXPECT_EQ(calls(), "test\nreload\n");
  EXPECT_TRUE(outcome.reloaded);
  EXPECT_TRUE(leftovers().empty());
  struct stat status {};
  ASSERT_EQ(::stat((output() + "/client-ca.pem").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0644u);
}

TEST_F(NginxPublisherTest, IdenticalContentIsNeitherWrittenNorReloaded) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  const auto written = fs::last_write_time(output() + "/clients.map");
  fs::remove(log());

  const PublishOutcome outcome = publisher().publish(files("v1"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::unchanged);
  EXPECT_EQ(calls(), "") << "no nginx -t and no reload for identical content";
  EXPECT_EQ(fs::last_write_time(output() + "/clients.map"), written);
}

TEST_F(NginxPublisherTest, OnlyChangedFilesAreReplaced) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  std::vector<OutputFile> next = files("v1");
  next[1].content = "map v2\n";
  const PublishOutcome outcome = publisher().publish(next);
  EXPECT_EQ(outcome.result, PublishOutcome::Result::published);
  EXPECT_EQ(outcome.changed_files, std::vector<std::string>{"clients.map"});
}

TEST_F(NginxPublisherTest, TheTestSeesTheCandidateFiles) {
  const NginxPublisher seeing(
      {.output_dir = output(),
       .test_command = "sh -c 'cat " + output() + "/clients.map > " + dir_.file("seen") + "'",
       .reload_command = "true",
       .pid_file = ""});
  ASSERT_EQ(seeing.publish(files("v1")).result, PublishOutcome::Result::published);
  EXPECT_EQ(readFile(dir_.file("seen")), "map v1\n");
}

TEST_F(NginxPublisherTest, RejectedByTheTestRestoresThePreviousFiles) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  fs::remove(log());

  const NginxPublisher rejecting({.output_dir = output(),
                                  .test_command = "sh -c 'echo nginx: [emerg] bad bundle; exit 1'",
                                  .reload_command = recorder("reload"),
                                  .pid_file = ""});
  const PublishOutcome outcome = rejecting.publish(files("v2"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("nginx: [emerg] bad bundle"), std::string::npos) << outcome.detail;
  EXPECT_NE(outcome.detail.find("previous files restored"), std::string::npos);
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v1\n");
  EXPECT_EQ(readFile(output() + "/mtls.conf"), "conf v1\n");
  EXPECT_EQ(calls(), "") << "no reload after a failed test";
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(NginxPublisherTest, FailedReloadRestoresThePreviousFiles) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  const PublishOutcome outcome = publisher(0, 1).publish(files("v2"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("failed (exit 1)"), std::string::npos) << outcome.detail;
  EXPECT_EQ(readFile(output() + "/client-ca.pem"), "ca v1\n");
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(NginxPublisherTest, FailedFirstPublishLeavesNoFiles) {
  const PublishOutcome outcome = publisher(1).publish(files("v1"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_FALSE(fs::exists(output() + "/clients.map"));
  EXPECT_FALSE(fs::exists(output() + "/mtls.conf"));
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(NginxPublisherTest, AnInterruptedPublishIsRolledBackAndRedone) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  // What a crash between swap and reload leaves: the new file in place, the old one kept aside.
  fs::rename(output() + "/clients.map", output() + "/clients.map.certbridge-previous");
  writeFile(output() + "/clients.map", "map v2\n");
  fs::remove(log());

  const PublishOutcome outcome = publisher().publish(files("v2"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::published)
      << "v2 was never tested nor reloaded, so it must be published again";
  EXPECT_EQ(calls(), "test\nreload\n");
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v2\n");
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(NginxPublisherTest, PidFileOfAStoppedNginxPublishesWithoutReload) {
  const NginxPublisher by_signal({.output_dir = output(),
                                  .test_command = "true",
                                  .reload_command = "",
                                  .pid_file = dir_.file("nginx.pid")});
  const PublishOutcome outcome = by_signal.publish(files("v1"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::published) << outcome.detail;
  EXPECT_FALSE(outcome.reloaded);
}

TEST_F(NginxPublisherTest, GarbagePidFileFailsAndRestores) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  writeFile(dir_.file("nginx.pid"), "not-a-pid\n");
  const NginxPublisher by_signal({.output_dir = output(),
                                  .test_command = "true",
                                  .reload_command = "",
                                  .pid_file = dir_.file("nginx.pid")});
  const PublishOutcome outcome = by_signal.publish(files("v2"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find(dir_.file("nginx.pid")), std::string::npos) << outcome.detail;
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v1\n");
}

TEST_F(NginxPublisherTest, UnwritableOutputDirectoryIsAClearFailure) {
  writeFile(dir_.file("blocker"), "a file where the directory should be");
  const NginxPublisher blocked({.output_dir = dir_.file("blocker") + "/out",
                                .test_command = "true",
                                .reload_command = "true",
                                .pid_file = ""});
  const PublishOutcome outcome = blocked.publish(files("v1"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("blocker/out"), std::string::npos) << outcome.detail;
}

TEST_F(NginxPublisherTest, ATestCommandPastItsDeadlineFailsLikeARejectedTest) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  fs::remove(log());
  const NginxPublisher hanging({.output_dir = output(),
                                .test_command = "sh -c 'echo checking; sleep 600'",
                                .reload_command = recorder("reload"),
                                .pid_file = "",
                                .command_timeout = std::chrono::seconds(1)});
  const PublishOutcome outcome = hanging.publish(files("v2"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("timed out after 1 s"), std::string::npos) << outcome.detail;
  EXPECT_NE(outcome.detail.find("previous files restored, nothing reloaded"), std::string::npos)
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("checking"), std::string::npos) << "its output is kept";
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v1\n");
  EXPECT_EQ(calls(), "") << "no reload after a test that timed out";
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(NginxPublisherTest, AReloadCommandPastItsDeadlineRestoresThePreviousFiles) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  const NginxPublisher hanging({.output_dir = output(),
                                .test_command = "true",
                                .reload_command = "sleep 600",
                                .pid_file = "",
                                .command_timeout = std::chrono::seconds(1)});
  const PublishOutcome outcome = hanging.publish(files("v2"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("'sleep 600' timed out after 1 s"), std::string::npos)
      << outcome.detail;
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v1\n");
}

// A lock file whose content is no process id (here one too large for any pid) is repeated, not
// taken for a pid: the publish still gives up with its message.
TEST_F(NginxPublisherTest, ALockFileWithoutAPidStillGivesAClearMessage) {
  fs::create_directories(output());
  const std::string lock_file = output() + "/.certbridge.lock";
  writeFile(lock_file, "99999999999999999999999\n");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    const int fd = ::open(lock_file.c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      ::_exit(1);
    }
    [[maybe_unused]] const auto written = ::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);
  const NginxPublisher waiting({.output_dir = output(),
                                .test_command = recorder("test"),
                                .reload_command = recorder("reload"),
                                .pid_file = "",
                                .lock_timeout = std::chrono::milliseconds(300)});
  const PublishOutcome outcome = waiting.publish(files("v1"));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(
      outcome.detail.find("another publish holds the lock on " + lock_file +
                          " (the lock file says '99999999999999999999999', not a process id)"),
      std::string::npos)
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("gave up after 300 ms"), std::string::npos) << outcome.detail;
  EXPECT_EQ(calls(), "");
}

// Another process holds the publish lock (as a publish stuck elsewhere would) and wrote its pid
// into the lock file: the publish gives up after the lock timeout and names it.
TEST_F(NginxPublisherTest, ALockHeldElsewhereFailsAfterTheTimeoutNamingTheHolder) {
  fs::create_directories(output());
  const std::string lock_file = output() + "/.certbridge.lock";
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      ::_exit(1);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    [[maybe_unused]] const auto written = ::write(fd, pid.data(), pid.size());
    ::pause();
    ::_exit(0);
  }
  // Wait until the holder has the lock and said so.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         (!fs::exists(lock_file) || readFile(lock_file) != std::to_string(holder) + "\n")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const NginxPublisher waiting({.output_dir = output(),
                                .test_command = recorder("test"),
                                .reload_command = recorder("reload"),
                                .pid_file = "",
                                .lock_timeout = std::chrono::milliseconds(500)});
  const PublishOutcome outcome = waiting.publish(files("v1"));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);

  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("another publish holds the lock on " + lock_file + " by pid " +
                                std::to_string(holder)),
            std::string::npos)
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("certbridge_agent_tests"), std::string::npos)
      << "the holder's command line: " << outcome.detail;
  EXPECT_NE(outcome.detail.find("gave up after 500 ms"), std::string::npos) << outcome.detail;
  EXPECT_EQ(calls(), "");
  EXPECT_FALSE(fs::exists(output() + "/clients.map"));

  // Once the holder is gone the lock is free, and the pid in the file is the new holder's.
  ASSERT_EQ(waiting.publish(files("v1")).result, PublishOutcome::Result::published);
}

// A pid file naming a process that is not nginx (a stale pid reused by another program, or a
// pid file someone else wrote): nothing is signalled, and the publish fails naming it.
TEST_F(NginxPublisherTest, APidFileNamingAnotherProgramIsRefusedAndTheProgramSurvives) {
  ASSERT_EQ(publisher().publish(files("v1")).result, PublishOutcome::Result::published);
  const testing::ShellResult started = testing::shell("sleep 600 >/dev/null 2>&1 & echo $!");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const pid_t sleeper = static_cast<pid_t>(std::stol(started.output));
  writeFile(dir_.file("nginx.pid"), std::to_string(sleeper) + "\n");
  const NginxPublisher by_signal({.output_dir = output(),
                                  .test_command = "true",
                                  .reload_command = "",
                                  .pid_file = dir_.file("nginx.pid")});
  const PublishOutcome outcome = by_signal.publish(files("v2"));
  const bool alive = ::kill(sleeper, 0) == 0;
  ::kill(sleeper, SIGKILL);

  EXPECT_TRUE(alive) << "SIGHUP would have killed the sleep";
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("pid " + std::to_string(sleeper) + " from " +
                                dir_.file("nginx.pid") + " is 'sleep 600'"),
            std::string::npos)
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("not an nginx master process"), std::string::npos)
      << outcome.detail;
  EXPECT_EQ(readFile(output() + "/clients.map"), "map v1\n") << "previous files restored";
}

TEST_F(NginxPublisherTest, APidFileNamingCertbridgeItselfIsRefused) {
  writeFile(dir_.file("nginx.pid"), std::to_string(::getpid()) + "\n");
  const NginxPublisher by_signal({.output_dir = output(),
                                  .test_command = "true",
                                  .reload_command = "",
                                  .pid_file = dir_.file("nginx.pid")});
  const PublishOutcome outcome = by_signal.publish(files("v1"));
  EXPECT_EQ(outcome.result, PublishOutcome::Result::failed);
  EXPECT_NE(outcome.detail.find("is certbridge itself"), std::string::npos) << outcome.detail;
}

// The files are in place, untested, from the first rename until the test command accepted
// them: the publisher measures that window (the README states it).
TEST_F(NginxPublisherTest, TheUntestedWindowIsMeasured) {
  const PublishOutcome outcome = publisher().publish(files("v1"));
  ASSERT_EQ(outcome.result, PublishOutcome::Result::published);
  EXPECT_GT(outcome.untested_window.count(), 0);
  EXPECT_EQ(publisher().publish(files("v1")).untested_window.count(), 0)
      << "nothing swapped, no window";
}

}  // namespace
}  // namespace certbridge::agent
