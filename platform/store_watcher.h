#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace certbridge::platform {

// Wakes the agent when one of the watched store locations changes, so a change is published in
// seconds instead of waiting for the next scheduled sync. Owned by the agent's run loop and used
// from that one thread only.
class StoreWatcher {
 public:
  virtual ~StoreWatcher() = default;

  // Blocks until a watched location changes or the timeout passes; returns true on a change.
  // A burst of changes (a database writer touches several files) is reported once. A location
  // that appears, or is replaced by another folder renamed into place, counts as a change.
  // Throws platform::StoreError when waiting itself fails.
  virtual bool waitForChange(std::chrono::milliseconds timeout) = 0;

  // The locations that cannot be watched right now, each with the reason ("... does not
  // exist"); each waitForChange() tries them again, and one that appears is watched from then
  // on. Empty when everything is watched.
  virtual std::vector<std::string> unwatched() const { return {}; }
};

// Never returns null. A location missing now is not an error (see unwatched()); throws
// platform::StoreError when watching cannot start at all.
std::unique_ptr<StoreWatcher> makeStoreWatcher(const std::vector<std::string>& locations);

}  // namespace certbridge::platform
