#include "agent/sync/sync_scheduler.h"

#include <algorithm>
#include <ctime>
#include <exception>

namespace certbridge::agent::sync {

std::chrono::steady_clock::time_point SystemSchedulerClock::monotonicNow() {
  return std::chrono::steady_clock::now();
}

std::int64_t SystemSchedulerClock::unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

SyncSchedule::SyncSchedule(std::chrono::seconds interval, SchedulerClock& clock)
    : interval_(interval),
      clock_(clock),
      retry_delay_(std::min(kFirstRetry, interval)),
      next_sync_(clock.monotonicNow()),
      next_watchdog_(clock.monotonicNow()) {}

std::optional<std::chrono::seconds> SyncSchedule::syncFinished(bool succeeded) {
  if (succeeded) {
    retry_delay_ = std::min(kFirstRetry, interval_);
    next_sync_ = clock_.monotonicNow() + interval_;
    return std::nullopt;
  }
  const std::chrono::seconds delay = retry_delay_;
  next_sync_ = clock_.monotonicNow() + delay;
  retry_delay_ = std::min(retry_delay_ * 2, interval_);
  return delay;
}

void SyncSchedule::crlFetchDue(std::optional<std::int64_t> due) {
  if (due && *due > last_sync_started_) {
    const auto due_in =
        std::chrono::seconds(std::max<std::int64_t>(*due - clock_.unixNow() + 1, 0));
    next_sync_ = std::min(next_sync_, clock_.monotonicNow() + due_in);
  }
}

bool SyncSchedule::watchdogDue(std::optional<std::chrono::milliseconds> watchdog) {
  if (!watchdog || clock_.monotonicNow() < next_watchdog_) {
    return false;
  }
  next_watchdog_ = clock_.monotonicNow() + *watchdog;
  return true;
}

std::chrono::milliseconds SyncSchedule::waitSlice(std::chrono::milliseconds max_slice) const {
  const auto until_next =
      std::chrono::duration_cast<std::chrono::milliseconds>(next_sync_ - clock_.monotonicNow());
  return std::clamp(until_next, std::chrono::milliseconds(0), max_slice);
}

void runSyncLoop(const SyncLoopParts& parts, std::chrono::seconds interval, SchedulerClock& clock,
                 const std::atomic<bool>& stop_requested) {
  SyncSchedule schedule(interval, clock);
  bool change_seen = true;
  bool ready_sent = false;
  while (!stop_requested.load()) {
    const bool publish_requested = parts.take_publish_request();
    if (publish_requested || change_seen || schedule.syncDue()) {
      schedule.syncStarted();
      bool succeeded = false;
      try {
        succeeded = parts.sync();
      } catch (const std::exception& error) {
        parts.log_error(std::string("sync failed: ") + error.what());
      }
      if (const auto retry = schedule.syncFinished(succeeded)) {
        parts.log_warning("next attempt in " + std::to_string(retry->count()) + "s");
      }
      // systemd (Type=notify) counts the service as started once the first sync has run, so
      // `systemctl start` returns with the files published (or the failure logged).
      if (!ready_sent) {
        parts.notify("READY=1");
        ready_sent = true;
      }
    }
    if (schedule.watchdogDue(parts.watchdog)) {
      parts.notify("WATCHDOG=1");
    }
    try {
      schedule.crlFetchDue(parts.next_crl_fetch());
    } catch (const std::exception& error) {
      parts.log_error(std::string("cannot read the CRL plan: ") + error.what());
    }
    // Short slices keep SIGTERM responsive without a second wake-up mechanism.
    change_seen = parts.wait_for_change(schedule.waitSlice(std::chrono::milliseconds(500)));
    if (change_seen) {
      parts.log_information("store change detected; syncing");
    }
  }
}

}  // namespace certbridge::agent::sync
