#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/trust_material.h"

namespace certbridge::agent {

// One file certbridge owns in the nginx output directory.
struct OutputFile {
  std::string name;  // file name inside the output directory
  std::string content;
};

// One current CRL for a CA in client-ca.pem.
struct PublishedCrl {
  std::string issuer;
  std::string pem;
};

// Renders client-ca.pem, clients.map, crl.pem and mtls.conf for nginx. With `crls` set, mtls.conf
// names crl.pem in ssl_crl; without, CRL checking is off and crl.pem says so. The output is a pure
// function of its inputs (no timestamps), so unchanged trust renders byte-identical files and
// causes no rewrite and no reload.
std::vector<OutputFile> renderNginxFiles(const TrustMaterial& material,
                                         const std::string& output_dir,
                                         const std::optional<std::vector<PublishedCrl>>& crls);

// Text safe to put after '#' in an nginx comment: one line, printable ASCII only.
std::string commentSafe(const std::string& text);

}  // namespace certbridge::agent
