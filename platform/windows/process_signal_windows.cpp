// windows.h first (through windows_text.h).
#include <memory>
#include <stdexcept>

#include "platform/process_signal.h"
#include "platform/windows/windows_text.h"

namespace certbridge::platform {

// Windows has no SIGHUP: nginx for Windows reloads through `nginx -s reload`, run from its
// folder, which is what [nginx] reload_command is for. That path cannot reach another program:
// `nginx -s` signals the named event "ngx_reload_PID" that only the nginx master with that pid
// creates, and fails when there is none.
bool signalNginxReload(const std::string& pid_file) {
  throw std::runtime_error("[nginx] pid_file (" + pid_file +
                           ") reloads nginx with SIGHUP, which Windows does not have; set "
                           "reload_command = nginx -p C:\\nginx -s reload instead");
}

std::string describeProcess(long pid) {
  struct HandleCloser {
    void operator()(HANDLE handle) const { CloseHandle(handle); }
  };
  const std::unique_ptr<void, HandleCloser> process(
      OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid)));
  if (!process) {
    return "";
  }
  wchar_t image[MAX_PATH * 4];
  DWORD size = static_cast<DWORD>(sizeof image / sizeof image[0]);
  if (!QueryFullProcessImageNameW(process.get(), 0, image, &size)) {
    return "";
  }
  return "'" + windows::toUtf8(std::wstring(image, size)) + "'";
}

}  // namespace certbridge::platform
