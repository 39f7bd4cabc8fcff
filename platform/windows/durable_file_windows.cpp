#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>

#include "platform/durable_file.h"
#include "platform/process_signal.h"
#include "platform/windows/windows_text.h"

namespace certbridge::platform {
namespace {

struct HandleCloser {
  void operator()(HANDLE handle) const {
    if (handle != INVALID_HANDLE_VALUE) {
      CloseHandle(handle);
    }
  }
};
using FileHandle = std::unique_ptr<void, HandleCloser>;

[[noreturn]] void failWithLastError(const std::string& what) {
  throw std::runtime_error(what + ": " + windows::errorText(GetLastError()));
}

}  // namespace

void writeFileDurably(const std::filesystem::path& path, const std::string& content) {
  const FileHandle file(CreateFileW(path.wstring().c_str(), GENERIC_WRITE, 0, nullptr,
                                    CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (file.get() == INVALID_HANDLE_VALUE) {
    failWithLastError("cannot create " + path.string());
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const DWORD chunk =
        static_cast<DWORD>(std::min<std::size_t>(content.size() - written, 1 << 20));
    DWORD done = 0;
    if (!WriteFile(file.get(), content.data() + written, chunk, &done, nullptr)) {
      failWithLastError("cannot write " + path.string());
    }
    written += done;
  }
  if (!FlushFileBuffers(file.get())) {
    failWithLastError("cannot flush " + path.string() + " to disk");
  }
}

// NTFS journals renames itself; there is no directory handle to flush.
void syncDirectory(const std::filesystem::path& /*directory*/) {}

FileLock::FileLock(const std::filesystem::path& path, std::chrono::milliseconds timeout)
    : handle_(0) {
  FileHandle file(CreateFileW(path.wstring().c_str(), GENERIC_READ | GENERIC_WRITE,
                              FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS,
                              FILE_ATTRIBUTE_NORMAL, nullptr));
  if (file.get() == INVALID_HANDLE_VALUE) {
    failWithLastError("cannot open " + path.string());
  }
  // The lock covers one byte far past the end, not the pid text, which others read to name the
  // holder (a locked range cannot be read by another process).
  const auto lockRange = [&](DWORD flags) {
    OVERLAPPED far_byte{};
    far_byte.OffsetHigh = 1;
    return LockFileEx(file.get(), flags, 0, 1, 0, &far_byte) != 0;
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!lockRange(LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY)) {
    if (GetLastError() != ERROR_LOCK_VIOLATION && GetLastError() != ERROR_IO_PENDING) {
      failWithLastError("cannot lock " + path.string());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      char text[32] = {};
      DWORD read = 0;
      ReadFile(file.get(), text, sizeof text - 1, &read, nullptr);
      const std::string holder(text, read);
      std::string who;
      if (const long pid = std::atol(holder.c_str()); pid > 0) {
        who = " by pid " + std::to_string(pid);
        if (const std::string what = describeProcess(pid); !what.empty()) {
          who += ", " + what;
        }
      }
      throw std::runtime_error(
          "another publish holds the lock on " + path.string() + who + "; gave up after " +
          (timeout.count() % 1000 == 0 ? std::to_string(timeout.count() / 1000) + " s"
                                       : std::to_string(timeout.count()) + " ms"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string pid = std::to_string(GetCurrentProcessId()) + "\r\n";
  DWORD written = 0;
  SetFilePointer(file.get(), 0, nullptr, FILE_BEGIN);
  SetEndOfFile(file.get());
  WriteFile(file.get(), pid.data(), static_cast<DWORD>(pid.size()), &written, nullptr);
  handle_ = reinterpret_cast<std::intptr_t>(file.release());
}

FileLock::~FileLock() {
  CloseHandle(reinterpret_cast<HANDLE>(handle_));  // closing releases the lock
}

}  // namespace certbridge::platform
