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

// A store folder missing at start is not an error: it is named by unwatched(), tried again at
// every wait, and its appearance is a change.
TEST(InotifyStoreWatcher, AFolderMissingAtStartIsWatchedOnceItAppears) {
  testing::TempDir dir;
  const std::string nssdb = dir.file("nssdb");
  const auto watcher = makeStoreWatcher({nssdb});
  ASSERT_EQ(watcher->unwatched().size(), 1U);
  EXPECT_NE(watcher->unwatched().front().find(nssdb), std::string::npos);
  EXPECT_NE(watcher->unwatched().front().find("No such file or directory"), std::string::npos)
      << watcher->unwatched().front();
  EXPECT_FALSE(watcher->waitForChange(200ms));

  ASSERT_EQ(
      testing::shell("mkdir " + nssdb + " && certutil -N -d sql:" + nssdb + " --empty-password")
          .exit_code,
      0);
  EXPECT_TRUE(watcher->waitForChange(10s));
  EXPECT_TRUE(watcher->unwatched().empty());
  while (watcher->waitForChange(300ms)) {
  }
  // Watched now: a certificate added is seen.
  const auto root = testing::TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  testing::writeFile(dir.file("root.pem"), root.pem());
  ASSERT_EQ(
      testing::shell("certutil -A -d sql:" + nssdb + " -n root -t CT,, -i " + dir.file("root.pem"))
          .exit_code,
      0);
  EXPECT_TRUE(watcher->waitForChange(10s));
}

// Config management writes a new folder and renames it into place: the watch moves to the new
// folder (inotify's watch would follow the old one), and later changes to it are seen.
TEST(InotifyStoreWatcher, AFolderReplacedByRenameIsWatchedAgain) {
  testing::TempDir dir;
  const std::string nssdb = dir.file("nssdb");
  ASSERT_EQ(
      testing::shell("mkdir " + nssdb + " " + nssdb + ".new && certutil -N -d sql:" + nssdb +
                     " --empty-password && certutil -N -d sql:" + nssdb + ".new --empty-password")
          .exit_code,
      0);
  const auto watcher = makeStoreWatcher({nssdb});
  EXPECT_FALSE(watcher->waitForChange(200ms));

  ASSERT_EQ(testing::shell("mv " + nssdb + " " + nssdb + ".old && mv " + nssdb + ".new " + nssdb)
                .exit_code,
            0);
  EXPECT_TRUE(watcher->waitForChange(10s));
  while (watcher->waitForChange(300ms)) {
  }
  EXPECT_TRUE(watcher->unwatched().empty());

  // A change to the old folder, now elsewhere, is none of the store's business...
  const auto root = testing::TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  testing::writeFile(dir.file("root.pem"), root.pem());
  ASSERT_EQ(testing::shell("certutil -A -d sql:" + nssdb + ".old -n root -t CT,, -i " +
                           dir.file("root.pem"))
                .exit_code,
            0);
  EXPECT_FALSE(watcher->waitForChange(500ms));
  // ...a change to the folder now at the path is.
  ASSERT_EQ(
      testing::shell("certutil -A -d sql:" + nssdb + " -n root -t CT,, -i " + dir.file("root.pem"))
          .exit_code,
      0);
  EXPECT_TRUE(watcher->waitForChange(10s));
}

}  // namespace
}  // namespace certbridge::platform
