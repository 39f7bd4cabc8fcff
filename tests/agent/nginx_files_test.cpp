#include "agent/nginx_files.h"

#include <gtest/gtest.h>

namespace certbridge::agent {
namespace {

TrustMaterial sampleMaterial() {
  TrustMaterial material;
  material.client_cas.push_back({"CN=Root", "ab12",
                                 "-----BEGIN CERTIFICATE-----\nMII=\n"
                                 "-----END CERTIFICATE-----\n"});
  material.clients.push_back({"0123456789abcdef0123456789abcdef01234567", "main/alice"});
  material.verify_depth = 3;
  return material;
}

std::string contentOf(const std::vector<OutputFile>& files, const std::string& name) {
  for (const OutputFile& file : files) {
    if (file.name == name) {
      return file.content;
    }
  }
  throw std::runtime_error("no " + name);
}

TEST(NginxFiles, MapHasOneLinePerTrustedClientAndDefaultZero) {
  const auto files = renderNginxFiles(sampleMaterial(), "/etc/nginx/certbridge", std::nullopt);
  const std::string map = contentOf(files, "clients.map");
  EXPECT_NE(map.find("map $ssl_client_fingerprint $certbridge_client {"), std::string::npos);
  EXPECT_NE(map.find("    default 0;\n"), std::string::npos);
  EXPECT_NE(map.find("    0123456789abcdef0123456789abcdef01234567 1;  # main/alice\n"),
            std::string::npos);
}

TEST(NginxFiles, MapHashIsSizedForTheList) {
  TrustMaterial material = sampleMaterial();
  EXPECT_NE(contentOf(renderNginxFiles(material, "/x", std::nullopt), "clients.map")
                .find("map_hash_max_size 2048;\nmap_hash_bucket_size 256;"),
            std::string::npos);
  material.clients.resize(5000, material.clients.front());
  EXPECT_NE(contentOf(renderNginxFiles(material, "/x", std::nullopt), "clients.map")
                .find("map_hash_max_size 10000;"),
            std::string::npos);
}

TEST(NginxFiles, MtlsConfNamesTheBundleAndTheComputedDepth) {
  const auto files = renderNginxFiles(sampleMaterial(), "/etc/nginx/certbridge", std::nullopt);
  const std::string conf = contentOf(files, "mtls.conf");
  EXPECT_NE(conf.find("ssl_client_certificate \"/etc/nginx/certbridge/client-ca.pem\";"),
            std::string::npos);
  EXPECT_NE(conf.find("ssl_verify_client on;"), std::string::npos);
  EXPECT_NE(conf.find("ssl_verify_depth 3;"), std::string::npos);
  EXPECT_NE(conf.find("if ($certbridge_client != 1) {\n    return 403;\n}"), std::string::npos);
}

TEST(NginxFiles, BundleHoldsEachCertificateWithItsSubject) {
  const auto files = renderNginxFiles(sampleMaterial(), "/x", std::nullopt);
  const std::string pem = contentOf(files, "client-ca.pem");
  EXPECT_NE(pem.find("# CN=Root\n# sha256 ab12\n-----BEGIN CERTIFICATE-----"), std::string::npos);
}

TEST(NginxFiles, CertificateTextCannotBreakOutOfAComment) {
  TrustMaterial material = sampleMaterial();
  material.clients[0].label = "evil\n    default 1;\r\n}";
  const std::string map = contentOf(renderNginxFiles(material, "/x", std::nullopt), "clients.map");
  EXPECT_EQ(map.find("\n    default 1;"), std::string::npos);
  EXPECT_NE(map.find("# evil?    default 1;??}"), std::string::npos);
  EXPECT_EQ(commentSafe("caf\xc3\xa9\tx"), "caf???x");
}

}  // namespace
}  // namespace certbridge::agent
