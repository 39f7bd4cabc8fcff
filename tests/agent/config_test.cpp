#include "agent/config.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace certbridge::agent {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    testing::writeFile(dir_.file("certbridge.ini"), text);
    return dir_.file("certbridge.ini");
  }

  // The message of the ConfigError that loading `text` throws.
  std::string errorFor(const std::string& text) {
    try {
      loadConfig(write(text));
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "no error";
  }

  testing::TempDir dir_;
  const std::string store_ = "[store.main]\ntype = nss\npath = sql:/etc/pki/nssdb\n";
};

TEST_F(ConfigTest, DefaultsForEverythingButTheStore) {
  const AgentConfig config = loadConfig(write(store_));
  EXPECT_EQ(config.storage_path, "/var/lib/certbridge/certbridge.db");
  EXPECT_EQ(config.nginx.output_dir, "/etc/nginx/certbridge");
  EXPECT_EQ(config.nginx.test_command, "nginx -t");
  EXPECT_EQ(config.nginx.reload_command, "nginx -s reload");
  EXPECT_EQ(config.nginx.pid_file, "");
  EXPECT_EQ(config.sync_interval.count(), 300);
  EXPECT_EQ(config.storage_busy_timeout.count(), 5000);
  ASSERT_EQ(config.stores.size(), 1u);
  EXPECT_EQ(config.stores[0].name, "main");
  EXPECT_EQ(config.stores[0].policy, "auto");
}

TEST_F(ConfigTest, TheDocumentedExampleWithInlineCommentsReadsAsMeant) {
  const AgentConfig config = loadConfig(write(R"(
[storage]
path = /var/lib/certbridge/certbridge.db
[store.corp]            ; one section per store, any NAME
type = nss              ; nss here
path = sql:/etc/pki/nssdb
policy = manual         ; manual: needs approval
[nginx]
output_dir = /etc/nginx/certbridge
test_command = nginx -t
pid_file = /run/nginx.pid
[sync]
interval = 60
)"));
  EXPECT_EQ(config.stores[0].name, "corp");
  EXPECT_EQ(config.stores[0].type, "nss");
  EXPECT_EQ(config.stores[0].policy, "manual");
  EXPECT_EQ(config.nginx.pid_file, "/run/nginx.pid");
  EXPECT_EQ(config.sync_interval.count(), 60);
}

TEST_F(ConfigTest, ErrorsNameTheFileTheKeyAndWhatWasExpected) {
  const std::string missing_path = errorFor("[store.main]\ntype = nss\n");
  EXPECT_NE(missing_path.find(dir_.file("certbridge.ini")), std::string::npos) << missing_path;
  EXPECT_NE(missing_path.find("'store.main.path' is missing"), std::string::npos) << missing_path;

  EXPECT_NE(errorFor(store_ + "policy = sometimes\n").find("expected auto or manual"),
            std::string::npos);
  EXPECT_NE(errorFor("[store.main]\ntype = pkcs11\npath = x\n").find("expected nss or cryptoapi"),
            std::string::npos);
  EXPECT_NE(errorFor("[store.main]\ntype = cryptoapi\nstores = Root\n")
                .find("'store.main.location' is missing"),
            std::string::npos);
  EXPECT_NE(errorFor("[store.main]\ntype = cryptoapi\nlocation = everywhere\nstores = Root\n")
                .find("expected local_machine, current_user or service:NAME"),
            std::string::npos);
  EXPECT_NE(errorFor("[store.main]\ntype = cryptoapi\nlocation = current_user\nstores = Root,,CA\n")
                .find("empty store name"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[sync]\ninterval = soon\n")
                .find("'sync.interval' is 'soon'; expected a whole number"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[sync]\ninterval = 0\n").find("greater than 0"), std::string::npos);
  EXPECT_NE(errorFor(store_ + "[log]\nlevel = loud\n").find("'log.level' is 'loud'"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[nginx]\noutput_dir = relative/dir\n").find("absolute path"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[nginx]\noutput_dir = /etc/nginx/x;evil\n").find("may not contain"),
            std::string::npos);
}

TEST_F(ConfigTest, MisspeltKeysAndSectionsAreErrors) {
  EXPECT_NE(errorFor(store_ + "polcy = manual\n").find("'store.main.polcy' is not known"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[ngnix]\noutput_dir = /x\n").find("unknown section"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[nginx]\nreload = x\n").find("'nginx.reload' is not known"),
            std::string::npos);
}

TEST_F(ConfigTest, CryptoApiStoreNamesItsLocationAndSystemStores) {
  const AgentConfig config =
      loadConfig(write("[store.windows]\ntype = cryptoapi\nlocation = service:nginx\n"
                       "stores = Root, CA ,TrustedPeople,NginxClients  ; custom store too\n"));
  const StoreConfig& store = config.stores.at(0);
  EXPECT_EQ(store.stores,
            (std::vector<std::string>{"Root", "CA", "TrustedPeople", "NginxClients"}));
  const platform::StoreLocation location = store.storeLocation();
  EXPECT_EQ(location.type, "cryptoapi");
  EXPECT_EQ(location.path, "service:nginx");
  EXPECT_EQ(location.system_stores, store.stores);
  EXPECT_EQ(store.whereText(), "service:nginx:Root,CA,TrustedPeople,NginxClients");
}

TEST_F(ConfigTest, WorkingDirectoryAndLogFileAreRead) {
  const AgentConfig config =
      loadConfig(write(store_ + "[nginx]\nworking_directory = " + dir_.path().string() +
                       "\n[log]\nfile = " + dir_.file("certbridge.log") + "\n"));
  EXPECT_EQ(config.nginx.working_directory, dir_.path().string());
  EXPECT_EQ(config.log_file, dir_.file("certbridge.log"));
  EXPECT_NE(errorFor(store_ + "[nginx]\nworking_directory = " + dir_.file("nowhere") + "\n")
                .find("which is not a folder"),
            std::string::npos);
}

TEST_F(ConfigTest, NoStoreIsAnError) {
  EXPECT_NE(errorFor("[sync]\ninterval = 5\n").find("no [store.NAME] section"), std::string::npos);
}

TEST_F(ConfigTest, PidFileAndReloadCommandExcludeEachOther) {
  EXPECT_NE(errorFor(store_ + "[nginx]\npid_file = /run/nginx.pid\nreload_command = nginx -s "
                              "reload\n")
                .find("choose one way"),
            std::string::npos);
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  EXPECT_THROW(loadConfig(dir_.file("absent.ini")), ConfigError);
}

}  // namespace
}  // namespace certbridge::agent
