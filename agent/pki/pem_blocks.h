#pragma once

#include <string>
#include <vector>

namespace certbridge::agent {

// One PEM block of a file nginx is pointed at (ssl_client_certificate, ssl_crl, ...).
struct PemBlock {
  std::string label;  // "CERTIFICATE", "X509 CRL", ...
  int line = 0;
  int index = 0;  // 1-based position in the file, bad blocks counted too
  std::vector<unsigned char> der;
};

// What a PEM file held: the blocks of the wanted kind, decoded, and one message for every block
// that is of another kind, a private key, not valid PEM, or not ended.
struct PemFileContents {
  std::vector<PemBlock> blocks;
  std::vector<std::string> errors;
};

// "PATH block N (line L)": how doctor names a block in its messages.
std::string describePemBlock(const std::string& path, const PemBlock& block);

// Splits the text of the PEM file at `path` into blocks and decodes those labelled
// `wanted_label`. Private keys are noted by their label and never decoded. Pure, so that doctor's
// reading of files nginx is pointed at can be fuzzed.
PemFileContents readPemBlocks(const std::string& text, const std::string& wanted_label,
                              const std::string& path);

}  // namespace certbridge::agent
