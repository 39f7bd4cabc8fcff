#include "platform/service_notify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/support/notify_socket.h"
#include "tests/support/temp_dir.h"

namespace certbridge::platform {
namespace {

TEST(ServiceNotify, SendsTheStateToTheSocketSystemdNames) {
  const testing::TempDir dir;
  const testing::NotifySocket socket(dir.file("notify.sock"));
  notifyServiceManager("READY=1");
  EXPECT_EQ(socket.receive(), "READY=1");
  notifyServiceManager("STOPPING=1");
  EXPECT_EQ(socket.receive(), "STOPPING=1");
}

TEST(ServiceNotify, AbstractSocketNamesWork) {
  const testing::NotifySocket socket("@certbridge-test-" + std::to_string(::getpid()));
  notifyServiceManager("WATCHDOG=1");
  EXPECT_EQ(socket.receive(), "WATCHDOG=1");
}

TEST(ServiceNotify, NothingHappensOutsideSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_NO_THROW(notifyServiceManager("READY=1"));
}

TEST(ServiceNotify, WatchdogIntervalIsHalfOfWhatSystemdSet) {
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(watchdogInterval(), std::chrono::milliseconds(1000));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(watchdogInterval(), std::nullopt) << "meant for another process";
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(watchdogInterval(), std::nullopt);
}

}  // namespace
}  // namespace certbridge::platform
