#pragma once

// windows.h first: the other Windows headers rely on what it defines.
#include <windows.h>

#include <string>

namespace certbridge::platform::windows {

// UTF-8 <-> UTF-16, for the wide Windows APIs.
std::wstring toWide(const std::string& text);
std::string toUtf8(const std::wstring& text);

// The system's text for a Windows error code, with the code, e.g.
// "The system cannot find the file specified. (error 2)".
std::string errorText(DWORD code);

}  // namespace certbridge::platform::windows
