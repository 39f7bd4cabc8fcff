#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
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

constexpr uint32_t kDirectoryMask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                    IN_MOVED_TO | IN_MOVED_FROM | IN_MOVE_SELF | IN_DELETE_SELF;
// On the parent: the store's folder appearing, or another one renamed into its place.
constexpr uint32_t kParentMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;

// One watched store folder, and its parent so that a folder created or renamed into place is
// seen at once. A watch descriptor of -1 means "not watched now".
struct WatchedDirectory {
  std::string path;
  std::string parent;
  std::string name;  // the last component, as the parent's events name it
  int watch = -1;
  int parent_watch = -1;
  std::string problem;  // why `watch` is -1
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
      const std::filesystem::path path = std::filesystem::path(directory).lexically_normal();
      WatchedDirectory watched;
      watched.path = directory;
      watched.name =
          path.has_filename() ? path.filename().string() : path.parent_path().filename().string();
      watched.parent =
          (path.has_filename() ? path.parent_path() : path.parent_path().parent_path()).string();
      directories_.push_back(std::move(watched));
    }
    retryUnwatched();
  }

  bool waitForChange(std::chrono::milliseconds timeout) override {
    // A folder that appeared since the last call is a change: its certificates are new to us.
    if (retryUnwatched()) {
      return true;
    }
    if (!waitForRelevantEvent(timeout)) {
      return false;
    }
    while (waitForRelevantEvent(kSettleTime)) {
    }
    return true;
  }

  std::vector<std::string> unwatched() const override {
    std::vector<std::string> problems;
    for (const WatchedDirectory& directory : directories_) {
      if (directory.watch < 0) {
        problems.push_back(directory.problem);
      }
    }
    return problems;
  }

 private:
  // Tries to watch every folder (and parent) not watched now. True when a folder that could not
  // be watched before is watched now (not on the first attempt: nothing was missed then).
  bool retryUnwatched() {
    bool found = false;
    for (WatchedDirectory& directory : directories_) {
      if (directory.parent_watch < 0 && !directory.parent.empty()) {
        directory.parent_watch =
            ::inotify_add_watch(inotify_.get(), directory.parent.c_str(), kParentMask);
      }
      if (directory.watch >= 0) {
        continue;
      }
      directory.watch =
          ::inotify_add_watch(inotify_.get(), directory.path.c_str(), kDirectoryMask | IN_ONLYDIR);
      if (directory.watch < 0) {
        directory.problem = "cannot watch " + directory.path +
                            " for changes: " + std::strerror(errno) +
                            " (tried again until it exists)";
      } else {
        directory.problem.clear();
        found = found || watched_once_;
      }
    }
    watched_once_ = true;
    return found;
  }

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

  // Reads every queued event; true when one concerns a certificate database file, or a store
  // folder itself went away or came (back).
  bool drainEvents() {
    bool relevant = false;
    alignas(inotify_event) std::array<char, 16 * 1024> buffer{};
    for (;;) {
      const ssize_t length = ::read(inotify_.get(), buffer.data(), buffer.size());
      if (length <= 0) {
        break;  // EAGAIN: queue empty
      }
      for (ssize_t offset = 0; offset < length;) {
        inotify_event event{};
        std::memcpy(&event, buffer.data() + offset, sizeof(event));
        const std::string_view name(
            buffer.data() + offset + sizeof(inotify_event),
            ::strnlen(buffer.data() + offset + sizeof(inotify_event), event.len));
        relevant = handleEvent(event, name) || relevant;
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event.len);
      }
    }
    // A folder moved or deleted away: watch what is at its path now, if anything.
    relevant = retryUnwatched() || relevant;
    return relevant;
  }

  bool handleEvent(const inotify_event& event, std::string_view name) {
    if ((event.mask & IN_Q_OVERFLOW) != 0) {
      return true;
    }
    bool relevant = false;
    for (WatchedDirectory& directory : directories_) {
      if (event.wd == directory.watch) {
        if ((event.mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED)) != 0) {
          // The watch follows the inode: after a move it would watch the old folder. Drop it
          // and watch the path again.
          if ((event.mask & IN_IGNORED) == 0) {
            ::inotify_rm_watch(inotify_.get(), directory.watch);
          }
          directory.watch = -1;
          directory.problem = "cannot watch " + directory.path + ": it was moved or deleted";
          relevant = true;
        } else {
          relevant = relevant || isCertDatabaseFile(name);
        }
      }
      if (event.wd == directory.parent_watch) {
        if ((event.mask & IN_IGNORED) != 0) {
          directory.parent_watch = -1;
        } else if (name == directory.name) {
          // Created, renamed into place, or moved away: watch whatever the path holds now.
          if (directory.watch >= 0) {
            ::inotify_rm_watch(inotify_.get(), directory.watch);
            directory.watch = -1;
          }
          relevant = true;
        }
      }
    }
    return relevant;
  }

  FileDescriptor inotify_;
  std::vector<WatchedDirectory> directories_;
  bool watched_once_ = false;  // false only for the first attempt, from the constructor
};

}  // namespace

std::unique_ptr<StoreWatcher> makeStoreWatcher(const std::vector<std::string>& locations) {
  return std::make_unique<InotifyStoreWatcher>(locations);
}

}  // namespace certbridge::platform
