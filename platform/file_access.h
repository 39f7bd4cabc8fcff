#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace certbridge::platform {

// Who a process runs as, for "can nginx's master process read this file?". On POSIX the user and
// group ids; on Windows only the name (doctor does not judge file access there).
struct Account {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;  // supplementary groups
  std::string name;

  bool superuser() const;  // root: may read any file
};

// The account of a running process (/proc on Linux); nullopt when there is no such process or
// the platform cannot tell.
std::optional<Account> accountOfProcess(long pid);
Account currentAccount();
std::optional<Account> accountNamed(const std::string& user);

// Whether `account` may open `path` for reading: search permission on every folder above it and
// read permission on the file, by owner, group or other bits.
bool canRead(const std::filesystem::path& path, const Account& account);

// "mode 0600, owner root", for messages; empty when unknown.
std::string describeOwnership(const std::filesystem::path& path);

}  // namespace certbridge::platform
