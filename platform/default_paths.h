#pragma once

#include <string>

namespace certbridge::platform {

// Where certbridge looks for its configuration and keeps its state unless told otherwise:
// /etc/certbridge/certbridge.ini and /var/lib/certbridge on Linux,
// %ProgramData%\certbridge\certbridge.ini and %ProgramData%\certbridge on Windows.
std::string defaultConfigFile();
std::string defaultStateDirectory();

}  // namespace certbridge::platform
