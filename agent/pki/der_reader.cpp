#include "agent/pki/der_reader.h"

namespace certbridge::agent {

DerElement DerReader::read(unsigned char expected_tag, const char* what) {
  const std::size_t start = offset_;
  if (data_.size() - offset_ < 2) {
    throw DerError(std::string(what) + ": data ends early");
  }
  const unsigned char tag = data_[offset_++];
  if (expected_tag != 0 && tag != expected_tag) {
    throw DerError(std::string(what) + ": unexpected tag " + std::to_string(tag));
  }
  std::size_t length = data_[offset_++];
  if ((length & 0x80) != 0) {
    const std::size_t length_bytes = length & 0x7f;
    if (length_bytes == 0 || length_bytes > 4) {
      throw DerError(std::string(what) + ": unsupported length encoding");
    }
    if (data_.size() - offset_ < length_bytes) {
      throw DerError(std::string(what) + ": data ends early");
    }
    length = 0;
    for (std::size_t i = 0; i < length_bytes; ++i) {
      length = (length << 8) | data_[offset_++];
    }
  }
  if (data_.size() - offset_ < length) {
    throw DerError(std::string(what) + ": " + std::to_string(length) +
                   " bytes announced, fewer present");
  }
  DerElement element;
  element.tag = tag;
  element.contents = data_.subspan(offset_, length);
  offset_ += length;
  element.encoded = data_.subspan(start, offset_ - start);
  return element;
}

}  // namespace certbridge::agent
