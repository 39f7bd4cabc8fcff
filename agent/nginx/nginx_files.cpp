#include "agent/nginx/nginx_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "agent/pki/crl.h"

namespace certbridge::agent {
namespace {

constexpr std::size_t kMaxLabelLength = 64;

constexpr const char* kGeneratedNotice =
    "# Written by certbridge; changes here are overwritten at the next publish.\n";

std::string renderClientCa(const TrustMaterial& material) {
  std::string pem = kGeneratedNotice;
  for (const BundledCa& ca : material.client_cas) {
    pem += "# " + commentSafe(ca.subject) + "\n# sha256 " + ca.sha256 + "\n" + ca.pem;
  }
  return pem;
}

// Appends -2, -3, ... to a label already given to another client, keeping within 64 characters.
std::string uniqueLabel(const std::string& label, std::set<std::string>& taken) {
  std::string candidate = label;
  for (int counter = 2; !taken.insert(candidate).second; ++counter) {
    const std::string suffix = "-" + std::to_string(counter);
    candidate = label.substr(0, kMaxLabelLength - suffix.size()) + suffix;
  }
  return candidate;
}

std::string renderClientsMap(const TrustMaterial& material) {
  std::string map = kGeneratedNotice;
  map +=
      "# Include at http level. $ssl_client_fingerprint is the SHA-1 of the client certificate.\n";
  // nginx's defaults (2048 entries, 64-byte buckets) fit a few hundred 40-character keys; past
  // that it warns and degrades. Checked with nginx -t: 256-byte buckets and twice the entries
  // build an optimal hash for 10,000 fingerprints. These settings apply to every map
  // at http level: set them nowhere else.
  const std::size_t hash_size = std::max<std::size_t>(2048, material.clients.size() * 2);
  map += "map_hash_max_size " + std::to_string(hash_size) + ";\n";
  map += "map_hash_bucket_size 256;\n";
  map += "# The value is the client's name for backends (mtls-proxy.conf sends it as\n";
  map += "# X-Client-Name); \"\" means the client is not on the trusted list.\n";
  map += "map $ssl_client_fingerprint $certbridge_client {\n    default \"\";\n";
  std::set<std::string> taken;
  for (const TrustedClient& client : material.clients) {
    map += "    " + client.sha1 + " " + uniqueLabel(identityLabel(client.name), taken) + ";  # " +
           commentSafe(client.label) + "\n";
  }
  map += "}\n";
  return map;
}

std::string renderMtlsConf(const TrustMaterial& material, const std::string& output_dir,
                           bool with_crl) {
  const std::filesystem::path directory(output_dir);
  const std::string client_ca = (directory / "client-ca.pem").generic_string();
  std::string conf = kGeneratedNotice;
  conf += "# Include inside each server {} block that requires client certificates.\n";
  conf += "ssl_client_certificate \"" + client_ca + "\";\n";
  conf += "ssl_verify_client on;\n";
  conf += "ssl_verify_depth " + std::to_string(material.verify_depth) + ";\n";
  if (with_crl) {
    conf += "# One current CRL for every CA in client-ca.pem: nginx checks the whole chain.\n";
    conf += "ssl_crl \"" + (directory / "crl.pem").generic_string() + "\";\n";
  }
  conf += "# A certificate from a trusted CA that is not on the trusted-client list.\n";
  conf += "if ($certbridge_client = \"\") {\n    return 403;\n}\n";
  return conf;
}

}  // namespace

std::string renderProxyConf() {
  std::string conf = kGeneratedNotice;
  conf +=
      "# Include inside a location {} that proxies to a backend, after mtls.conf's server.\n"
      "# Each header is set here whatever the client sent under the same name. nginx drops\n"
      "# every proxy_set_header inherited from outer levels once a location sets one, so\n"
      "# repeat any of those you need beside this include.\n"
      "proxy_set_header X-Client-Verify $ssl_client_verify;\n"
      "proxy_set_header X-Client-Name $certbridge_client;\n"
      "proxy_set_header X-Client-DN $ssl_client_s_dn;\n"
      "proxy_set_header X-Client-Serial $ssl_client_serial;\n"
      "proxy_set_header X-Client-Fingerprint $ssl_client_fingerprint;\n";
  return conf;
}

std::string identityLabel(const std::string& name) {
  std::string label;
  for (const char c : name) {
    const bool allowed = std::isalnum(static_cast<unsigned char>(c)) != 0 && (c & 0x80) == 0;
    if (allowed || c == '.' || c == '_' || c == '@' || c == '-') {
      label.push_back(c);
    } else if (!label.empty() && label.back() != '-') {
      label.push_back('-');
    }
  }
  while (!label.empty() && label.back() == '-') {
    label.pop_back();
  }
  label.resize(std::min(label.size(), kMaxLabelLength));
  return label.empty() ? "client" : label;
}

std::string commentSafe(const std::string& text) {
  std::string safe;
  safe.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    safe.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
  return safe;
}

CrlBundle::CrlBundle() : text_(kGeneratedNotice) {}

void CrlBundle::add(const std::string& issuer, std::span<const unsigned char> der) {
  text_ += "# " + commentSafe(issuer) + "\n";
  appendCrlPem(text_, der);
}

std::vector<OutputFile> renderNginxFiles(const TrustMaterial& material,
                                         const std::string& output_dir,
                                         std::optional<CrlBundle> crls) {
  const bool with_crl = crls.has_value();
  std::string crl_text = with_crl ? std::move(*crls).take()
                                  : std::string(kGeneratedNotice) +
                                        "# CRL checking is off: mtls.conf sets no ssl_crl.\n";
  std::vector<OutputFile> files;
  files.push_back({"client-ca.pem", renderClientCa(material)});
  files.push_back({"clients.map", renderClientsMap(material)});
  files.push_back({"crl.pem", std::move(crl_text)});
  files.push_back({"mtls.conf", renderMtlsConf(material, output_dir, with_crl)});
  files.push_back({"mtls-proxy.conf", renderProxyConf()});
  return files;
}

}  // namespace certbridge::agent
