#include <algorithm>
#include <memory>
#include <stdexcept>

#include "platform/durable_file.h"
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

FileLock::FileLock(const std::filesystem::path& path) : handle_(0) {
  FileHandle file(CreateFileW(path.wstring().c_str(), GENERIC_READ | GENERIC_WRITE,
                              FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS,
                              FILE_ATTRIBUTE_NORMAL, nullptr));
  if (file.get() == INVALID_HANDLE_VALUE) {
    failWithLastError("cannot open " + path.string());
  }
  OVERLAPPED whole_file{};
  if (!LockFileEx(file.get(), LOCKFILE_EXCLUSIVE_LOCK, 0, MAXDWORD, MAXDWORD, &whole_file)) {
    failWithLastError("cannot lock " + path.string());
  }
  handle_ = reinterpret_cast<std::intptr_t>(file.release());
}

FileLock::~FileLock() {
  CloseHandle(reinterpret_cast<HANDLE>(handle_));  // closing releases the lock
}

}  // namespace certbridge::platform
