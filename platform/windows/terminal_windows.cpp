#include <iostream>

#include "platform/terminal.h"
#include "platform/windows/windows_text.h"

namespace certbridge::platform {

bool standardInputIsTerminal() {
  DWORD mode = 0;
  return GetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), &mode) != 0;
}

std::string readLineWithoutEcho() {
  const HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
  DWORD saved = 0;
  GetConsoleMode(input, &saved);
  SetConsoleMode(input, saved & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
  std::string line;
  std::getline(std::cin, line);
  SetConsoleMode(input, saved);
  return line;
}

}  // namespace certbridge::platform
