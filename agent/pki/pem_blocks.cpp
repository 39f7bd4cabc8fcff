#include "agent/pki/pem_blocks.h"

#include <openssl/pem.h>

#include <sstream>

#include "agent/pki/openssl_handles.h"

namespace certbridge::agent {

std::string describePemBlock(const std::string& path, const PemBlock& block) {
  return path + " block " + std::to_string(block.index) + " (line " + std::to_string(block.line) +
         ")";
}

PemFileContents readPemBlocks(const std::string& text, const std::string& wanted_label,
                              const std::string& path) {
  PemFileContents contents;
  std::istringstream lines(text);
  int line_number = 0;
  std::string block_text;
  PemBlock block;
  for (std::string line; std::getline(lines, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (block_text.empty() && line.starts_with("-----BEGIN ") && line.ends_with("-----")) {
      block = PemBlock{line.substr(11, line.size() - 16),
                       line_number,
                       static_cast<int>(contents.blocks.size() + contents.errors.size()) + 1,
                       {}};
      block_text = line + "\n";
      continue;
    }
    if (block_text.empty()) {
      continue;
    }
    block_text += line + "\n";
    if (!line.starts_with("-----END ")) {
      continue;
    }
    const std::string where = describePemBlock(path, block);
    if (block.label.find("PRIVATE KEY") != std::string::npos) {
      contents.errors.push_back(where + " is a " + block.label +
                                ", which has no place in this file");
    } else if (block.label != wanted_label) {
      contents.errors.push_back(where + " is a " + block.label + " block where " + wanted_label +
                                " blocks belong");
    } else {
      const BioPtr bio(BIO_new_mem_buf(block_text.data(), static_cast<int>(block_text.size())));
      char* name = nullptr;
      char* header = nullptr;
      unsigned char* data = nullptr;
      long length = 0;
      if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
        contents.errors.push_back(where + " is not valid PEM: " + takeOpenSslErrors());
      } else {
        const OpenSslStringPtr owned_name(name);
        const OpenSslStringPtr owned_header(header);
        const OpenSslStringPtr owned_data(reinterpret_cast<char*>(data));
        block.der.assign(data, data + length);
        contents.blocks.push_back(std::move(block));
      }
    }
    block_text.clear();
  }
  if (!block_text.empty()) {
    contents.errors.push_back(describePemBlock(path, block) + " has no -----END line");
  }
  return contents;
}

}  // namespace certbridge::agent
