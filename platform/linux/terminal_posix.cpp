#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "platform/terminal.h"

namespace certbridge::platform {

bool standardInputIsTerminal() {
  return ::isatty(STDIN_FILENO) != 0;
}

std::string readLineWithoutEcho() {
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  return line;
}

}  // namespace certbridge::platform
