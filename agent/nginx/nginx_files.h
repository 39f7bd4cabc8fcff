#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/pki/trust_material.h"

namespace certbridge::agent {

// One file certbridge owns in the nginx output directory.
struct OutputFile {
  std::string name;  // file name inside the output directory
  std::string content;
};

// The text of crl.pem, built CRL by CRL so that even a CRL of tens of megabytes exists once in
// memory as PEM and is moved, not copied, into the rendered file.
class CrlBundle {
 public:
  CrlBundle();
  void add(const std::string& issuer, std::span<const unsigned char> der);
  std::string take() && { return std::move(text_); }

 private:
  std::string text_;
};

// Renders client-ca.pem, clients.map, crl.pem and mtls.conf for nginx. With `crls` set, mtls.conf
// names crl.pem in ssl_crl; without, CRL checking is off and crl.pem says so. The output is a pure
// function of its inputs (no timestamps), so unchanged trust renders byte-identical files and
// causes no rewrite and no reload.
std::vector<OutputFile> renderNginxFiles(const TrustMaterial& material,
                                         const std::string& output_dir,
                                         std::optional<CrlBundle> crls);

// The text of mtls-proxy.conf: the same for every trust material.
std::string renderProxyConf();

// A client's name reduced to what may stand unquoted as an nginx map value and an HTTP header
// value: [A-Za-z0-9._@-], at most 64 characters, never empty ("client" when nothing is left).
std::string identityLabel(const std::string& name);

// Text safe to put after '#' in an nginx comment: one line, printable ASCII only.
std::string commentSafe(const std::string& text);

}  // namespace certbridge::agent
