#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace certbridge::agent {

// Exit codes of the certbridge command.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the command ran and something failed
constexpr int kExitUsage = 2;    // bad command line or configuration

// Parses the command line and runs the command. Everything a person needs to act on goes to
// `out` (results) or `err` (errors, one line each); nothing throws out of here.
int runCli(const std::vector<std::string>& arguments, std::ostream& out, std::ostream& err);

}  // namespace certbridge::agent
