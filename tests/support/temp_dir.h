#pragma once

#include <filesystem>
#include <string>

namespace certbridge::testing {

// A fresh directory under $TMPDIR, removed with everything in it when the object goes.
// World-readable (0755) so that an nginx worker running as another user can reach files in it.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void writeFile(const std::string& path, const std::string& content);
std::string readFile(const std::string& path);

}  // namespace certbridge::testing
