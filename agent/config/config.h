#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/nginx/nginx_publisher.h"
#include "platform/cert_store.h"
#include "platform/default_paths.h"
#include "web/web_settings.h"

namespace certbridge::agent {

// A configuration file that cannot be used; the message names the file, the key and what was
// expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoreConfig {
  std::string name;                 // from the section name [store.NAME]
  std::string type;                 // "nss" (Linux) or "cryptoapi" (Windows)
  std::string path;                 // NSS: sql:/dir
  std::string location;             // CryptoAPI: local_machine, current_user or service:NAME
  std::vector<std::string> stores;  // CryptoAPI: system store names, e.g. Root, CA, My
  std::string policy;               // "auto" or "manual"

  platform::StoreLocation storeLocation() const;
  // Where the store is, in one line: the NSS path, or "current_user:Root,CA".
  std::string whereText() const;
};

// How CRLs are found, fetched, refreshed and published.
struct CrlSettings {
  bool enabled = true;
  std::string missing = "refuse";  // "refuse" or "omit"
  std::size_t max_size = 64 * 1024 * 1024;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds read_timeout{30};
  int refresh_at_percent = 80;  // of the thisUpdate..nextUpdate window
  std::chrono::seconds min_lead{3600};
  std::chrono::seconds retry_initial{60};
  std::chrono::seconds retry_max{3600};
  std::chrono::seconds warning_margin{86400};
  std::map<std::string, std::vector<std::string>> extra_urls;  // CA SHA-256 → URLs
  // Distribution points named in uploaded certificates are fetched only when this is set: an
  // upload would otherwise be a request to make the agent fetch any URL.
  bool upload_cdps = false;
  // When not empty, distribution points are fetched only from these hosts: exact names or
  // addresses, or "*.example.com" for any name under example.com. Lower case.
  std::vector<std::string> allowed_hosts;
};

// The fleet this host shares its trusted-client list with (README, Fleet); Linux only.
struct FleetSettings {
  // libpq conninfo or postgresql:// URI of the fleet's database; empty: this host is in no fleet.
  // May hold no password (libpq reads it from a passfile), and is never logged as it is.
  std::string postgres;
  std::string node;  // this host's name in the fleet; the host name by default
  std::chrono::seconds heartbeat{30};

  bool enabled() const { return !postgres.empty(); }
};

// Everything the agent reads from its INI file, validated.
struct AgentConfig {
  std::string source_file;
  std::string storage_path =
      (std::filesystem::path(platform::defaultStateDirectory()) / "certbridge.db").string();
  std::chrono::milliseconds storage_busy_timeout{5000};
  // Days a publish attempt is kept in publish_history.
  std::int64_t storage_history_days = 90;
  std::vector<StoreConfig> stores;
  NginxSettings nginx{.output_dir = "/etc/nginx/certbridge",
                      .test_command = "nginx -t",
                      .reload_command = "nginx -s reload",
                      .pid_file = "",
                      .dump_command = "nginx -T"};
  std::chrono::seconds sync_interval{300};
  CrlSettings crl;
  FleetSettings fleet;
  bool web_enabled = true;
  web::WebSettings web;
  std::string log_level = "information";
  std::string log_file;  // also log here (rotated at 10 MB, 5 kept); empty: standard error only
};

// Reads and validates an INI file. Unknown sections and keys are errors too: a misspelt key
// would otherwise silently fall back to its default.
AgentConfig loadConfig(const std::string& path);

}  // namespace certbridge::agent
