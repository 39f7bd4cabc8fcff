#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "platform/cert_store.h"
#include "platform/store_watcher.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::platform {
namespace {

using namespace std::chrono_literals;

TEST(InotifyStoreWatcher, WakesWhenCertutilChangesTheDatabase) {
  testing::TempDir dir;
  ASSERT_EQ(
      testing::shell("certutil -N -d sql:" + dir.path().string() + " --empty-password").exit_code,
      0);
  const auto watcher = makeStoreWatcher({dir.path().string()});
  EXPECT_FALSE(watcher->waitForChange(200ms)) << "nothing changed yet";

  const auto root = testing::TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  testing::writeFile(dir.file("root.pem"), root.pem());
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    testing::shell("certutil -A -d sql:" + dir.path().string() + " -n root -t CT,, -i " +
                   dir.file("root.pem"));
  });
  const bool changed = watcher->waitForChange(10s);
  writer.join();
  EXPECT_TRUE(changed);
  EXPECT_FALSE(watcher->waitForChange(300ms)) << "one burst of writes is reported once";
}

TEST(InotifyStoreWatcher, IgnoresUnrelatedFilesInTheDirectory) {
  testing::TempDir dir;
  const auto watcher = makeStoreWatcher({dir.path().string()});
  testing::writeFile(dir.file("notes.txt"), "not a database");
  EXPECT_FALSE(watcher->waitForChange(300ms));
}

TEST(InotifyStoreWatcher, MissingDirectoryIsAnError) {
  EXPECT_THROW(makeStoreWatcher({"/nonexistent/certbridge-nssdb"}), StoreError);
}

}  // namespace
}  // namespace certbridge::platform
