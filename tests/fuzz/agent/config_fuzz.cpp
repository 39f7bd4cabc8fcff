// loadConfig: the INI configuration file. loadConfig reads a path, so each input is written to
// one temporary file first. Contract: an AgentConfig or a ConfigError, nothing else.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/config/config.h"

using certbridge::agent::ConfigError;

namespace {

// One file for the whole run, removed at exit.
class TemporaryConfigFile {
 public:
  TemporaryConfigFile() {
    path_ = (std::filesystem::temp_directory_path() / "certbridge-config-fuzz-XXXXXX").string();
    const int descriptor = mkstemp(path_.data());
    if (descriptor < 0) {
      std::abort();
    }
    close(descriptor);
  }
  TemporaryConfigFile(const TemporaryConfigFile&) = delete;
  TemporaryConfigFile& operator=(const TemporaryConfigFile&) = delete;
  ~TemporaryConfigFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string& configPath() {
  static const TemporaryConfigFile file;
  return file.path();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream file(configPath(), std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    (void)certbridge::agent::loadConfig(configPath());
  } catch (const ConfigError&) {
  }
  return 0;
}
