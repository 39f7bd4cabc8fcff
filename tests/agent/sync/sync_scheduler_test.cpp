#include "agent/sync/sync_scheduler.h"

#include <gtest/gtest.h>

#include <vector>

namespace certbridge::agent::sync {
namespace {

using namespace std::chrono_literals;

// A clock that moves only when the test says so.
class FakeClock final : public SchedulerClock {
 public:
  std::chrono::steady_clock::time_point monotonicNow() override { return monotonic_; }
  std::int64_t unixNow() override { return unix_; }
  void advance(std::chrono::seconds by) {
    monotonic_ += by;
    unix_ += by.count();
  }

 private:
  std::chrono::steady_clock::time_point monotonic_{};
  std::int64_t unix_ = 1'800'000'000;
};

TEST(SyncScheduleTest, SyncsAtStartThenEveryInterval) {
  FakeClock clock;
  SyncSchedule schedule(300s, clock);
  EXPECT_TRUE(schedule.syncDue());
  schedule.syncStarted();
  EXPECT_EQ(schedule.syncFinished(true), std::nullopt);
  EXPECT_FALSE(schedule.syncDue());
  clock.advance(299s);
  EXPECT_FALSE(schedule.syncDue());
  EXPECT_EQ(schedule.waitSlice(500ms), 500ms);
  clock.advance(1s);
  EXPECT_TRUE(schedule.syncDue());
  EXPECT_EQ(schedule.waitSlice(500ms), 0ms);
}

TEST(SyncScheduleTest, FailuresBackOffUpToTheIntervalAndASuccessResets) {
  FakeClock clock;
  SyncSchedule schedule(30s, clock);
  std::vector<std::chrono::seconds> delays;
  for (int i = 0; i < 5; ++i) {
    schedule.syncStarted();
    delays.push_back(schedule.syncFinished(false).value());
    clock.advance(delays.back());
    EXPECT_TRUE(schedule.syncDue());
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::seconds>{5s, 10s, 20s, 30s, 30s}));
  EXPECT_EQ(schedule.syncFinished(true), std::nullopt);
  EXPECT_EQ(schedule.syncFinished(false), 5s) << "a success starts the back-off again";
}

TEST(SyncScheduleTest, ACrlDueBeforeTheNextSyncBringsItForwardOnce) {
  FakeClock clock;
  SyncSchedule schedule(3600s, clock);
  schedule.syncStarted();
  schedule.syncFinished(true);
  schedule.crlFetchDue(clock.unixNow() + 60);
  clock.advance(60s);
  EXPECT_FALSE(schedule.syncDue()) << "one second after the due time, not before";
  clock.advance(1s);
  EXPECT_TRUE(schedule.syncDue());

  // The sync that ran saw this due time and could not act on it: no second wake-up for it.
  const std::int64_t seen_due = clock.unixNow() - 1;
  schedule.syncStarted();
  schedule.syncFinished(true);
  schedule.crlFetchDue(seen_due);
  clock.advance(60s);
  EXPECT_FALSE(schedule.syncDue());
}

TEST(SyncScheduleTest, WatchdogIsDueOncePerPeriodAndNeverWithoutOne) {
  FakeClock clock;
  SyncSchedule schedule(300s, clock);
  EXPECT_FALSE(schedule.watchdogDue(std::nullopt));
  EXPECT_TRUE(schedule.watchdogDue(10'000ms));
  EXPECT_FALSE(schedule.watchdogDue(10'000ms));
  clock.advance(10s);
  EXPECT_TRUE(schedule.watchdogDue(10'000ms));
}

TEST(SyncLoopTest, SyncsFirstSaysReadyRetriesAFailureAndStops) {
  FakeClock clock;
  std::atomic<bool> stop{false};
  std::vector<std::string> events;
  int syncs = 0;
  SyncLoopParts parts;
  parts.sync = [&] {
    ++syncs;
    events.push_back("sync");
    if (syncs == 1) {
      throw std::runtime_error("store gone");
    }
    return true;
  };
  parts.next_crl_fetch = [] { return std::optional<std::int64_t>(); };
  parts.take_publish_request = [] { return false; };
  parts.wait_for_change = [&](std::chrono::milliseconds slice) {
    // Time passes only while the loop waits; stop once the retry has run.
    clock.advance(std::chrono::duration_cast<std::chrono::seconds>(slice) + 1s);
    if (syncs == 2) {
      stop = true;
    }
    return false;
  };
  parts.notify = [&](const std::string& state) { events.push_back(state); };
  parts.log_error = [&](const std::string& text) { events.push_back("error: " + text); };
  parts.log_warning = [&](const std::string& text) { events.push_back("warning: " + text); };
  parts.log_information = [&](const std::string& text) { events.push_back(text); };
  runSyncLoop(parts, 300s, clock, stop);
  EXPECT_EQ(events, (std::vector<std::string>{"sync", "error: sync failed: store gone",
                                              "warning: next attempt in 5s", "READY=1", "sync"}));
}

}  // namespace
}  // namespace certbridge::agent::sync
