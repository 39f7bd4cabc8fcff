// parseNginxDump: what `nginx -T` prints, read by `certbridge doctor`. Contract: a configuration
// or an NginxConfigError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/nginx/nginx_config.h"

using certbridge::agent::NginxConfigError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto config =
        certbridge::agent::parseNginxDump(std::string(reinterpret_cast<const char*>(data), size));
    (void)config.resolve("relative/file.pem");
  } catch (const NginxConfigError&) {
  }
  return 0;
}
