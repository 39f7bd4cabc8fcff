#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "platform/file_access.h"

namespace certbridge::platform {

bool Account::superuser() const {
  return uid == 0;
}

namespace {

std::string userName(uid_t uid) {
  const passwd* entry = ::getpwuid(uid);
  return entry != nullptr ? entry->pw_name : "uid " + std::to_string(uid);
}

}  // namespace

std::optional<Account> accountNamed(const std::string& name) {
  const passwd* entry = ::getpwnam(name.c_str());
  if (entry == nullptr) {
    return std::nullopt;
  }
  Account account{entry->pw_uid, entry->pw_gid, {}, name};
  int count = 64;
  account.groups.resize(static_cast<std::size_t>(count));
  if (::getgrouplist(name.c_str(), entry->pw_gid, account.groups.data(), &count) < 0) {
    account.groups.resize(static_cast<std::size_t>(count));
    ::getgrouplist(name.c_str(), entry->pw_gid, account.groups.data(), &count);
  }
  account.groups.resize(static_cast<std::size_t>(std::max(count, 0)));
  return account;
}

// The account of a running process, from /proc: real uid, gid and supplementary groups.
std::optional<Account> accountOfProcess(long pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) {
    return std::nullopt;
  }
  Account account;
  bool found = false;
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line.substr(line.find(':') + 1));
    if (line.starts_with("Uid:")) {
      fields >> account.uid;
      found = true;
    } else if (line.starts_with("Gid:")) {
      fields >> account.gid;
    } else if (line.starts_with("Groups:")) {
      for (gid_t group = 0; fields >> group;) {
        account.groups.push_back(group);
      }
    }
  }
  if (!found) {
    return std::nullopt;
  }
  account.name = userName(account.uid);
  return account;
}

Account currentAccount() {
  Account account{::getuid(), ::getgid(), {}, userName(::getuid())};
  const int count = ::getgroups(0, nullptr);
  account.groups.resize(static_cast<std::size_t>(std::max(count, 0)));
  account.groups.resize(
      static_cast<std::size_t>(std::max(::getgroups(count, account.groups.data()), 0)));
  return account;
}

// Whether `account` may open `path` for reading: search permission on every directory above it
// and read permission on the file, by owner, group or other bits. Root may read anything.
bool canRead(const std::filesystem::path& path, const Account& account) {
  if (account.uid == 0) {
    return std::filesystem::exists(path);
  }
  const auto allowed = [&](const struct stat& info, mode_t owner, mode_t group, mode_t other) {
    if (info.st_uid == account.uid) {
      return (info.st_mode & owner) != 0;
    }
    if (info.st_gid == account.gid || std::find(account.groups.begin(), account.groups.end(),
                                                info.st_gid) != account.groups.end()) {
      return (info.st_mode & group) != 0;
    }
    return (info.st_mode & other) != 0;
  };
  std::filesystem::path directory;
  for (const auto& part : path.parent_path()) {
    directory /= part;
    struct stat info {};
    if (::stat(directory.c_str(), &info) != 0 || !allowed(info, S_IXUSR, S_IXGRP, S_IXOTH)) {
      return false;
    }
  }
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && allowed(info, S_IRUSR, S_IRGRP, S_IROTH);
}

std::string describeOwnership(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return "";
  }
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", info.st_mode & 07777);
  return std::string("mode ") + mode + ", owner " + userName(info.st_uid);
}

}  // namespace certbridge::platform
