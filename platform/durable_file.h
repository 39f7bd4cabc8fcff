#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace certbridge::platform {

// Writes `content` to `path` (created or truncated) and flushes it to disk before returning.
// On POSIX the mode is 0644 whatever the umask: the files hold only public certificates and
// nginx's master may run as another user. Throws std::runtime_error naming the file and the OS
// error.
void writeFileDurably(const std::filesystem::path& path, const std::string& content);

// Flushes a directory's entries (the renames into it) to disk. Windows has no such step.
void syncDirectory(const std::filesystem::path& directory);

// An exclusive lock on `path` (created when missing), held until destruction: one publisher at
// a time per output directory. The holder writes its process id into the file, so that one who
// waits in vain can be told who holds it. Waits at most `timeout` for a lock another process
// holds, then throws std::runtime_error naming the file and the holder (pid and command line)
// when it can be known; also when the file cannot be opened or locked.
class FileLock {
 public:
  FileLock(const std::filesystem::path& path, std::chrono::milliseconds timeout);
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  std::intptr_t handle_;  // a file descriptor or a Windows HANDLE
};

}  // namespace certbridge::platform
