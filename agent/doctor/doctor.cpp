#include "agent/doctor/doctor.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "agent/doctor/tls_probe.h"
#include "agent/nginx/command.h"
#include "agent/nginx/nginx_config.h"
#include "agent/pki/certificate.h"
#include "agent/pki/crl.h"
#include "agent/pki/openssl_handles.h"
#include "agent/pki/pem_blocks.h"
#include "platform/file_access.h"

namespace certbridge::agent {
namespace {

// The TLS CertificateRequest carries the CA names in a list with a 16-bit length.
constexpr std::size_t kCaNamesLimit = 65535;
// Debian's nginx is built with this prefix; `-p DIR` in the dump command overrides it.
constexpr const char* kDefaultNginxPrefix = "/usr/share/nginx";
constexpr const char* kDefaultPidFile = "/run/nginx.pid";

CheckResult check(const std::string& id, CheckStatus status, std::string message,
                  std::string fix = "") {
  return CheckResult{id, status, std::move(message), std::move(fix)};
}

std::string quote(const std::string& text) {
  return "'" + text + "'";
}

std::string statusWord(CheckStatus status) {
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

BundleFile readBundle(const NginxConfig& config, const NginxDirective& directive) {
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

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const std::string& part : parts) {
    text += (text.empty() ? "" : separator) + part;
  }
  return text;
}

std::vector<std::string> listenAddresses(const NginxDirective& server) {
  std::vector<std::string> addresses;
  for (const NginxDirective& child : server.children) {
    if (child.name == "listen" && !child.arguments.empty()) {
      addresses.push_back(child.arguments.front());
    }
  }
  return addresses;
}

int portOf(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  const std::string port =
      colon == std::string::npos || listen.find(']', colon) != std::string::npos
          ? listen
          : listen.substr(colon + 1);
  return port.find_first_not_of("0123456789") == std::string::npos && !port.empty()
             ? std::stoi(port)
             : (listen.find(':') == std::string::npos ? 80 : 0);
}

std::vector<std::string> serverNames(const NginxDirective& server) {
  const NginxDirective* names = server.find("server_name");
  return names != nullptr ? names->arguments : std::vector<std::string>{};
}

// All the certificates nginx may use to build chains: the CA file's and the trusted file's.
std::vector<const Certificate*> chainPool(const BundleFile* ca_file, const BundleFile* trusted) {
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

ChainWalk walkToRoot(const Certificate& start, const std::vector<const Certificate*>& pool) {
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

std::string subjectOf(const Certificate& certificate) {
  return quote(certificate.record().subject);
}

class ServerDoctor {
 public:
  ServerDoctor(const ServerContext& context, const DoctorOptions& options,
               const std::optional<platform::Account>& master, const std::string& master_how,
               const std::optional<platform::Account>& worker)
      : context_(context),
        options_(options),
        master_(master),
        master_how_(master_how),
        worker_(worker) {
    verify_ = context_.value("ssl_verify_client", "off");
    for (const char* name : {"ssl_client_certificate", "ssl_trusted_certificate", "ssl_crl"}) {
      if (const NginxDirective* directive = context_.setting(name); directive != nullptr) {
        files_.push_back(readBundle(context_.config, *directive));
      }
    }
  }

  bool verifies() const { return verify_ != "off"; }

  ServerDiagnosis diagnose() {
    ServerDiagnosis diagnosis;
    diagnosis.listen = join(listenAddresses(context_.server), ", ");
    diagnosis.server_name = join(serverNames(context_.server), " ");
    diagnosis.where = context_.server.where();
    auto& checks = diagnosis.checks;
    checks.push_back(clientCaConfigured());
    checks.push_back(bundleReadable());
    checks.push_back(bundleParses());
    if (const BundleFile* ca_file = file("ssl_client_certificate");
        ca_file != nullptr && ca_file->readable) {
      checks.push_back(leafInCaFile(*ca_file));
      checks.push_back(chainComplete(*ca_file));
      checks.push_back(verifyDepth(*ca_file));
      checks.push_back(expiry());
      checks.push_back(caNamesSize(*ca_file));
      checks.push_back(crlCoverage());
    }
    checks.push_back(optionalUnchecked());
    return diagnosis;
  }

  const BundleFile* file(const std::string& directive) const {
    const auto found = std::find_if(files_.begin(), files_.end(), [&](const BundleFile& file) {
      return file.directive == directive;
    });
    return found == files_.end() ? nullptr : &*found;
  }

 private:
  CheckResult clientCaConfigured() const {
    const std::string id = "client_ca_configured";
    const NginxDirective* verify = context_.setting("ssl_verify_client");
    const std::string where = verify->where();
    const BundleFile* ca_file = file("ssl_client_certificate");
    const BundleFile* trusted = file("ssl_trusted_certificate");
    const std::string trusted_note =
        trusted == nullptr
            ? ""
            : " ssl_trusted_certificate (" + trusted->where +
                  ") is set, but it does not advertise CA names: only ssl_client_certificate's "
                  "certificates are named to clients.";
    if (ca_file == nullptr) {
      const CheckStatus status =
          verify_ == "optional_no_ca" ? CheckStatus::warn : CheckStatus::fail;
      return check(id, status,
                   "ssl_verify_client " + verify_ + " (" + where +
                       ") without ssl_client_certificate: nginx sends no CA names (\"No client "
                       "certificate CA names sent\"), so browsers and curl offer no certificate." +
                       trusted_note,
                   "ssl_client_certificate /path/to/client-ca.pem; (certbridge writes it: "
                   "include its mtls.conf)");
    }
    if (!std::filesystem::exists(ca_file->path)) {
      return check(id, CheckStatus::fail,
                   "ssl_client_certificate (" + ca_file->where + ") names " + ca_file->path +
                       ", which does not exist: the next start or reload fails",
                   "create the file or correct the path");
    }
    return check(id, CheckStatus::pass,
                 "ssl_verify_client " + verify_ + " (" + where + ") with ssl_client_certificate " +
                     ca_file->path + " (" + ca_file->where + ")");
  }

  CheckResult bundleReadable() const {
    const std::string id = "bundle_readable";
    std::vector<std::string> found;
    std::vector<std::string> notes;
    for (const BundleFile& bundle : files_) {
      if (!std::filesystem::exists(bundle.path)) {
        return check(id, CheckStatus::fail,
                     bundle.directive + " (" + bundle.where + ") names " + bundle.path +
                         ", which does not exist",
                     "create it or correct the path, then nginx -t");
      }
      if (master_ && !platform::canRead(bundle.path, *master_)) {
        return check(id, CheckStatus::fail,
                     master_how_ + " cannot read " + bundle.path + " (" +
                         platform::describeOwnership(bundle.path) + ", named by " +
                         bundle.directive + " at " + bundle.where +
                         "): nginx reads it in the master, so the next start or reload fails",
                     "chmod 0644 " + bundle.path +
                         " (it holds only public certificates) and make its folders "
                         "searchable for " +
                         master_->name);
      }
      if (!bundle.readable) {
        notes.push_back(bundle.path + ": " + bundle.read_error +
                        "; its contents are not checked (run doctor as root)");
      }
      if (master_ && master_->superuser() && worker_ && !platform::canRead(bundle.path, *worker_)) {
        notes.push_back(bundle.path + " is not readable by the workers' user " + worker_->name +
                        ", which is fine: nginx reads it in the master at start and reload");
      }
      found.push_back(bundle.path);
    }
    const std::string message =
        found.empty() ? "no certificate files are named"
                      : join(found, ", ") + (master_ ? " readable by " + master_how_ : "");
    return check(id, notes.empty() || master_ ? CheckStatus::pass : CheckStatus::warn,
                 message + (notes.empty() ? "" : "; " + join(notes, "; ")));
  }

  CheckResult bundleParses() const {
    std::vector<std::string> problems;
    std::vector<std::string> summary;
    for (const BundleFile& bundle : files_) {
      if (!bundle.readable) {
        continue;
      }
      problems.insert(problems.end(), bundle.parse_errors.begin(), bundle.parse_errors.end());
      summary.push_back(bundle.path + ": " + std::to_string(bundle.blocks.size()) +
                        (bundle.directive == "ssl_crl" ? " CRL(s)" : " certificate(s)"));
    }
    if (!problems.empty()) {
      return check("bundle_parses", CheckStatus::fail, join(problems, "; "),
                   "replace the bad block with the PEM of a certificate (or CRL, in the ssl_crl "
                   "file); nginx refuses the whole file at the next reload");
    }
    return check("bundle_parses", CheckStatus::pass, join(summary, "; "));
  }

  CheckResult leafInCaFile(const BundleFile& ca_file) const {
    std::vector<std::string> leaves;
    for (const Certificate& certificate : ca_file.certificates) {
      if (!certificate.record().is_ca) {
        leaves.push_back(subjectOf(certificate));
      }
    }
    if (leaves.empty()) {
      return check("leaf_in_ca_file", CheckStatus::pass,
                   "every certificate in " + ca_file.path + " is a CA");
    }
    return check("leaf_in_ca_file", CheckStatus::warn,
                 ca_file.path + " holds " + std::to_string(leaves.size()) +
                     " certificate(s) that are not CAs: " + join(leaves, ", ") +
                     ". Listing a client certificate here does not restrict access to it: nginx "
                     "still accepts every certificate its issuer signed.",
                 "remove them from the CA file and restrict clients with a map on "
                 "$ssl_client_fingerprint: certbridge's clients.map is that allow-list");
  }

  CheckResult chainComplete(const BundleFile& ca_file) const {
    const auto pool = chainPool(&ca_file, file("ssl_trusted_certificate"));
    for (const Certificate& certificate : ca_file.certificates) {
      const ChainWalk walk = walkToRoot(certificate, pool);
      if (!walk.complete) {
        return check("chain_complete", CheckStatus::fail,
                     subjectOf(certificate) + " in " + ca_file.path +
                         " does not chain to a root: " + "its issuer " +
                         quote(walk.missing_issuer) +
                         " is in neither ssl_client_certificate nor ssl_trusted_certificate, so "
                         "nginx rejects its clients (unable to get issuer certificate)",
                     "add the issuer's certificate, and its issuers up to the self-signed root, "
                     "to " +
                         ca_file.path);
      }
    }
    return check("chain_complete", CheckStatus::pass,
                 "every certificate in " + ca_file.path + " chains to a self-signed root present");
  }

  // nginx hands ssl_verify_depth to OpenSSL, which (since 1.1.0) counts only the intermediate CAs
  // between the client and its root: 0 for a client of a root, 1 behind one intermediate.
  // Checked with nginx 1.22 and OpenSSL 3.0: depth 1 accepts a client of an intermediate.
  CheckResult verifyDepth(const BundleFile& ca_file) const {
    const auto pool = chainPool(&ca_file, file("ssl_trusted_certificate"));
    int needed = 0;
    bool lower_bound = false;  // some chain is incomplete: it is at least this long
    const Certificate* deepest = nullptr;
    for (const Certificate& certificate : ca_file.certificates) {
      if (!certificate.record().is_ca) {
        continue;
      }
      // A client of this CA has walk.length - 1 intermediates above it: the CA and its issuers
      // up to, not counting, the root. When an issuer is missing, every certificate walked is an
      // intermediate (the root is above the missing one): walk.length is what can be seen.
      const ChainWalk walk = walkToRoot(certificate, pool);
      const int intermediates = walk.complete ? walk.length - 1 : walk.length;
      if (!walk.complete) {
        lower_bound = true;
      }
      if (intermediates > needed) {
        needed = intermediates;
        deepest = &certificate;
      }
    }
    const NginxDirective* directive = context_.setting("ssl_verify_depth");
    const int depth = std::atoi(context_.value("ssl_verify_depth", "1").c_str());
    const std::string configured =
        "ssl_verify_depth " + std::to_string(depth) +
        (directive != nullptr ? " (" + directive->where() + ")" : " (nginx's default)");
    const std::string longest =
        "the longest chain in the bundle has " + std::string(lower_bound ? "at least " : "") +
        std::to_string(needed) + " intermediate CA(s) below its root" +
        (lower_bound ? " (a lower bound: some chain has an issuer missing, see chain_complete)"
                     : "");
    if (depth < needed) {
      return check("verify_depth", CheckStatus::fail,
                   configured + " is too short: " + longest + " (" + subjectOf(*deepest) +
                       "), so the clients it issues are rejected (certificate chain too long)",
                   "ssl_verify_depth " + std::to_string(needed) + ";");
    }
    return check("verify_depth", CheckStatus::pass, configured + " covers it: " + longest);
  }

  CheckResult expiry() const {
    CheckStatus status = CheckStatus::pass;
    std::vector<std::string> findings;
    std::size_t count = 0;
    for (const char* directive : {"ssl_client_certificate", "ssl_trusted_certificate"}) {
      const BundleFile* bundle = file(directive);
      if (bundle == nullptr) {
        continue;
      }
      for (const Certificate& certificate : bundle->certificates) {
        ++count;
        const auto& record = certificate.record();
        if (record.not_after < options_.now) {
          status = CheckStatus::fail;
          findings.push_back(subjectOf(certificate) + " in " + bundle->path + " expired on " +
                             storage::formatUtc(record.not_after, "%Y-%m-%d"));
        } else if (record.not_before > options_.now) {
          status = CheckStatus::fail;
          findings.push_back(subjectOf(certificate) + " in " + bundle->path +
                             " is not valid before " +
                             storage::formatUtc(record.not_before, "%Y-%m-%d"));
        } else if (record.not_after < options_.now + options_.expiry_margin.count()) {
          status = std::max(status, CheckStatus::warn);
          findings.push_back(subjectOf(certificate) + " in " + bundle->path + " expires on " +
                             storage::formatUtc(record.not_after, "%Y-%m-%d"));
        }
      }
    }
    if (findings.empty()) {
      return check("expiry", CheckStatus::pass,
                   std::to_string(count) + " certificate(s), all valid for at least " +
                       std::to_string(options_.expiry_margin.count() / 86400) + " more days");
    }
    return check("expiry", status, join(findings, "; "),
                 status == CheckStatus::fail
                     ? "replace the certificate(s): clients chaining through them are rejected"
                     : "renew before the date: afterwards clients chaining through them are "
                       "rejected");
  }

  CheckResult caNamesSize(const BundleFile& ca_file) const {
    std::set<std::string> names;
    std::size_t size = 2;
    for (const Certificate& certificate : ca_file.certificates) {
      const X509_NAME* name = X509_get_subject_name(certificate.get());
      const int length = i2d_X509_NAME(name, nullptr);
      if (length > 0 && names.insert(certificate.record().subject).second) {
        size += 2 + static_cast<std::size_t>(length);
      }
    }
    const std::string found = std::to_string(names.size()) + " CA name(s) from " + ca_file.path +
                              " take " + std::to_string(size) + " bytes of the " +
                              std::to_string(kCaNamesLimit) + "-byte limit";
    const std::string fix =
        "keep in ssl_client_certificate only the CAs clients should pick a certificate for; "
        "move the rest to ssl_trusted_certificate, which verifies without advertising";
    if (size > kCaNamesLimit) {
      return check("ca_names_size", CheckStatus::fail,
                   found + ": every handshake that asks for a client certificate fails", fix);
    }
    if (size > kCaNamesLimit * 3 / 4) {
      return check("ca_names_size", CheckStatus::warn, found + ": close to the limit", fix);
    }
    return check("ca_names_size", CheckStatus::pass, found);
  }

  CheckResult crlCoverage() const {
    const BundleFile* crl_file = file("ssl_crl");
    if (crl_file == nullptr) {
      return check("crl_coverage", CheckStatus::warn,
                   "no ssl_crl: a revoked client certificate is still accepted",
                   "ssl_crl /path/to/crl.pem; with a current CRL of every CA (certbridge writes "
                   "crl.pem)");
    }
    if (!crl_file->readable) {
      return check("crl_coverage", CheckStatus::warn,
                   "not checked: " + crl_file->path + ": " + crl_file->read_error);
    }
    CheckStatus status = CheckStatus::pass;
    std::vector<std::string> findings;
    std::size_t covered = 0;
    for (const Certificate* ca :
         chainPool(file("ssl_client_certificate"), file("ssl_trusted_certificate"))) {
      if (!ca->record().is_ca) {
        continue;
      }
      const Crl* current = nullptr;
      for (const Crl& crl : crl_file->crls) {
        if (crl.isIssuedBy(*ca) &&
            (current == nullptr || crl.thisUpdate() > current->thisUpdate())) {
          current = &crl;
        }
      }
      if (current == nullptr) {
        status = CheckStatus::fail;
        findings.push_back(subjectOf(*ca) + " has no CRL in " + crl_file->path +
                           ": nginx rejects every client it vouches for (unable to get "
                           "certificate CRL)");
        continue;
      }
      try {
        current->verifySignature(*ca);
      } catch (const CrlError& error) {
        status = CheckStatus::fail;
        findings.push_back(error.what());
        continue;
      }
      const auto next_update = current->nextUpdate();
      if (next_update && *next_update < options_.now) {
        status = CheckStatus::fail;
        findings.push_back("the CRL of " + subjectOf(*ca) + " (" + current->origin() +
                           ") expired on " + storage::formatUtc(*next_update, "%Y-%m-%d") +
                           ": nginx rejects its clients (CRL has expired)");
      } else if (next_update && *next_update < options_.now + options_.crl_margin.count()) {
        status = std::max(status, CheckStatus::warn);
        findings.push_back("the CRL of " + subjectOf(*ca) + " expires on " +
                           storage::formatUtc(*next_update, "%Y-%m-%d"));
      } else {
        ++covered;
      }
    }
    if (findings.empty()) {
      return check("crl_coverage", CheckStatus::pass,
                   std::to_string(covered) +
                       " CA(s), each with a current, correctly signed CRL in " + crl_file->path);
    }
    return check("crl_coverage", status, join(findings, "; "),
                 "put a current CRL of every CA into " + crl_file->path +
                     " (certbridge fetches and publishes them: crl.pem)");
  }

  // Variables whose value tells whether the client presented a verified certificate, including
  // those mapped from them at http level.
  std::set<std::string> verifiedClientVariables() const {
    std::set<std::string> variables{"$ssl_client_verify"};
    if (verify_ == "optional") {
      // With "optional", nginx refuses unverified certificates (400), so a certificate being
      // present at all means it verified.
      variables.insert({"$ssl_client_fingerprint", "$ssl_client_s_dn", "$ssl_client_serial",
                        "$ssl_client_cert", "$ssl_client_raw_cert"});
    }
    for (bool grew = true; grew;) {
      grew = false;
      for (const NginxDirective& directive : context_.http.children) {
        if (directive.name == "map" && directive.arguments.size() == 2 &&
            mentionsAny(directive.arguments[0], variables) &&
            variables.insert(directive.arguments[1]).second) {
          grew = true;
        }
      }
    }
    return variables;
  }

  static bool mentionsAny(const std::string& text, const std::set<std::string>& variables) {
    return std::any_of(variables.begin(), variables.end(), [&](const std::string& variable) {
      std::size_t at = text.find(variable);
      while (at != std::string::npos) {
        const std::size_t end = at + variable.size();
        if (end >= text.size() ||
            !(std::isalnum(static_cast<unsigned char>(text[end])) != 0 || text[end] == '_')) {
          return true;
        }
        at = text.find(variable, end);
      }
      return false;
    });
  }

  static bool checksIn(const NginxDirective& block, const std::set<std::string>& variables) {
    return std::any_of(block.children.begin(), block.children.end(), [&](const NginxDirective& d) {
      return d.name == "if" && mentionsAny(join(d.arguments, " "), variables);
    });
  }

  static void uncheckedLocations(const NginxDirective& block,
                                 const std::set<std::string>& variables,
                                 std::vector<const NginxDirective*>& unchecked) {
    for (const NginxDirective& child : block.children) {
      if (child.name != "location" || checksIn(child, variables)) {
        continue;
      }
      const bool has_nested =
          std::any_of(child.children.begin(), child.children.end(),
                      [](const NginxDirective& d) { return d.name == "location"; });
      if (has_nested) {
        uncheckedLocations(child, variables, unchecked);
      } else {
        unchecked.push_back(&child);
      }
    }
  }

  CheckResult optionalUnchecked() const {
    const std::string id = "optional_unchecked";
    if (verify_ != "optional" && verify_ != "optional_no_ca") {
      return check(id, CheckStatus::pass,
                   "ssl_verify_client " + verify_ +
                       ": nginx answers 400 to a request without a valid certificate");
    }
    const std::set<std::string> variables = verifiedClientVariables();
    if (checksIn(context_.server, variables)) {
      return check(id, CheckStatus::pass,
                   "ssl_verify_client " + verify_ + ", and the server checks " +
                       "$ssl_client_verify before any location");
    }
    std::vector<const NginxDirective*> unchecked;
    uncheckedLocations(context_.server, variables, unchecked);
    const bool no_locations =
        std::none_of(context_.server.children.begin(), context_.server.children.end(),
                     [](const NginxDirective& d) { return d.name == "location"; });
    if (unchecked.empty() && !no_locations) {
      return check(
          id, CheckStatus::pass,
          "ssl_verify_client " + verify_ + ", and every location checks $ssl_client_verify");
    }
    std::vector<std::string> places;
    bool passed_on = false;
    for (const NginxDirective* location : unchecked) {
      places.push_back("location " + join(location->arguments, " ") + " (" + location->where() +
                       ")");
      for (const NginxDirective& directive : location->children) {
        const bool forwards =
            directive.name.ends_with("_set_header") || directive.name.ends_with("_param");
        passed_on =
            passed_on || (forwards && mentionsAny(join(directive.arguments, " "), variables));
      }
    }
    if (no_locations) {
      places.push_back("server " + context_.server.where());
    }
    const std::string message =
        "ssl_verify_client " + verify_ + " lets requests without a valid certificate through, " +
        "and nothing checks $ssl_client_verify on the way to " + join(places, ", ");
    const std::string fix =
        "add  if ($ssl_client_verify != SUCCESS) { return 403; }  to the server, or use "
        "ssl_verify_client on";
    if (passed_on) {
      return check(id, CheckStatus::warn,
                   message + "; the verify result is passed to the backend, which must check it",
                   fix);
    }
    return check(id, CheckStatus::fail, message, fix);
  }

  const ServerContext& context_;
  const DoctorOptions& options_;
  const std::optional<platform::Account>& master_;
  const std::string& master_how_;
  const std::optional<platform::Account>& worker_;
  std::string verify_;
  std::vector<BundleFile> files_;
};

// --- nginx -T failures -------------------------------------------------------------------------

CheckResult translateNginxError(const std::string& line) {
  const bool file_problem = line.find("No such file") != std::string::npos ||
                            line.find("Permission denied") != std::string::npos ||
                            line.find("system lib") != std::string::npos;
  if (line.find("no ssl_client_certificate for ssl_verify_client") != std::string::npos) {
    return check("client_ca_configured", CheckStatus::fail,
                 "nginx refuses the configuration: " + line,
                 "add ssl_client_certificate with the CA bundle beside ssl_verify_client "
                 "(ssl_trusted_certificate does not advertise CA names); certbridge's mtls.conf "
                 "sets both");
  }
  const bool bundle = line.find("SSL_CTX_load_verify_locations") != std::string::npos ||
                      line.find("SSL_load_client_CA_file") != std::string::npos ||
                      line.find("X509_LOOKUP_load_file") != std::string::npos ||
                      line.find("X509_STORE_add_crl") != std::string::npos ||
                      line.find("cannot load certificate") != std::string::npos;
  if (bundle && file_problem) {
    return check("bundle_readable", CheckStatus::fail, "nginx cannot open a file: " + line,
                 "create the file named, or correct the path, or let the user nginx starts as "
                 "read it (chmod 0644: it holds only public certificates)");
  }
  if (bundle) {
    return check("bundle_parses", CheckStatus::fail,
                 "nginx cannot load a certificate or CRL file: " + line,
                 "the file must hold PEM certificates (ssl_client_certificate, "
                 "ssl_trusted_certificate, ssl_certificate) or PEM CRLs (ssl_crl) only");
  }
  return check("nginx_config", CheckStatus::fail, "nginx refuses the configuration: " + line,
               "correct the configuration as nginx says, then nginx -t");
}

std::vector<CheckResult> translateDumpFailure(const CommandResult& result,
                                              const std::string& command) {
  std::vector<CheckResult> checks;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[emerg]") != std::string::npos) {
      checks.push_back(translateNginxError(line.substr(line.find("[emerg]"))));
    }
  }
  if (checks.empty()) {
    checks.push_back(
        check("nginx_config", CheckStatus::fail,
              "'" + command + "' " +
                  (result.timed_out ? std::string("did not finish")
                                    : "failed (exit " + std::to_string(result.exit_code) + ")") +
                  ": " + result.output,
              "set [nginx] dump_command to the command that prints nginx's "
              "configuration (nginx -T, with -p/-c as nginx is started)"));
  }
  return checks;
}

// --- where nginx keeps its pid and log ---------------------------------------------------------

std::string nginxPrefix(const std::string& dump_command) {
  const std::vector<std::string> arguments = splitCommandLine(dump_command);
  for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
    if (arguments[i] == "-p") {
      return arguments[i + 1];
    }
  }
  return kDefaultNginxPrefix;
}

std::string prefixed(const std::string& prefix, const std::string& path) {
  return path.starts_with("/") ? path : (std::filesystem::path(prefix) / path).string();
}

struct MasterProcess {
  std::optional<platform::Account> account;
  std::string how;  // "nginx's master (pid 12, from /run/nginx.pid) runs as root"
};

MasterProcess findMaster(const NginxConfig& config, const std::string& prefix) {
  const NginxDirective* pid_directive = config.root.find("pid");
  const std::string pid_file = pid_directive != nullptr && !pid_directive->arguments.empty()
                                   ? prefixed(prefix, pid_directive->arguments.front())
                                   : kDefaultPidFile;
  std::ifstream stream(pid_file);
  long pid = 0;
  if (stream >> pid && pid > 0) {
    if (auto account = platform::accountOfProcess(pid)) {
      const std::string how = "nginx's master process (user " + account->name + ", pid " +
                              std::to_string(pid) + " from " + pid_file + ")";
      return {std::move(account), how};
    }
  }
  platform::Account self = platform::currentAccount();
  const std::string how = "the user nginx will start as (assumed " + self.name +
                          ", the user running doctor: nginx is not running, no live pid in " +
                          pid_file + ")";
  return {std::move(self), how};
}

std::string errorLogPath(const NginxConfig& config, const ServerContext* context,
                         const std::string& prefix) {
  const NginxDirective* directive = nullptr;
  if (context != nullptr) {
    directive = context->setting("error_log");
  }
  if (directive == nullptr) {
    directive = config.root.find("error_log");
  }
  const std::string path = directive != nullptr && !directive->arguments.empty()
                               ? directive->arguments.front()
                               : "logs/error.log";
  if (path == "stderr" || path.find(':') != std::string::npos) {
    return "";
  }
  return prefixed(prefix, path);
}

std::uintmax_t fileSize(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

// The last line nginx logged about a client certificate or TLS since `offset`.
std::string nginxReason(const std::string& error_log, std::uintmax_t offset) {
  std::ifstream stream(error_log, std::ios::binary);
  stream.seekg(static_cast<std::streamoff>(offset));
  std::string reason;
  for (std::string line; std::getline(stream, line);) {
    if (line.find("certificate") != std::string::npos || line.find("SSL") != std::string::npos) {
      const std::size_t start = line.find(": *");
      reason = start == std::string::npos ? line : line.substr(line.find(' ', start + 3) + 1);
    }
  }
  return reason;
}

// --- the live endpoint -------------------------------------------------------------------------

struct Endpoint {
  std::string host;
  int port = 0;
};

CheckResult endpointCaNames(const TlsProbeResult& probe, const std::string& endpoint,
                            const BundleFile* ca_file) {
  const std::string id = "endpoint_ca_names";
  if (!probe.error.empty()) {
    return check(id, CheckStatus::fail, endpoint + ": " + probe.error,
                 "check that nginx listens there with ssl and that --server-name selects the "
                 "right server {}");
  }
  if (!probe.certificate_requested) {
    return check(id, CheckStatus::fail,
                 endpoint + " (" + probe.protocol +
                     ") did not ask for a client certificate: ssl_verify_client is off for the "
                     "server {} this name reaches",
                 "pass --server-name NAME to select the server, or set ssl_verify_client there");
  }
  if (probe.ca_names.empty()) {
    return check(id, CheckStatus::fail,
                 endpoint +
                     " asks for a client certificate but names no CA (\"No client "
                     "certificate CA names sent\"): clients do not know which certificate "
                     "to offer",
                 "set ssl_client_certificate to the CA bundle; ssl_trusted_certificate does "
                 "not send names");
  }
  const std::string sent =
      std::to_string(probe.ca_names.size()) + " CA name(s) sent: " + join(probe.ca_names, "; ");
  if (ca_file == nullptr || !ca_file->readable) {
    return check(id, CheckStatus::pass, endpoint + ": " + sent);
  }
  std::set<std::string> expected;
  for (const Certificate& certificate : ca_file->certificates) {
    expected.insert(certificate.record().subject);
  }
  const std::set<std::string> received(probe.ca_names.begin(), probe.ca_names.end());
  if (received != expected) {
    std::vector<std::string> missing;
    std::set_difference(expected.begin(), expected.end(), received.begin(), received.end(),
                        std::back_inserter(missing));
    std::vector<std::string> extra;
    std::set_difference(received.begin(), received.end(), expected.begin(), expected.end(),
                        std::back_inserter(extra));
    return check(
        id, CheckStatus::warn,
        endpoint + ": " + sent + ". They differ from " + ca_file->path +
            (missing.empty() ? "" : " (not sent: " + join(missing, "; ") + ")") +
            (extra.empty() ? "" : " (sent but not in the file: " + join(extra, "; ") + ")") +
            ": the running nginx has not read the file since it changed",
        "nginx -t && nginx -s reload");
  }
  return check(id, CheckStatus::pass, endpoint + ": " + sent + ", as in " + ca_file->path);
}

CheckResult endpointClient(const TlsProbeResult& probe, const std::string& endpoint,
                           const std::string& certificate, const std::string& reason,
                           const std::string& error_log) {
  const std::string id = "endpoint_client";
  const std::string nginx_says =
      !reason.empty()     ? "; nginx's error log says: " + reason
      : error_log.empty() ? ""
                          : "; nginx logged no reason in " + error_log +
                                " (it logs certificate errors at level info: error_log ... info)";
  if (!probe.error.empty()) {
    return check(id, CheckStatus::fail,
                 endpoint + " with " + certificate + ": " + probe.error + nginx_says);
  }
  const std::string answer = "HTTP " + std::to_string(probe.http_status) +
                             (probe.http_reason.empty() ? "" : " \"" + probe.http_reason + "\"");
  if (!probe.certificate_requested) {
    return check(id, CheckStatus::warn,
                 endpoint + " did not ask for a client certificate, so " + certificate +
                     " was not sent; the answer was " + answer);
  }
  if (probe.http_status == 400 || probe.http_status == 495 || probe.http_status == 496) {
    return check(id, CheckStatus::fail,
                 endpoint + " rejected " + certificate + " at verification: " + answer + nginx_says,
                 "see the reason: \"unable to get issuer certificate\" means the issuing CA is "
                 "not in the bundle or the chain is longer than ssl_verify_depth (see "
                 "verify_depth); an expired certificate or CRL needs renewing");
  }
  if (probe.http_status == 403) {
    return check(id, CheckStatus::fail,
                 endpoint + " verified " + certificate + " but refused the request: " + answer +
                     ". With certbridge, the client is not on the trusted list (clients.map)",
                 "approve the client (certbridge's web page, or its store's trust settings)");
  }
  return check(id, probe.http_status < 400 ? CheckStatus::pass : CheckStatus::warn,
               endpoint + " accepted " + certificate + " (" + probe.protocol + "): " + answer);
}

Endpoint parseEndpoint(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size() ||
      text.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    throw std::invalid_argument("--endpoint takes HOST:PORT, e.g. 127.0.0.1:443 or [::1]:443");
  }
  std::string host = text.substr(0, colon);
  if (host.starts_with("[") && host.ends_with("]")) {
    host = host.substr(1, host.size() - 2);
  }
  return {host, std::stoi(text.substr(colon + 1))};
}

// The verifying server {} an endpoint reaches: one listening on its port with the name given
// (or the first one on the port).
const ServerContext* serverFor(const std::vector<ServerContext>& servers, int port,
                               const std::string& name) {
  const ServerContext* first = nullptr;
  for (const ServerContext& server : servers) {
    const auto listens = listenAddresses(server.server);
    if (std::none_of(listens.begin(), listens.end(),
                     [&](const std::string& listen) { return portOf(listen) == port; })) {
      continue;
    }
    const auto names = serverNames(server.server);
    if (!name.empty() && std::find(names.begin(), names.end(), name) != names.end()) {
      return &server;
    }
    first = first == nullptr ? &server : first;
  }
  return first;
}

}  // namespace

bool DoctorReport::failed() const {
  const auto fails = [](const std::vector<CheckResult>& list) {
    return std::any_of(list.begin(), list.end(), [](const CheckResult& result) {
      return result.status == CheckStatus::fail;
    });
  };
  return fails(checks) || std::any_of(servers.begin(), servers.end(),
                                      [&](const ServerDiagnosis& s) { return fails(s.checks); });
}

DoctorReport diagnose(const DoctorOptions& options) {
  DoctorReport report;
  std::optional<Endpoint> endpoint;
  if (options.endpoint) {
    endpoint = parseEndpoint(*options.endpoint);
  }
  CommandResult dump;
  try {
    dump = runCommand(options.dump_command, options.working_directory, options.command_timeout);
  } catch (const std::exception& error) {
    dump.exit_code = -1;
    dump.output = error.what();
  }
  std::optional<NginxConfig> config;
  if (dump.exit_code != 0) {
    report.checks = translateDumpFailure(dump, options.dump_command);
  } else {
    try {
      config = parseNginxDump(dump.output);
    } catch (const NginxConfigError& error) {
      report.checks.push_back(
          check("nginx_config", CheckStatus::fail,
                "cannot read the output of '" + options.dump_command + "': " + error.what()));
    }
  }

  std::vector<ServerContext> contexts;
  const std::string prefix = nginxPrefix(options.dump_command);
  if (config) {
    for (const NginxDirective& http : config->root.children) {
      if (http.name != "http") {
        continue;
      }
      for (const NginxDirective& server : http.children) {
        if (server.name == "server") {
          contexts.push_back(ServerContext{*config, http, server});
        }
      }
    }
    const MasterProcess master = findMaster(*config, prefix);
    std::optional<platform::Account> worker;
    if (master.account && master.account->superuser()) {
      const NginxDirective* user = config->root.find("user");
      worker = platform::accountNamed(
          user != nullptr && !user->arguments.empty() ? user->arguments.front() : "nobody");
    }
    std::vector<ServerContext> verifying;
    for (const ServerContext& context : contexts) {
      ServerDoctor doctor(context, options, master.account, master.how, worker);
      if (doctor.verifies()) {
        report.servers.push_back(doctor.diagnose());
        verifying.push_back(context);
      }
    }
    contexts = std::move(verifying);
    if (report.servers.empty()) {
      report.checks.push_back(check("client_ca_configured", CheckStatus::warn,
                                    "no server {} in " + config->main_file +
                                        " sets ssl_verify_client: nginx asks no client for a "
                                        "certificate",
                                    "include certbridge's mtls.conf in the server {} that "
                                    "requires client certificates"));
    }
  }

  if (endpoint) {
    const std::string endpoint_text = *options.endpoint;
    const ServerContext* context =
        config ? serverFor(contexts, endpoint->port, options.server_name) : nullptr;
    std::vector<CheckResult>* target = &report.checks;
    std::optional<BundleFile> ca_file;
    if (context != nullptr) {
      const std::size_t index = static_cast<std::size_t>(context - contexts.data());
      target = &report.servers[index].checks;
      if (const NginxDirective* directive = context->setting("ssl_client_certificate")) {
        ca_file = readBundle(context->config, *directive);
      }
    }
    TlsProbeRequest request{.host = endpoint->host,
                            .port = endpoint->port,
                            .server_name = options.server_name,
                            .client_certificate = "",
                            .client_key = "",
                            .timeout = options.timeout};
    target->push_back(
        endpointCaNames(probeTls(request), endpoint_text, ca_file ? &*ca_file : nullptr));
    if (!options.client_certificate.empty()) {
      const std::string error_log = config ? errorLogPath(*config, context, prefix) : "";
      const std::uintmax_t offset = error_log.empty() ? 0 : fileSize(error_log);
      request.client_certificate = options.client_certificate;
      request.client_key = options.client_key;
      const TlsProbeResult probe = probeTls(request);
      // nginx writes its log line as it answers; give it a moment to reach the file.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const std::string reason = error_log.empty() ? "" : nginxReason(error_log, offset);
      const bool log_readable = !error_log.empty() && std::ifstream(error_log).good();
      target->push_back(endpointClient(probe, endpoint_text, options.client_certificate, reason,
                                       log_readable ? error_log : ""));
    }
  }
  return report;
}

void writeDoctorText(const DoctorReport& report, std::ostream& out) {
  const auto writeChecks = [&](const std::vector<CheckResult>& checks) {
    for (const CheckResult& result : checks) {
      std::string word = statusWord(result.status);
      std::transform(word.begin(), word.end(), word.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      out << "  " << word << "  " << result.id << ": " << result.message << "\n";
      if (!result.fix.empty() && result.status != CheckStatus::pass) {
        out << "        fix: " << result.fix << "\n";
      }
    }
  };
  if (!report.checks.empty()) {
    out << "nginx\n";
    writeChecks(report.checks);
  }
  for (const ServerDiagnosis& server : report.servers) {
    out << "server " << (server.server_name.empty() ? "(no server_name)" : server.server_name)
        << " listening on " << server.listen << " (" << server.where << ")\n";
    writeChecks(server.checks);
  }
  std::size_t counts[3] = {0, 0, 0};
  const auto count = [&](const std::vector<CheckResult>& checks) {
    for (const CheckResult& result : checks) {
      ++counts[static_cast<int>(result.status)];
    }
  };
  count(report.checks);
  for (const ServerDiagnosis& server : report.servers) {
    count(server.checks);
  }
  out << counts[0] << " passed, " << counts[1] << " warning(s), " << counts[2] << " failed\n";
}

void writeDoctorJson(const DoctorReport& report, std::ostream& out) {
  const auto toJson = [](const std::vector<CheckResult>& checks) {
    Poco::JSON::Array list;
    for (const CheckResult& result : checks) {
      Poco::JSON::Object entry(Poco::JSON_PRESERVE_KEY_ORDER);
      entry.set("id", result.id);
      entry.set("status", statusWord(result.status));
      entry.set("message", result.message);
      entry.set("fix", result.fix);
      list.add(entry);
    }
    return list;
  };
  Poco::JSON::Object root(Poco::JSON_PRESERVE_KEY_ORDER);
  root.set("checks", toJson(report.checks));
  Poco::JSON::Array servers;
  for (const ServerDiagnosis& server : report.servers) {
    Poco::JSON::Object entry(Poco::JSON_PRESERVE_KEY_ORDER);
    entry.set("listen", server.listen);
    entry.set("server_name", server.server_name);
    entry.set("where", server.where);
    entry.set("checks", toJson(server.checks));
    servers.add(entry);
  }
  root.set("servers", servers);
  root.stringify(out, 2);
  out << "\n";
}

}  // namespace certbridge::agent
