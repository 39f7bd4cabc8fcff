#pragma once

#include <string>
#include <vector>

#include "agent/trust_material.h"

namespace certbridge::agent {

// One file certbridge owns in the nginx output directory.
struct OutputFile {
  std::string name;  // file name inside the output directory
  std::string content;
};

// Renders client-ca.pem, clients.map and mtls.conf for nginx. The output is a pure function of
// the trust material and the directory (no timestamps), so unchanged trust renders byte-identical
// files and causes no rewrite and no reload.
std::vector<OutputFile> renderNginxFiles(const TrustMaterial& material,
                                         const std::string& output_dir);

// Text safe to put after '#' in an nginx comment: one line, printable ASCII only.
std::string commentSafe(const std::string& text);

}  // namespace certbridge::agent
