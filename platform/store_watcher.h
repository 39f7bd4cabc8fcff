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
  // A burst of changes (a database writer touches several files) is reported once.
  virtual bool waitForChange(std::chrono::milliseconds timeout) = 0;
};

// Never returns null; throws platform::StoreError when a location cannot be watched.
std::unique_ptr<StoreWatcher> makeStoreWatcher(const std::vector<std::string>& locations);

}  // namespace certbridge::platform
