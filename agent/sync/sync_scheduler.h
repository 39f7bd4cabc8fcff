#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace certbridge::agent::sync {

// The time the scheduler goes by: a monotonic clock for its deadlines and the wall clock for
// syncs and CRL due times. The agent uses SystemSchedulerClock; tests move a clock of their own.
class SchedulerClock {
 public:
  virtual ~SchedulerClock() = default;
  virtual std::chrono::steady_clock::time_point monotonicNow() = 0;
  virtual std::int64_t unixNow() = 0;
};

class SystemSchedulerClock final : public SchedulerClock {
 public:
  std::chrono::steady_clock::time_point monotonicNow() override;
  std::int64_t unixNow() override;
};

// When the next sync runs, and when systemd's watchdog is due: a sync at start, then one every
// `interval` after a success; after a failure sooner but backing off (5 s, 10 s, 20 s, ... up to
// the interval), reset by a success; a CRL fetch falling due before the next sync brings the sync
// forward, unless the last sync already saw that due time (and could not act on it). Pure: every
// time comes from the clock. Not thread-safe.
class SyncSchedule {
 public:
  static constexpr std::chrono::seconds kFirstRetry{5};

  SyncSchedule(std::chrono::seconds interval, SchedulerClock& clock);

  // A sync is due now (always at the first call).
  bool syncDue() const { return clock_.monotonicNow() >= next_sync_; }
  void syncStarted() { last_sync_started_ = clock_.unixNow(); }
  // Schedules the next sync; after a failure returns the delay until the retry.
  std::optional<std::chrono::seconds> syncFinished(bool succeeded);
  // `due` is when the CRL plan next wants a fetch (Unix time), if ever.
  void crlFetchDue(std::optional<std::int64_t> due);
  // True once per `watchdog` period (and at the first call); never without a watchdog.
  bool watchdogDue(std::optional<std::chrono::milliseconds> watchdog);
  // How long to wait for a store change before looking again: until the next sync, at most
  // `max_slice` so that a stop request is seen promptly.
  std::chrono::milliseconds waitSlice(std::chrono::milliseconds max_slice) const;

 private:
  std::chrono::seconds interval_;
  SchedulerClock& clock_;
  std::chrono::seconds retry_delay_;
  std::chrono::steady_clock::time_point next_sync_;
  std::chrono::steady_clock::time_point next_watchdog_;
  std::int64_t last_sync_started_ = 0;
};

// What the run loop drives; each part is the agent's own in `certbridge run` and a fake in tests.
struct SyncLoopParts {
  // One sync; true when it succeeded. Exceptions are logged by the loop and count as a failure.
  std::function<bool()> sync;
  // When the CRL plan next wants a fetch (Unix time).
  std::function<std::optional<std::int64_t>()> next_crl_fetch;
  // True (once) when the web asked for a publish.
  std::function<bool()> take_publish_request;
  // Waits up to the given time for a store change; true when one was seen.
  std::function<bool(std::chrono::milliseconds)> wait_for_change;
  // A message for the service manager ("READY=1", "WATCHDOG=1").
  std::function<void(const std::string&)> notify;
  std::function<void(const std::string&)> log_error;
  std::function<void(const std::string&)> log_warning;
  std::function<void(const std::string&)> log_information;
  std::optional<std::chrono::milliseconds> watchdog;
};

// The agent's run loop: syncs on schedule, on a store change and on a publish request, sends
// READY=1 after the first sync and the watchdog's pings, until `stop_requested`. A failing sync
// or CRL plan read is logged and retried; it never ends the loop.
void runSyncLoop(const SyncLoopParts& parts, std::chrono::seconds interval, SchedulerClock& clock,
                 const std::atomic<bool>& stop_requested);

}  // namespace certbridge::agent::sync
