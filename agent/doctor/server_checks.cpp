#include "agent/doctor/doctor_internal.h"

namespace certbridge::agent::doctor_internal {

namespace {

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

}  // namespace

std::optional<ServerDiagnosis> diagnoseServer(const ServerContext& context,
                                              const DoctorOptions& options,
                                              const std::optional<platform::Account>& master,
                                              const std::string& master_how,
                                              const std::optional<platform::Account>& worker) {
  ServerDoctor doctor(context, options, master, master_how, worker);
  if (!doctor.verifies()) {
    return std::nullopt;
  }
  return doctor.diagnose();
}

}  // namespace certbridge::agent::doctor_internal
