#include "agent/config/config.h"

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
  EXPECT_NE(errorFor(store_ + "[sync]\ninterval = 0\n").find("expected a whole number from 1 to"),
            std::string::npos);
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

// The README: "A ; or # after a space starts a comment"; a whole line may be a comment too.
TEST_F(ConfigTest, WholeLineHashCommentsAreComments) {
  const AgentConfig config = loadConfig(write(R"(# certbridge configuration
[storage]
  # an indented one
path = /var/lib/x.db
; the other kind
)" + store_ + R"(#policy = manual
[sync]
# interval = 5
interval = 60 # a minute
)"));
  EXPECT_EQ(config.storage_path, "/var/lib/x.db");
  EXPECT_EQ(config.stores.at(0).policy, "auto");
  EXPECT_EQ(config.sync_interval.count(), 60);
  EXPECT_NE(errorFor(store_ + "poli#cy = manual\n").find("'store.main.poli#cy' is not known"),
            std::string::npos)
      << "only a whole line, or after a space, is a comment";
}

// Every numeric key has a range, checked at load: values that would overflow later, or make no
// sense, are refused naming the key, the value and the range.
TEST_F(ConfigTest, NumbersOutsideTheirDocumentedRangeAreRefused) {
  const struct {
    std::string section;
    std::string key;
    std::string value;
    std::string range;
  } cases[] = {
      {"sync", "interval", "9223372037", "from 1 to 604800"},
      {"sync", "interval", "99999999999999999999999", "from 1 to 604800"},
      {"sync", "interval", "-5", "from 1 to 604800"},
      {"web", "session_timeout", "9223372036854775807", "from 60 to 2592000"},
      {"web", "session_timeout", "59", "from 60 to 2592000"},
      {"web", "threads", "65", "from 1 to 64"},
      {"web", "max_body", "67108865", "from 1 to 67108864"},
      {"web", "metrics_certificates", "0", "from 1 to 100000"},
      {"web", "metrics_certificates", "100001", "from 1 to 100000"},
      {"web", "metrics_expiry_days", "3651", "from 1 to 3650"},
      {"storage", "busy_timeout_ms", "600001", "from 1 to 600000"},
      {"nginx", "command_timeout", "3601", "from 1 to 3600"},
      {"nginx", "command_timeout", "0", "from 1 to 3600"},
      {"crl", "max_size", "1073741825", "from 1 to 1073741824"},
      {"crl", "connect_timeout", "301", "from 1 to 300"},
      {"crl", "read_timeout", "3601", "from 1 to 3600"},
      {"crl", "refresh_at", "100", "from 1 to 99"},
      {"crl", "min_lead", "31536001", "from 1 to 31536000"},
      {"crl", "retry_initial", "86401", "from 1 to 86400"},
      {"crl", "retry_max", "2592001", "from 1 to 2592000"},
      {"crl", "warning_margin", "31536001", "from 1 to 31536000"},
  };
  for (const auto& c : cases) {
    const std::string error =
        errorFor(store_ + "[" + c.section + "]\n" + c.key + " = " + c.value + "\n");
    EXPECT_NE(error.find("key '" + c.section + "." + c.key + "' is '" + c.value +
                         "'; expected a whole number " + c.range),
              std::string::npos)
        << error;
  }
  // The bounds themselves are accepted.
  const AgentConfig config = loadConfig(
      write(store_ + "[sync]\ninterval = 604800\n[web]\nsession_timeout = 2592000\nthreads = "
                     "64\n[nginx]\ncommand_timeout = 3600\n[crl]\nrefresh_at = 99\nretry_max "
                     "= 2592000\n"));
  EXPECT_EQ(config.sync_interval.count(), 604800);
  EXPECT_EQ(config.web.session_timeout.count(), 2592000);
  EXPECT_EQ(config.nginx.command_timeout.count(), 3600);
  EXPECT_NE(errorFor(store_ + "[crl]\nretry_initial = 600\nretry_max = 60\n")
                .find("'crl.retry_max' is 60, less than crl.retry_initial (600)"),
            std::string::npos);
}

TEST_F(ConfigTest, MetricsSeriesDefaultToTheHundredSoonestAndAWeek) {
  const AgentConfig defaults = loadConfig(write(store_));
  EXPECT_EQ(defaults.web.metrics_certificates, 100);
  EXPECT_EQ(defaults.web.metrics_expiry_days, 7);
  const AgentConfig set = loadConfig(
      write(store_ + "[web]\nmetrics_certificates = 100000\nmetrics_expiry_days = 3650\n"));
  EXPECT_EQ(set.web.metrics_certificates, 100000);
  EXPECT_EQ(set.web.metrics_expiry_days, 3650);
}

TEST_F(ConfigTest, CommandTimeoutDefaultsToThirtySeconds) {
  EXPECT_EQ(loadConfig(write(store_)).nginx.command_timeout.count(), 30);
  EXPECT_EQ(loadConfig(write(store_ + "[nginx]\ncommand_timeout = 5\n")).nginx.command_timeout,
            std::chrono::seconds(5));
}

TEST_F(ConfigTest, CrlFetchPolicyKeys) {
  const AgentConfig defaults = loadConfig(write(store_));
  EXPECT_FALSE(defaults.crl.upload_cdps);
  EXPECT_TRUE(defaults.crl.allowed_hosts.empty());
  const AgentConfig config =
      loadConfig(write(store_ + "[crl]\nupload_cdps = true\nallowed_hosts = CRL.example.com, "
                                "*.pki.example.org 127.0.0.1  ; ours\n"));
  EXPECT_TRUE(config.crl.upload_cdps);
  EXPECT_EQ(config.crl.allowed_hosts,
            (std::vector<std::string>{"crl.example.com", "*.pki.example.org", "127.0.0.1"}));
  EXPECT_NE(errorFor(store_ + "[crl]\nallowed_hosts = http://crl.example.com/\n")
                .find("'crl.allowed_hosts' has 'http://crl.example.com/'"),
            std::string::npos);
}

TEST_F(ConfigTest, AStoreMayNotTakeTheNameOfTheUploadsPseudoStore) {
  EXPECT_NE(errorFor("[store.uploads]\ntype = nss\npath = sql:/x\n")
                .find("'store.uploads' names the pseudo-store"),
            std::string::npos);
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  EXPECT_THROW(loadConfig(dir_.file("absent.ini")), ConfigError);
}

// [fleet]: off unless postgres is set; the node is the host name unless named; a password in
// the conninfo itself is refused (it belongs in a passfile) without being quoted back.
TEST_F(ConfigTest, FleetIsOffByDefaultAndReadsItsKeys) {
  const AgentConfig plain = loadConfig(write(store_));
  EXPECT_FALSE(plain.fleet.enabled());
  EXPECT_FALSE(plain.fleet.node.empty());
  EXPECT_EQ(plain.fleet.heartbeat.count(), 30);

  const AgentConfig fleet = loadConfig(write(store_ + R"(
[fleet]
postgres = host=db.example.net dbname=certbridge user=certbridge_agent passfile=/etc/password.d/pg
node = edge-1
heartbeat = 5
)"));
  EXPECT_TRUE(fleet.fleet.enabled());
  EXPECT_EQ(fleet.fleet.postgres,
            "host=db.example.net dbname=certbridge user=certbridge_agent "
            "passfile=/etc/password.d/pg");
  EXPECT_EQ(fleet.fleet.node, "edge-1");
  EXPECT_EQ(fleet.fleet.heartbeat.count(), 5);
}

TEST_F(ConfigTest, FleetRefusesAPasswordInTheConninfoAndABadNodeOrHeartbeat) {
  for (const std::string conninfo :
       {"host=db password=s3cret-value", "host=db  password = s3cret-value",
        "postgresql://agent:s3cret-value@db/certbridge",
        "postgresql://agent@db/certbridge?password=s3cret-value"}) {
    const std::string message = errorFor(store_ + "[fleet]\npostgres = " + conninfo + "\n");
    EXPECT_NE(message.find("key 'fleet.postgres' holds a password; put it in a passfile"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("s3cret-value"), std::string::npos) << message;
  }
  EXPECT_NE(errorFor(store_ + "[fleet]\npostgres = host=db\nnode = edge 1\n")
                .find("key 'fleet.node' is 'edge 1'; expected a name of 1 to 253 characters"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[fleet]\nheartbeat = 0\n")
                .find("key 'fleet.heartbeat' is '0'; expected a whole number from 1 to 3600"),
            std::string::npos);
  EXPECT_NE(errorFor(store_ + "[fleet]\nlisten = x\n").find("section [fleet] takes"),
            std::string::npos);
}

}  // namespace
}  // namespace certbridge::agent
