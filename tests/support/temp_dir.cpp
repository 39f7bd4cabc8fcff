#include "tests/support/temp_dir.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace certbridge::testing {

TempDir::TempDir() {
  // std::filesystem rather than mkdtemp, which Windows lacks: a random name, taken only when
  // create_directory made it (false when it was already there). $TMPDIR first, as mkdtemp did.
  const char* base = std::getenv("TMPDIR");
  const std::filesystem::path parent =
      base != nullptr ? std::filesystem::path(base) : std::filesystem::temp_directory_path();
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::filesystem::path candidate =
        parent / ("certbridge-test-" + std::to_string(random()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      std::filesystem::permissions(path_, std::filesystem::perms(0755));
      return;
    }
  }
  throw std::runtime_error("cannot make a fresh directory in " + parent.string());
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  if (!(stream << content)) {
    throw std::runtime_error("cannot write " + path);
  }
}

std::string readFile(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw std::runtime_error("cannot read " + path);
  }
  std::ostringstream content;
  content << stream.rdbuf();
  return content.str();
}

}  // namespace certbridge::testing
