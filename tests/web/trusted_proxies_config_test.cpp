#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "tests/support/temp_dir.h"

namespace certbridge::web {
namespace {

// [web] trusted_proxies as the configuration file gives it.
class TrustedProxiesConfig : public ::testing::Test {
 protected:
  agent::AgentConfig load(const std::string& trusted_proxies) {
    testing::writeFile(dir_.file("certbridge.ini"),
                       "[store.main]\ntype = nss\npath = sql:/etc/pki/nssdb\n[web]\n"
                       "trusted_proxies = " +
                           trusted_proxies + "\n");
    return agent::loadConfig(dir_.file("certbridge.ini"));
  }

  testing::TempDir dir_;
};

TEST_F(TrustedProxiesConfig, ListsAddressesAndNetworks) {
  const auto proxies = load("127.0.0.1, 10.0.0.0/8 ::1").web.trusted_proxies;
  ASSERT_EQ(proxies.size(), 3u);
  EXPECT_EQ(proxies[1].text(), "10.0.0.0/8");
  EXPECT_TRUE(load("").web.trusted_proxies.empty());
}

TEST_F(TrustedProxiesConfig, ABadEntryIsAnErrorNamingTheKeyAndTheEntry) {
  try {
    load("127.0.0.1, 10.0.0.0/33");
    ADD_FAILURE() << "accepted";
  } catch (const agent::ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("web.trusted_proxies"), std::string::npos) << message;
    EXPECT_NE(message.find("'10.0.0.0/33'"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace certbridge::web
