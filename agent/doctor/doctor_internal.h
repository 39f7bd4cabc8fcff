#pragma once

// What the files of agent/doctor share: the bundle reader, chain walking and the helpers of
// every group of checks. Internal to agent/doctor.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "agent/doctor/doctor.h"
#include "agent/doctor/tls_probe.h"
#include "agent/nginx/command.h"
#include "agent/nginx/nginx_config.h"
#include "agent/pki/certificate.h"
#include "agent/pki/crl.h"
#include "agent/pki/openssl_handles.h"
#include "agent/pki/pem_blocks.h"
#include "platform/file_access.h"

namespace certbridge::agent::doctor_internal {

// The TLS CertificateRequest carries the CA names in a list with a 16-bit length.
constexpr std::size_t kCaNamesLimit = 65535;
// Debian's nginx is built with this prefix; `-p DIR` in the dump command overrides it.
constexpr const char* kDefaultNginxPrefix = "/usr/share/nginx";
constexpr const char* kDefaultPidFile = "/run/nginx.pid";

inline CheckResult check(const std::string& id, CheckStatus status, std::string message,
                         std::string fix = "") {
  return CheckResult{id, status, std::move(message), std::move(fix)};
}

inline std::string quote(const std::string& text) {
  return "'" + text + "'";
}

inline std::string statusWord(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass: return "pass";
    case CheckStatus::warn: return "warn";
    case CheckStatus::fail: return "fail";
  }
  return "fail";
}

// --- the files nginx is pointed at -------------------------------------------------------------

// One file named by ssl_client_certificate, ssl_trusted_certificate or ssl_crl.
// Move-only: `crls` point into the DER of `blocks`. A move hands the blocks' buffers over
// with them; a copy would leave the copied Crls pointing into the original.
struct BundleFile {
  BundleFile() = default;
  BundleFile(const BundleFile&) = delete;
  BundleFile& operator=(const BundleFile&) = delete;
  BundleFile(BundleFile&&) noexcept = default;
  BundleFile& operator=(BundleFile&&) noexcept = default;
  ~BundleFile() = default;

  std::string directive;
  std::string path;
  std::string where;  // file:line of the directive
  bool readable = false;
  std::string read_error;
  std::vector<PemBlock> blocks;
  std::vector<std::string> parse_errors;
  std::vector<Certificate> certificates;
  std::vector<Crl> crls;  // point into `blocks`, which do not change once read

  std::string describe(const PemBlock& block) const { return describePemBlock(path, block); }
};

inline BundleFile readBundle(const NginxConfig& config, const NginxDirective& directive) {
  BundleFile file;
  file.directive = directive.name;
  file.path = config.resolve(directive.arguments.empty() ? "" : directive.arguments.front());
  file.where = directive.where();
  std::ifstream stream(file.path, std::ios::binary);
  if (!stream) {
    file.read_error = std::filesystem::exists(file.path)
                          ? "certbridge doctor, running as " + platform::currentAccount().name +
                                ", cannot read it (" + platform::describeOwnership(file.path) + ")"
                          : "it does not exist";
    return file;
  }
  file.readable = true;
  const std::string text((std::istreambuf_iterator<char>(stream)),
                         std::istreambuf_iterator<char>());
  const bool crl_file = directive.name == "ssl_crl";
  PemFileContents contents = readPemBlocks(text, crl_file ? "X509 CRL" : "CERTIFICATE", file.path);
  file.blocks = std::move(contents.blocks);
  file.parse_errors = std::move(contents.errors);
  for (const PemBlock& block : file.blocks) {
    try {
      if (crl_file) {
        file.crls.push_back(Crl::parse(block.der, file.describe(block)));
      } else {
        file.certificates.push_back(Certificate::fromDer(block.der, file.describe(block)));
      }
    } catch (const std::exception& error) {
      file.parse_errors.push_back(error.what());
    }
  }
  if (file.blocks.empty() && file.parse_errors.empty()) {
    file.parse_errors.push_back(file.path + " holds no PEM block at all");
  }
  return file;
}

// --- one server {} -----------------------------------------------------------------------------

struct ServerContext {
  const NginxConfig& config;
  const NginxDirective& http;
  const NginxDirective& server;

  // A server-level directive, else the one inherited from http {}.
  const NginxDirective* setting(const std::string& name) const {
    const NginxDirective* found = server.find(name);
    return found != nullptr ? found : http.find(name);
  }
  std::string value(const std::string& name, const std::string& fallback) const {
    const NginxDirective* found = setting(name);
    return found != nullptr && !found->arguments.empty() ? found->arguments.front() : fallback;
  }
};

inline std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const std::string& part : parts) {
    text += (text.empty() ? "" : separator) + part;
  }
  return text;
}

inline std::vector<std::string> listenAddresses(const NginxDirective& server) {
  std::vector<std::string> addresses;
  for (const NginxDirective& child : server.children) {
    if (child.name == "listen" && !child.arguments.empty()) {
      addresses.push_back(child.arguments.front());
    }
  }
  return addresses;
}

inline int portOf(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  const std::string port =
      colon == std::string::npos || listen.find(']', colon) != std::string::npos
          ? listen
          : listen.substr(colon + 1);
  return port.find_first_not_of("0123456789") == std::string::npos && !port.empty()
             ? std::stoi(port)
             : (listen.find(':') == std::string::npos ? 80 : 0);
}

inline std::vector<std::string> serverNames(const NginxDirective& server) {
  const NginxDirective* names = server.find("server_name");
  return names != nullptr ? names->arguments : std::vector<std::string>{};
}

// All the certificates nginx may use to build chains: the CA file's and the trusted file's.
inline std::vector<const Certificate*> chainPool(const BundleFile* ca_file,
                                                 const BundleFile* trusted) {
  std::vector<const Certificate*> pool;
  for (const BundleFile* file : {ca_file, trusted}) {
    if (file != nullptr) {
      for (const Certificate& certificate : file->certificates) {
        pool.push_back(&certificate);
      }
    }
  }
  return pool;
}

struct ChainWalk {
  int length = 1;  // certificates from the start up to and including the root
  bool complete = false;
  std::string missing_issuer;
};

inline ChainWalk walkToRoot(const Certificate& start, const std::vector<const Certificate*>& pool) {
  ChainWalk walk;
  const Certificate* current = &start;
  while (!current->isSelfSigned()) {
    const auto issuer = std::find_if(pool.begin(), pool.end(), [&](const Certificate* candidate) {
      return candidate != current && current->isIssuedBy(*candidate);
    });
    if (issuer == pool.end() || walk.length > static_cast<int>(pool.size())) {
      walk.missing_issuer = current->record().issuer;
      return walk;
    }
    current = *issuer;
    ++walk.length;
  }
  walk.complete = true;
  return walk;
}

inline std::string subjectOf(const Certificate& certificate) {
  return quote(certificate.record().subject);
}

// Server checks (server_checks.cpp): nullopt for a server {} that does not verify clients.
std::optional<ServerDiagnosis> diagnoseServer(const ServerContext& context,
                                              const DoctorOptions& options,
                                              const std::optional<platform::Account>& master,
                                              const std::string& master_how,
                                              const std::optional<platform::Account>& worker);

// nginx's own errors (nginx_errors.cpp).
CheckResult translateNginxError(const std::string& line);

std::vector<CheckResult> translateDumpFailure(const CommandResult& result,
                                              const std::string& command);

// nginx at run time: prefix, master process, error log (nginx_runtime.cpp).
std::string nginxPrefix(const std::string& dump_command);

std::string prefixed(const std::string& prefix, const std::string& path);

struct MasterProcess {
  std::optional<platform::Account> account;
  std::string how;  // "nginx's master (pid 12, from /run/nginx.pid) runs as root"
};

MasterProcess findMaster(const NginxConfig& config, const std::string& prefix);

std::string errorLogPath(const NginxConfig& config, const ServerContext* context,
                         const std::string& prefix);

std::uintmax_t fileSize(const std::string& path);

// The last line nginx logged about a client certificate or TLS since `offset`.
std::string nginxReason(const std::string& error_log, std::uintmax_t offset);

// The endpoint probe (endpoint_checks.cpp).
struct Endpoint {
  std::string host;
  int port = 0;
};

CheckResult endpointCaNames(const TlsProbeResult& probe, const std::string& endpoint,
                            const BundleFile* ca_file);

CheckResult endpointClient(const TlsProbeResult& probe, const std::string& endpoint,
                           const std::string& certificate, const std::string& reason,
                           const std::string& error_log);

Endpoint parseEndpoint(const std::string& text);

// The verifying server {} an endpoint reaches: one listening on its port with the name given
// (or the first one on the port).
const ServerContext* serverFor(const std::vector<ServerContext>& servers, int port,
                               const std::string& name);

}  // namespace certbridge::agent::doctor_internal
