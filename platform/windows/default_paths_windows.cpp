#include "platform/default_paths.h"

// clang-format off
#include <windows.h>
#include <shlobj.h>
// clang-format on

#include <memory>

#include "platform/windows/windows_text.h"

namespace certbridge::platform {
namespace {

struct CoTaskMemFreeDeleter {
  void operator()(wchar_t* text) const { CoTaskMemFree(text); }
};

// %ProgramData% (C:\ProgramData on a default installation), where services keep their files.
std::string programData() {
  wchar_t* path = nullptr;
  const HRESULT result = SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &path);
  const std::unique_ptr<wchar_t, CoTaskMemFreeDeleter> owned(path);
  return SUCCEEDED(result) && path != nullptr ? windows::toUtf8(path) : "C:\\ProgramData";
}

}  // namespace

std::string defaultConfigFile() {
  return programData() + "\\certbridge\\certbridge.ini";
}

std::string defaultStateDirectory() {
  return programData() + "\\certbridge";
}

}  // namespace certbridge::platform
