// windows.h first: winreg needs what it defines.
#include <memory>

#include "platform/cert_store.h"
#include "platform/store_watcher.h"
#include "platform/windows/windows_text.h"

namespace certbridge::platform {
namespace {

struct KeyCloser {
  void operator()(HKEY key) const { RegCloseKey(key); }
};
using KeyHandle = std::unique_ptr<std::remove_pointer_t<HKEY>, KeyCloser>;

struct HandleCloser {
  void operator()(HANDLE handle) const { CloseHandle(handle); }
};
using EventHandle = std::unique_ptr<void, HandleCloser>;

// A writer changes several values of a store's key in a row; they are reported as one change.
constexpr DWORD kSettleMilliseconds = 200;

// Watches the registry key behind each system store with RegNotifyChangeKeyValue. CryptoAPI's
// own CERT_STORE_CTRL_NOTIFY_CHANGE never fires under Wine, and a writer's change reaches the
// registry when it commits or closes its store, which is when it matters here too.
class RegistryStoreWatcher final : public StoreWatcher {
 public:
  explicit RegistryStoreWatcher(const std::vector<std::string>& locations) {
    if (locations.size() > MAXIMUM_WAIT_OBJECTS) {
      throw StoreError("cannot watch more than " + std::to_string(MAXIMUM_WAIT_OBJECTS) +
                       " certificate stores at once");
    }
    for (const std::string& location : locations) {
      const std::size_t slash = location.find('\\');
      const std::string hive_name = location.substr(0, slash);
      const HKEY hive = hive_name == "HKCU"   ? HKEY_CURRENT_USER
                        : hive_name == "HKLM" ? HKEY_LOCAL_MACHINE
                                              : nullptr;
      if (hive == nullptr || slash == std::string::npos) {
        throw StoreError("cannot watch '" + location + "': not an HKCU\\ or HKLM\\ registry key");
      }
      HKEY key = nullptr;
      const LONG opened = RegOpenKeyExW(hive, windows::toWide(location.substr(slash + 1)).c_str(),
                                        0, KEY_NOTIFY, &key);
      if (opened != ERROR_SUCCESS) {
        throw StoreError("cannot watch the registry key " + location + ": " +
                         windows::errorText(static_cast<DWORD>(opened)));
      }
      Watch watch{KeyHandle(key), EventHandle(CreateEventW(nullptr, TRUE, FALSE, nullptr)),
                  location};
      if (!watch.event) {
        throw StoreError("cannot create an event to watch " + location + ": " +
                         windows::errorText(GetLastError()));
      }
      arm(watch);
      watches_.push_back(std::move(watch));
    }
  }

  bool waitForChange(std::chrono::milliseconds timeout) override {
    if (watches_.empty()) {
      Sleep(static_cast<DWORD>(timeout.count()));
      return false;
    }
    bool changed = false;
    DWORD wait = static_cast<DWORD>(timeout.count());
    for (;;) {
      std::vector<HANDLE> events;
      for (const Watch& watch : watches_) {
        events.push_back(watch.event.get());
      }
      const DWORD result =
          WaitForMultipleObjects(static_cast<DWORD>(events.size()), events.data(), FALSE, wait);
      if (result == WAIT_TIMEOUT) {
        return changed;
      }
      if (result >= WAIT_OBJECT_0 + events.size()) {
        throw StoreError("waiting for a certificate store change failed: " +
                         windows::errorText(GetLastError()));
      }
      // Re-arm every key that fired, then keep collecting until the writer is done.
      for (Watch& watch : watches_) {
        if (WaitForSingleObject(watch.event.get(), 0) == WAIT_OBJECT_0) {
          ResetEvent(watch.event.get());
          arm(watch);
        }
      }
      changed = true;
      wait = kSettleMilliseconds;
    }
  }

 private:
  struct Watch {
    KeyHandle key;
    EventHandle event;
    std::string location;
  };

  static void arm(const Watch& watch) {
    const LONG armed = RegNotifyChangeKeyValue(watch.key.get(), TRUE,
                                               REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET,
                                               watch.event.get(), TRUE);
    if (armed != ERROR_SUCCESS) {
      throw StoreError("cannot watch the registry key " + watch.location + ": " +
                       windows::errorText(static_cast<DWORD>(armed)));
    }
  }

  std::vector<Watch> watches_;
};

}  // namespace

std::unique_ptr<StoreWatcher> makeStoreWatcher(const std::vector<std::string>& locations) {
  return std::make_unique<RegistryStoreWatcher>(locations);
}

}  // namespace certbridge::platform
