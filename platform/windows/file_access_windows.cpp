#include <fstream>

#include "platform/file_access.h"
#include "platform/windows/windows_text.h"

namespace certbridge::platform {

// nginx for Windows runs as whoever starts it, and NTFS access lists do not reduce to owner,
// group and other: doctor checks only that the file can be opened by the account it runs as.
bool Account::superuser() const {
  return false;
}

std::optional<Account> accountOfProcess(long /*pid*/) {
  return std::nullopt;
}

Account currentAccount() {
  wchar_t name[256];
  DWORD size = 256;
  Account account;
  account.name = GetUserNameW(name, &size) ? windows::toUtf8(std::wstring(name, size - 1)) : "";
  return account;
}

std::optional<Account> accountNamed(const std::string& /*user*/) {
  return std::nullopt;
}

bool canRead(const std::filesystem::path& path, const Account& /*account*/) {
  return std::ifstream(path, std::ios::binary).good();
}

std::string describeOwnership(const std::filesystem::path& /*path*/) {
  return "";
}

}  // namespace certbridge::platform
