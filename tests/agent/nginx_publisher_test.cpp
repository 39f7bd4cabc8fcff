#include "agent/nginx_publisher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

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

}  // namespace
}  // namespace certbridge::agent
