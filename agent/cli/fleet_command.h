#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace certbridge::agent {

// `certbridge fleet init [--postgres CONNINFO]`: `options` are the words after "fleet". Returns
// the exit code (kExitOk, kExitFailure, kExitUsage); errors go to `err`, one line each.
int commandFleet(const std::vector<std::string>& options, const std::string& config_path,
                 std::ostream& out, std::ostream& err);

}  // namespace certbridge::agent
