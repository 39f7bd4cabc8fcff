#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "platform/cert_store.h"
#include "platform/store_watcher.h"

namespace certbridge::platform {
namespace {

// Quiet time after the last event before a change is reported: certutil rewrites cert9.db and its
// journal in several steps, and reading in the middle of that would cost a second sync.
constexpr std::chrono::milliseconds kSettleTime{150};

// Only the certificate database matters; key4.db and pkcs11.txt changes do not alter trust.
bool isCertDatabaseFile(std::string_view name) {
  return name.starts_with("cert");
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// One inotify descriptor for every watched directory, owned by the run loop's thread.
class InotifyStoreWatcher final : public StoreWatcher {
 public:
  explicit InotifyStoreWatcher(const std::vector<std::string>& directories)
      : inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (inotify_.get() < 0) {
      throw StoreError(std::string("cannot start watching stores: inotify_init1: ") +
                       std::strerror(errno));
    }
    for (const std::string& directory : directories) {
      const uint32_t mask =
          IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM;
      if (::inotify_add_watch(inotify_.get(), directory.c_str(), mask) < 0) {
        throw StoreError("cannot watch " + directory + " for changes: " + std::strerror(errno));
      }
    }
  }

  bool waitForChange(std::chrono::milliseconds timeout) override {
    if (!waitForRelevantEvent(timeout)) {
      return false;
    }
    while (waitForRelevantEvent(kSettleTime)) {
    }
    return true;
  }

 private:
  bool waitForRelevantEvent(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) {
        return false;
      }
      pollfd descriptor{.fd = inotify_.get(), .events = POLLIN, .revents = 0};
      const int ready = ::poll(&descriptor, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno != EINTR) {
        throw StoreError(std::string("waiting for store changes failed: ") + std::strerror(errno));
      }
      if (ready > 0 && drainEvents()) {
        return true;
      }
    }
  }

  // Reads every queued event; true when one concerns a certificate database file.
  bool drainEvents() {
    bool relevant = false;
    alignas(inotify_event) std::array<char, 16 * 1024> buffer{};
    for (;;) {
      const ssize_t length = ::read(inotify_.get(), buffer.data(), buffer.size());
      if (length <= 0) {
        return relevant;  // EAGAIN: queue empty
      }
      for (ssize_t offset = 0; offset < length;) {
        inotify_event event{};
        std::memcpy(&event, buffer.data() + offset, sizeof(event));
        const std::string_view name(
            buffer.data() + offset + sizeof(inotify_event),
            ::strnlen(buffer.data() + offset + sizeof(inotify_event), event.len));
        relevant = relevant || (event.mask & IN_Q_OVERFLOW) != 0 || isCertDatabaseFile(name);
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event.len);
      }
    }
  }

  FileDescriptor inotify_;
};

}  // namespace

std::unique_ptr<StoreWatcher> makeStoreWatcher(const std::vector<std::string>& locations) {
  return std::make_unique<InotifyStoreWatcher>(locations);
}

}  // namespace certbridge::platform
