#include "agent/nginx_files.h"

#include <filesystem>

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
  map += "map $ssl_client_fingerprint $certbridge_client {\n    default 0;\n";
  for (const TrustedClient& client : material.clients) {
    map += "    " + client.sha1 + " 1;  # " + commentSafe(client.label) + "\n";
  }
  map += "}\n";
  return map;
}

std::string renderCrls(const std::optional<std::vector<PublishedCrl>>& crls) {
  std::string pem = kGeneratedNotice;
  if (!crls) {
    return pem + "# CRL checking is off: mtls.conf sets no ssl_crl.\n";
  }
  for (const PublishedCrl& crl : *crls) {
    pem += "# " + commentSafe(crl.issuer) + "\n" + crl.pem;
  }
  return pem;
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

std::vector<OutputFile> renderNginxFiles(const TrustMaterial& material,
                                         const std::string& output_dir,
                                         const std::optional<std::vector<PublishedCrl>>& crls) {
  return {
      {"client-ca.pem", renderClientCa(material)},
      {"clients.map", renderClientsMap(material)},
      {"crl.pem", renderCrls(crls)},
      {"mtls.conf", renderMtlsConf(material, output_dir, crls.has_value())},
  };
}

}  // namespace certbridge::agent
