#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace certbridge::agent {

class DerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One DER element: its tag byte, the whole encoding and its contents.
struct DerElement {
  unsigned char tag = 0;
  std::span<const unsigned char> encoded;
  std::span<const unsigned char> contents;
};

// Reads consecutive DER elements from a buffer without copying, so that very large structures
// (a CRL with a million entries) can be walked in place. Only definite lengths (DER) are
// accepted.
class DerReader {
 public:
  explicit DerReader(std::span<const unsigned char> data) : data_(data) {}

  bool atEnd() const { return offset_ == data_.size(); }
  // The next element's tag without consuming it; 0 at the end.
  unsigned char peekTag() const { return atEnd() ? 0 : data_[offset_]; }
  // Reads the next element; throws DerError naming `what` when it is missing, truncated or does
  // not carry `expected_tag` (0 accepts any tag).
  DerElement read(unsigned char expected_tag, const char* what);

 private:
  std::span<const unsigned char> data_;
  std::size_t offset_ = 0;
};

constexpr unsigned char kDerInteger = 0x02;
constexpr unsigned char kDerBitString = 0x03;
constexpr unsigned char kDerOctetString = 0x04;
constexpr unsigned char kDerOid = 0x06;
constexpr unsigned char kDerUtcTime = 0x17;
constexpr unsigned char kDerGeneralizedTime = 0x18;
constexpr unsigned char kDerSequence = 0x30;
constexpr unsigned char kDerContext0 = 0xa0;

}  // namespace certbridge::agent
