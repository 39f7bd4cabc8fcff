#include "agent/nginx_files.h"

#include <algorithm>
#include <filesystem>

#include "agent/crl.h"

namespace certbridge::agent {
namespace {

constexpr const char* kGeneratedNotice =
    "# Written by certbridge; changes here are overwritten at the next publish.\n";

std::string renderClientCa(const TrustMaterial& material) {
  std::string pem = kGeneratedNotice;
  for (const BundledCa& ca : material.client_cas) {
    pem += "# " + commentSafe(ca.subject) + "\n# sha256 " + ca.sha256 + "\n" + ca.pem;
  }
  return pem;
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
  map += "map $ssl_client_fingerprint $certbridge_client {\n    default 0;\n";
  for (const TrustedClient& client : material.clients) {
    map += "    " + client.sha1 + " 1;  # " + commentSafe(client.label) + "\n";
  }
  map += "}\n";
  return map;
}

std::string renderMtlsConf(const TrustMaterial& material, const std::string& output_dir,
                           bool with_crl) {
  const std::filesystem::path directory(output_dir);
  const std::string client_ca = (directory / "client-ca.pem").string();
  std::string conf = kGeneratedNotice;
  conf += "# Include inside each server {} block that requires client certificates.\n";
  conf += "ssl_client_certificate \"" + client_ca + "\";\n";
  conf += "ssl_verify_client on;\n";
  conf += "ssl_verify_depth " + std::to_string(material.verify_depth) + ";\n";
  if (with_crl) {
    conf += "# One current CRL for every CA in client-ca.pem: nginx checks the whole chain.\n";
    conf += "ssl_crl \"" + (directory / "crl.pem").string() + "\";\n";
  }
  conf += "# A certificate from a trusted CA that is not on the trusted-client list.\n";
  conf += "if ($certbridge_client != 1) {\n    return 403;\n}\n";
  return conf;
}

}  // namespace

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
  return files;
}

}  // namespace certbridge::agent
