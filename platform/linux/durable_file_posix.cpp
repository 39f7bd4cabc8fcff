#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "platform/durable_file.h"
#include "platform/process_signal.h"

namespace certbridge::platform {
namespace {

[[noreturn]] void failWithErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

void writeFileDurably(const std::filesystem::path& path, const std::string& content) {
  const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    failWithErrno("cannot create " + path.string());
  }
  ::fchmod(fd.get(), 0644);  // whatever the umask says
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t result = ::write(fd.get(), content.data() + written, content.size() - written);
    if (result < 0) {
      if (errno == EINTR) {
        continue;
      }
      failWithErrno("cannot write " + path.string());
    }
    written += static_cast<std::size_t>(result);
  }
  if (::fsync(fd.get()) != 0) {
    failWithErrno("cannot flush " + path.string() + " to disk");
  }
}

void syncDirectory(const std::filesystem::path& directory) {
  const UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    failWithErrno("cannot flush directory " + directory.string());
  }
}

// flock has no timeout; the lock is retried instead (publishes are seconds apart).
FileLock::FileLock(const std::filesystem::path& path, std::chrono::milliseconds timeout)
    : handle_(-1) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    failWithErrno("cannot open lock file " + path.string());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      failWithErrno("cannot lock " + path.string());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string holder;
      std::ifstream(path) >> holder;
      std::string who;
      long pid = 0;
      const auto [end, error] = std::from_chars(holder.data(), holder.data() + holder.size(), pid);
      // Written by the holder (certbridge writes its pid); anything else is only repeated.
      if (!holder.empty() && error == std::errc() && end == holder.data() + holder.size() &&
          pid > 0) {
        who = " by pid " + holder;
        if (const std::string what = describeProcess(pid); !what.empty()) {
          who += ", " + what;
        }
      } else if (!holder.empty()) {
        who = " (the lock file says '" + holder.substr(0, 40) + "', not a process id)";
      }
      throw std::runtime_error(
          "another publish holds the lock on " + path.string() + who + "; gave up after " +
          (timeout.count() % 1000 == 0 ? std::to_string(timeout.count() / 1000) + " s"
                                       : std::to_string(timeout.count()) + " ms"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) {
    [[maybe_unused]] const auto written = ::pwrite(fd.get(), pid.data(), pid.size(), 0);
  }
  handle_ = fd.release();
}

FileLock::~FileLock() {
  ::close(static_cast<int>(handle_));  // closing releases the lock
}

}  // namespace certbridge::platform
