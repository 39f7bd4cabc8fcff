#include "agent/nginx/nginx_files.h"

#include <gtest/gtest.h>

namespace certbridge::agent {
namespace {

TrustMaterial sampleMaterial() {
  TrustMaterial material;
  material.client_cas.push_back({"CN=Root", "ab12",
                                 "-----BEGIN CERTIFICATE-----\nMII=\n"
                                 "-----END CERTIFICATE-----\n"});
  material.clients.push_back(
      {.sha1 = "0123456789abcdef0123456789abcdef01234567", .label = "main/alice", .name = "alice"});
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

TEST(NginxFiles, MapGivesEachTrustedClientItsNameAndEveryoneElseNothing) {
  const auto files = renderNginxFiles(sampleMaterial(), "/etc/nginx/certbridge", std::nullopt);
  const std::string map = contentOf(files, "clients.map");
  EXPECT_NE(map.find("map $ssl_client_fingerprint $certbridge_client {"), std::string::npos);
  EXPECT_NE(map.find("    default \"\";\n"), std::string::npos);
  EXPECT_NE(map.find("    0123456789abcdef0123456789abcdef01234567 alice;  # main/alice\n"),
            std::string::npos);
}

TEST(NginxFiles, IdentityLabelsKeepOnlySafeCharactersAndAreUnique) {
  EXPECT_EQ(identityLabel("Alice Smith (ops)"), "Alice-Smith-ops");
  EXPECT_EQ(identityLabel("a\"b;c{d}e$f\ng\\h"), "a-b-c-d-e-f-g-h");
  EXPECT_EQ(identityLabel("svc_1.example@corp-x"), "svc_1.example@corp-x");
  EXPECT_EQ(identityLabel("caf\xc3\xa9"), "caf");
  EXPECT_EQ(identityLabel("\xc3\xa9\xc3\xa9"), "client");
  EXPECT_EQ(identityLabel(std::string(100, 'x')), std::string(64, 'x'));

  TrustMaterial material = sampleMaterial();
  material.clients.push_back({.sha1 = "1111111111111111111111111111111111111111", .name = "alice"});
  material.clients.push_back(
      {.sha1 = "2222222222222222222222222222222222222222", .name = std::string(70, 'y')});
  material.clients.push_back(
      {.sha1 = "3333333333333333333333333333333333333333", .name = std::string(64, 'y')});
  const std::string map = contentOf(renderNginxFiles(material, "/x", std::nullopt), "clients.map");
  EXPECT_NE(map.find("01234567 alice;"), std::string::npos);
  EXPECT_NE(map.find("11111111 alice-2;"), std::string::npos);
  EXPECT_NE(map.find("22222222 " + std::string(64, 'y') + ";"), std::string::npos);
  EXPECT_NE(map.find("33333333 " + std::string(62, 'y') + "-2;"), std::string::npos);
}

TEST(NginxFiles, ProxyConfSetsEveryIdentityHeader) {
  const std::string conf =
      contentOf(renderNginxFiles(sampleMaterial(), "/x", std::nullopt), "mtls-proxy.conf");
  for (const char* line : {"proxy_set_header X-Client-Verify $ssl_client_verify;",
                           "proxy_set_header X-Client-Name $certbridge_client;",
                           "proxy_set_header X-Client-DN $ssl_client_s_dn;",
                           "proxy_set_header X-Client-Serial $ssl_client_serial;",
                           "proxy_set_header X-Client-Fingerprint $ssl_client_fingerprint;"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(conf, renderProxyConf());
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
  EXPECT_NE(conf.find("if ($certbridge_client = \"\") {\n    return 403;\n}"), std::string::npos);
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
