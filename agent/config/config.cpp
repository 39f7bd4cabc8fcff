#include "agent/config/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "storage/password.h"

namespace certbridge::agent {
namespace {

using Poco::Util::AbstractConfiguration;

const std::map<std::string, std::set<std::string>> kKnownKeys = {
    {"storage", {"path", "busy_timeout_ms", "history_days"}},
    {"nginx",
     {"output_dir", "test_command", "reload_command", "pid_file", "dump_command",
      "working_directory", "command_timeout"}},
    {"sync", {"interval"}},
    {"fleet", {"postgres", "node", "heartbeat"}},
    {"log", {"level", "file"}},
    {"web",
     {"enabled", "listen", "admin_password_hash", "api_token_sha256", "public_status", "max_body",
      "threads", "session_timeout", "trusted_proxies", "metrics_certificates",
      "metrics_expiry_days"}},
    {"crl",
     {"enabled", "missing", "max_size", "connect_timeout", "read_timeout", "refresh_at", "min_lead",
      "retry_initial", "retry_max", "warning_margin", "upload_cdps", "allowed_hosts"}},
};

// The range of every numeric key, checked at load. The bounds keep every later computation
// (seconds to milliseconds, deadlines as now + value, doubling back-offs) far from overflow,
// and say what is sensible: a value outside them is a typing mistake, not a wish.
struct NumericRange {
  long long minimum;
  long long maximum;
};
const std::map<std::string, NumericRange> kNumericRanges = {
    {"storage.busy_timeout_ms", {1, 600'000}},   // up to 10 minutes
    {"storage.history_days", {1, 36'500}},       // up to 100 years
    {"nginx.command_timeout", {1, 3'600}},       // up to an hour
    {"sync.interval", {1, 604'800}},             // up to a week
    {"fleet.heartbeat", {1, 3'600}},             // up to an hour
    {"web.max_body", {1, 67'108'864}},           // up to 64 MiB
    {"web.threads", {1, 64}},                    //
    {"web.session_timeout", {60, 2'592'000}},    // a minute to 30 days
    {"web.metrics_certificates", {1, 100'000}},  //
    {"web.metrics_expiry_days", {1, 3'650}},     // up to 10 years
    {"crl.max_size", {1, 1'073'741'824}},        // up to 1 GiB
    {"crl.connect_timeout", {1, 300}},           // up to 5 minutes
    {"crl.read_timeout", {1, 3'600}},            // up to an hour
    {"crl.refresh_at", {1, 99}},                 // percent
    {"crl.min_lead", {1, 31'536'000}},           // up to a year
    {"crl.retry_initial", {1, 86'400}},          // up to a day
    {"crl.retry_max", {1, 2'592'000}},           // up to 30 days
    {"crl.warning_margin", {1, 31'536'000}},     // up to a year
};
const std::set<std::string> kStoreKeys = {"type", "path", "location", "stores", "policy"};
const std::set<std::string> kLogLevels = {"fatal",  "critical",    "error", "warning",
                                          "notice", "information", "debug", "trace"};

std::string joined(const std::set<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text;
}

// Poco's INI reader knows only ';' comments and takes a '#' line for a key. Whole-line '#'
// comments become empty lines here, so that line numbers stay as in the file.
std::string withoutHashCommentLines(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::string result;
  for (std::string line; std::getline(stream, line);) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '#') {
      line.clear();
    }
    result += line + "\n";
  }
  return result;
}

class IniReader {
 public:
  explicit IniReader(const std::string& path) : path_(path) {
    if (!std::ifstream(path)) {
      throw ConfigError("cannot read configuration file " + path + ": " +
                        (std::filesystem::exists(path) ? "permission denied" : "no such file"));
    }
    try {
      std::istringstream text(withoutHashCommentLines(path));
      ini_ = Poco::makeAuto<Poco::Util::IniFileConfiguration>(text);
    } catch (const Poco::Exception& error) {
      throw ConfigError("cannot parse configuration file " + path + ": " + error.displayText());
    }
  }

  const AbstractConfiguration& ini() const { return *ini_; }

  bool has(const std::string& key) const { return ini_->hasOption(key); }

  // Poco keeps everything after '=' as the value; an inline "; comment" is cut here so that a
  // line copied from the documentation means what it says.
  std::string text(const std::string& key) const {
    std::string value = ini_->getRawString(key);
    for (const char* marker : {" ;", "\t;", " #", "\t#"}) {
      if (const auto at = value.find(marker); at != std::string::npos) {
        value.erase(at);
      }
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.pop_back();
    }
    return value;
  }

  std::string text(const std::string& key, const std::string& fallback) const {
    return has(key) ? text(key) : fallback;
  }

  std::string required(const std::string& key, const std::string& expected) const {
    if (!has(key) || text(key).empty()) {
      fail(key, "is missing; expected " + expected);
    }
    return text(key);
  }

  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) {
      return fallback;
    }
    const std::string value = text(key);
    if (value == "true" || value == "yes" || value == "on" || value == "1") {
      return true;
    }
    if (value == "false" || value == "no" || value == "off" || value == "0") {
      return false;
    }
    fail(key, "is '" + value + "'; expected true or false");
  }

  // A whole number within the key's documented range (kNumericRanges; every minimum is 1 or
  // more).
  long long positive(const std::string& key, long long fallback) const {
    const NumericRange& range = kNumericRanges.at(key);
    if (!has(key)) {
      return fallback;
    }
    const std::string value = text(key);
    const std::string expected = "expected a whole number from " + std::to_string(range.minimum) +
                                 " to " + std::to_string(range.maximum);
    long long parsed = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (error != std::errc() || end != value.data() + value.size() || parsed < range.minimum ||
        parsed > range.maximum) {
      fail(key, "is '" + value + "'; " + expected);
    }
    return parsed;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(path_ + ": key '" + key + "' " + problem);
  }

 private:
  std::string path_;
  Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini_;
};

void rejectUnknownKeys(const IniReader& reader) {
  AbstractConfiguration::Keys sections;
  reader.ini().keys(sections);
  for (const std::string& section : sections) {
    AbstractConfiguration::Keys keys;
    reader.ini().keys(section, keys);
    if (section == "crl") {
      for (const std::string& key : keys) {
        if (key != "urls" && !kKnownKeys.at("crl").contains(key)) {
          reader.fail("crl." + key, "is not known; section [crl] takes: " +
                                        joined(kKnownKeys.at("crl")) + ", and [crl.urls]");
        }
      }
      continue;
    }
    if (section == "store") {
      for (const std::string& store : keys) {
        AbstractConfiguration::Keys store_keys;
        reader.ini().keys("store." + store, store_keys);
        for (const std::string& key : store_keys) {
          if (!kStoreKeys.contains(key)) {
            reader.fail("store." + store + "." + key,
                        "is not known; a store section takes: " + joined(kStoreKeys));
          }
        }
      }
      continue;
    }
    const auto known = kKnownKeys.find(section);
    if (known == kKnownKeys.end()) {
      reader.fail(section,
                  "names an unknown section; known: storage, store.NAME, nginx, sync, fleet, "
                  "log, web, crl, crl.urls");
    }
    for (const std::string& key : keys) {
      if (!known->second.contains(key)) {
        reader.fail(section + "." + key,
                    "is not known; section [" + section + "] takes: " + joined(known->second));
      }
    }
  }
}

// These paths are written into nginx configuration inside double quotes.
void requireNginxSafePath(const IniReader& reader, const std::string& key,
                          const std::string& path) {
  if (path.find_first_of("\"\\$;{}\n\r") != std::string::npos) {
    reader.fail(key, "is '" + path + "'; it may not contain \" \\ $ ; { } or a line break");
  }
  if (!std::filesystem::path(path).is_absolute()) {
    reader.fail(key, "is '" + path + "'; expected an absolute path");
  }
}

// A password in the conninfo itself: `password=…` as a key (or a URI parameter), or a URI's
// user:password@.
bool conninfoHoldsPassword(const std::string& conninfo) {
  for (std::size_t at = conninfo.find("password"); at != std::string::npos;
       at = conninfo.find("password", at + 1)) {
    const bool starts_key =
        at == 0 || std::string(" \t?&").find(conninfo[at - 1]) != std::string::npos;
    const std::size_t after = conninfo.find_first_not_of(" \t", at + 8);
    if (starts_key && after != std::string::npos && conninfo[after] == '=') {
      return true;
    }
  }
  for (const std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (conninfo.starts_with(scheme)) {
      const std::string authority =
          conninfo.substr(scheme.size(), conninfo.find('/', scheme.size()) - scheme.size());
      const std::size_t user_end = authority.rfind('@');
      return user_end != std::string::npos &&
             authority.substr(0, user_end).find(':') != std::string::npos;
    }
  }
  return false;
}

}  // namespace

platform::StoreLocation StoreConfig::storeLocation() const {
  return type == "cryptoapi" ? platform::StoreLocation{type, location, stores}
                             : platform::StoreLocation{type, path, {}};
}

std::string StoreConfig::whereText() const {
  if (type != "cryptoapi") {
    return path;
  }
  std::string text = location + ":";
  for (std::size_t i = 0; i < stores.size(); ++i) {
    text += (i == 0 ? "" : ",") + stores[i];
  }
  return text;
}

AgentConfig loadConfig(const std::string& path) {
  const IniReader reader(path);
  rejectUnknownKeys(reader);

  AgentConfig config;
  config.source_file = path;
  config.storage_path = reader.text("storage.path", config.storage_path);
  config.storage_busy_timeout =
      std::chrono::milliseconds(reader.positive("storage.busy_timeout_ms", 5000));
  config.storage_history_days = reader.positive("storage.history_days", 90);

  AbstractConfiguration::Keys store_names;
  reader.ini().keys("store", store_names);
  for (const std::string& name : store_names) {
    const std::string prefix = "store." + name + ".";
    StoreConfig store;
    store.name = name;
    store.type = reader.required(prefix + "type", "nss or cryptoapi");
    if (store.type == "nss") {
      store.path = reader.required(prefix + "path", "the NSS database, e.g. sql:/etc/pki/nssdb");
    } else if (store.type == "cryptoapi") {
      store.location =
          reader.required(prefix + "location", "local_machine, current_user or service:NAME");
      if (store.location != "local_machine" && store.location != "current_user" &&
          !(store.location.starts_with("service:") && store.location.size() > 8)) {
        reader.fail(prefix + "location", "is '" + store.location +
                                             "'; expected local_machine, current_user or "
                                             "service:NAME");
      }
      std::istringstream names(
          reader.required(prefix + "stores", "system store names, e.g. Root, CA, TrustedPeople"));
      for (std::string system_store; std::getline(names, system_store, ',');) {
        system_store.erase(0, system_store.find_first_not_of(" \t"));
        system_store.erase(system_store.find_last_not_of(" \t") + 1);
        if (system_store.empty()) {
          reader.fail(prefix + "stores", "has an empty store name");
        }
        store.stores.push_back(system_store);
      }
    } else {
      reader.fail(prefix + "type", "is '" + store.type + "'; expected nss or cryptoapi");
    }
    if (name == "uploads") {
      reader.fail("store.uploads",
                  "names the pseudo-store of certificates uploaded through the "
                  "web page; give the store another name");
    }
    store.policy = reader.text(prefix + "policy", "auto");
    if (store.policy != "auto" && store.policy != "manual") {
      reader.fail(prefix + "policy", "is '" + store.policy + "'; expected auto or manual");
    }
    config.stores.push_back(store);
  }
  if (config.stores.empty()) {
    throw ConfigError(path +
                      ": no [store.NAME] section; at least one store is needed, e.g.\n"
                      "  [store.system]\n  type = nss\n  path = sql:/etc/pki/nssdb");
  }

  config.nginx.output_dir = reader.text("nginx.output_dir", config.nginx.output_dir);
  requireNginxSafePath(reader, "nginx.output_dir", config.nginx.output_dir);
  config.nginx.test_command = reader.text("nginx.test_command", config.nginx.test_command);
  config.nginx.reload_command = reader.text("nginx.reload_command", config.nginx.reload_command);
  config.nginx.pid_file = reader.text("nginx.pid_file", "");
  if (reader.has("nginx.pid_file") && reader.has("nginx.reload_command")) {
    reader.fail("nginx.pid_file",
                "and nginx.reload_command are both set; choose one way to "
                "reload nginx");
  }
  config.nginx.dump_command = reader.text("nginx.dump_command", config.nginx.dump_command);
  config.nginx.working_directory = reader.text("nginx.working_directory", "");
  if (!config.nginx.working_directory.empty() &&
      !std::filesystem::is_directory(config.nginx.working_directory)) {
    reader.fail("nginx.working_directory",
                "is '" + config.nginx.working_directory + "', which is not a folder");
  }
  config.nginx.command_timeout = std::chrono::seconds(
      reader.positive("nginx.command_timeout", config.nginx.command_timeout.count()));
  for (const char* key : {"nginx.test_command", "nginx.reload_command", "nginx.dump_command"}) {
    if (reader.has(key) && reader.text(key).empty()) {
      reader.fail(key, "is empty; expected a command such as 'nginx -t'");
    }
  }

  config.sync_interval = std::chrono::seconds(reader.positive("sync.interval", 300));

  CrlSettings& crl = config.crl;
  crl.enabled = reader.boolean("crl.enabled", crl.enabled);
  crl.missing = reader.text("crl.missing", crl.missing);
  if (crl.missing != "refuse" && crl.missing != "omit") {
    reader.fail("crl.missing", "is '" + crl.missing + "'; expected refuse or omit");
  }
  crl.max_size = static_cast<std::size_t>(reader.positive("crl.max_size", 64LL * 1024 * 1024));
  const auto seconds = [&](const char* key, std::chrono::seconds fallback) {
    return std::chrono::seconds(reader.positive(key, fallback.count()));
  };
  crl.connect_timeout = seconds("crl.connect_timeout", crl.connect_timeout);
  crl.read_timeout = seconds("crl.read_timeout", crl.read_timeout);
  crl.min_lead = seconds("crl.min_lead", crl.min_lead);
  crl.retry_initial = seconds("crl.retry_initial", crl.retry_initial);
  crl.retry_max = seconds("crl.retry_max", crl.retry_max);
  crl.warning_margin = seconds("crl.warning_margin", crl.warning_margin);
  crl.refresh_at_percent = static_cast<int>(reader.positive("crl.refresh_at", 80));
  if (crl.retry_max < crl.retry_initial) {
    reader.fail("crl.retry_max", "is " + std::to_string(crl.retry_max.count()) +
                                     ", less than crl.retry_initial (" +
                                     std::to_string(crl.retry_initial.count()) + ")");
  }
  crl.upload_cdps = reader.boolean("crl.upload_cdps", crl.upload_cdps);
  std::istringstream host_patterns(reader.text("crl.allowed_hosts", ""));
  for (std::string pattern; host_patterns >> pattern;) {
    if (!pattern.empty() && pattern.back() == ',') {
      pattern.pop_back();
    }
    std::transform(pattern.begin(), pattern.end(), pattern.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string_view rest =
        pattern.starts_with("*.") ? std::string_view(pattern).substr(2) : std::string_view(pattern);
    if (rest.empty() ||
        rest.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != std::string::npos) {
      reader.fail("crl.allowed_hosts", "has '" + pattern +
                                           "'; expected host names, IP addresses or *.DOMAIN "
                                           "patterns separated by spaces");
    }
    crl.allowed_hosts.push_back(pattern);
  }
  config.web_enabled = reader.boolean("web.enabled", true);
  web::WebSettings& web = config.web;
  web.listen = reader.text("web.listen", web.listen);
  if (web.listen.find(':') == std::string::npos) {
    reader.fail("web.listen", "is '" + web.listen + "'; expected HOST:PORT, e.g. 127.0.0.1:8080");
  }
  web.admin_password_hash = reader.text("web.admin_password_hash", "");
  if (!web.admin_password_hash.empty() && !storage::isPasswordHash(web.admin_password_hash)) {
    reader.fail("web.admin_password_hash",
                "is not a password hash; make one with 'certbridge hash-password'");
  }
  web.api_token_sha256 = reader.text("web.api_token_sha256", "");
  if (!web.api_token_sha256.empty() &&
      (web.api_token_sha256.size() != 64 ||
       web.api_token_sha256.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    reader.fail("web.api_token_sha256",
                "is not a SHA-256 in lower-case hex (printf %s TOKEN | sha256sum)");
  }
  web.public_status = reader.boolean("web.public_status", false);
  web.max_body = static_cast<std::size_t>(reader.positive("web.max_body", 1024 * 1024));
  web.threads = static_cast<int>(reader.positive("web.threads", 8));
  web.session_timeout = seconds("web.session_timeout", web.session_timeout);
  web.metrics_certificates = reader.positive("web.metrics_certificates", web.metrics_certificates);
  web.metrics_expiry_days = reader.positive("web.metrics_expiry_days", web.metrics_expiry_days);
  try {
    web.trusted_proxies = web::parseAddressRanges(reader.text("web.trusted_proxies", ""));
  } catch (const std::invalid_argument& error) {
    reader.fail("web.trusted_proxies", error.what());
  }
  web.crl_warning_margin = crl.warning_margin;

  AbstractConfiguration::Keys fingerprints;
  reader.ini().keys("crl.urls", fingerprints);
  for (const std::string& fingerprint : fingerprints) {
    std::string normalised;
    for (const char c : fingerprint) {
      if (c != ':') {
        normalised.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
    }
    if (normalised.size() != 64 ||
        normalised.find_first_not_of("0123456789abcdef") != std::string::npos) {
      reader.fail("crl.urls." + fingerprint,
                  "is not a CA's SHA-256 fingerprint (64 hex digits, as 'status --json' shows)");
    }
    std::vector<std::string>& urls = crl.extra_urls[normalised];
    std::istringstream words(reader.text("crl.urls." + fingerprint));
    for (std::string url; words >> url;) {
      if (!url.starts_with("http://") && !url.starts_with("file://")) {
        reader.fail("crl.urls." + fingerprint,
                    "has '" + url + "'; expected http:// or file:// URLs");
      }
      urls.push_back(url);
    }
  }
  FleetSettings& fleet = config.fleet;
  fleet.postgres = reader.text("fleet.postgres", "");
  if (fleet.postgres.find_first_of("\r\n") != std::string::npos) {
    reader.fail("fleet.postgres", "holds a line break");  // not quoted: it may hold a password
  }
  if (conninfoHoldsPassword(fleet.postgres)) {
    reader.fail("fleet.postgres",
                "holds a password; put it in a passfile (passfile=FILE or PGPASSFILE) instead, "
                "readable by certbridge only");
  }
  fleet.node = reader.text("fleet.node", Poco::Environment::nodeName());
  if (fleet.node.empty() || fleet.node.size() > 253 ||
      std::any_of(fleet.node.begin(), fleet.node.end(),
                  [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
    reader.fail("fleet.node",
                "is '" + fleet.node + "'; expected a name of 1 to 253 characters without spaces");
  }
  fleet.heartbeat = std::chrono::seconds(reader.positive("fleet.heartbeat", 30));

  config.log_level = reader.text("log.level", config.log_level);
  config.log_file = reader.text("log.file", "");
  if (!kLogLevels.contains(config.log_level)) {
    reader.fail("log.level",
                "is '" + config.log_level + "'; expected one of " + joined(kLogLevels));
  }
  return config;
}

}  // namespace certbridge::agent
