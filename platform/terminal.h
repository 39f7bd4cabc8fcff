#pragma once

#include <string>

namespace certbridge::platform {

// Whether standard input is a terminal (a person typing) rather than a pipe or a file.
bool standardInputIsTerminal();

// Reads one line from standard input with the terminal's echo off, then restores it.
std::string readLineWithoutEcho();

}  // namespace certbridge::platform
