#include "storage/serial_number.h"

#include <cstddef>
#include <vector>

namespace certbridge::storage {
namespace {

// A minimal DER element walker for the two fixed structures the migration reads. The agent has
// the full reader (agent/der_reader.h); storage sits below the agent and cannot use it.
struct Element {
  unsigned char tag = 0;
  std::span<const unsigned char> contents;
};

class Cursor {
 public:
  explicit Cursor(std::span<const unsigned char> data) : data_(data) {}

  bool atEnd() const { return offset_ == data_.size(); }
  unsigned char peekTag() const { return atEnd() ? 0 : data_[offset_]; }

  // The next element, when it is whole and carries `tag`.
  std::optional<Element> read(unsigned char tag) {
    if (data_.size() - offset_ < 2 || data_[offset_] != tag) {
      return std::nullopt;
    }
    std::size_t at = offset_ + 1;
    std::size_t length = data_[at++];
    if ((length & 0x80) != 0) {
      const std::size_t length_bytes = length & 0x7f;
      if (length_bytes == 0 || length_bytes > 4 || data_.size() - at < length_bytes) {
        return std::nullopt;
      }
      length = 0;
      for (std::size_t i = 0; i < length_bytes; ++i) {
        length = (length << 8) | data_[at++];
      }
    }
    if (data_.size() - at < length) {
      return std::nullopt;
    }
    offset_ = at + length;
    return Element{tag, data_.subspan(at, length)};
  }

 private:
  std::span<const unsigned char> data_;
  std::size_t offset_ = 0;
};

constexpr unsigned char kInteger = 0x02;
constexpr unsigned char kSequence = 0x30;
constexpr unsigned char kUtcTime = 0x17;
constexpr unsigned char kGeneralizedTime = 0x18;
constexpr unsigned char kContext0 = 0xa0;

bool skipTime(Cursor& cursor) {
  const unsigned char tag = cursor.peekTag();
  return (tag == kUtcTime || tag == kGeneralizedTime) && cursor.read(tag).has_value();
}

}  // namespace

std::string serialText(bool negative, std::span<const unsigned char> magnitude) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::size_t first = 0;
  while (first < magnitude.size() && magnitude[first] == 0) {
    ++first;
  }
  if (first == magnitude.size()) {
    return "00";  // zero has no sign
  }
  std::string text = negative ? "-" : "";
  text.reserve(1 + (magnitude.size() - first) * 2);
  for (std::size_t i = first; i < magnitude.size(); ++i) {
    text.push_back(kDigits[magnitude[i] >> 4]);
    text.push_back(kDigits[magnitude[i] & 0x0f]);
  }
  return text;
}

std::optional<std::string> serialFromDerInteger(std::span<const unsigned char> contents) {
  if (contents.empty()) {
    return std::nullopt;
  }
  if (contents.size() > 1 && ((contents[0] == 0x00 && (contents[1] & 0x80) == 0) ||
                              (contents[0] == 0xff && (contents[1] & 0x80) != 0))) {
    return std::nullopt;
  }
  if ((contents[0] & 0x80) == 0) {
    return serialText(false, contents);
  }
  // Negative: the magnitude is the two's complement (invert, add one).
  std::vector<unsigned char> magnitude(contents.begin(), contents.end());
  unsigned carry = 1;
  for (auto byte = magnitude.rbegin(); byte != magnitude.rend(); ++byte) {
    const unsigned sum = static_cast<unsigned char>(~*byte) + carry;
    *byte = static_cast<unsigned char>(sum & 0xff);
    carry = sum >> 8;
  }
  return serialText(true, magnitude);
}

std::optional<std::string> certificateSerialFromDer(std::span<const unsigned char> der) {
  Cursor outer(der);
  const std::optional<Element> certificate = outer.read(kSequence);
  if (!certificate) {
    return std::nullopt;
  }
  Cursor parts(certificate->contents);
  const std::optional<Element> tbs = parts.read(kSequence);
  if (!tbs) {
    return std::nullopt;
  }
  Cursor fields(tbs->contents);
  if (fields.peekTag() == kContext0 && !fields.read(kContext0)) {
    return std::nullopt;
  }
  const std::optional<Element> serial = fields.read(kInteger);
  return serial ? serialFromDerInteger(serial->contents) : std::nullopt;
}

bool forEachCrlEntrySerialInDer(std::span<const unsigned char> der,
                                const std::function<void(const std::string&)>& visit) {
  Cursor outer(der);
  const std::optional<Element> list = outer.read(kSequence);
  if (!list) {
    return false;
  }
  Cursor parts(list->contents);
  const std::optional<Element> tbs = parts.read(kSequence);
  if (!tbs) {
    return false;
  }
  Cursor fields(tbs->contents);
  if (fields.peekTag() == kInteger && !fields.read(kInteger)) {
    return false;
  }
  if (!fields.read(kSequence) || !fields.read(kSequence) || !skipTime(fields)) {
    return false;  // signature, issuer, thisUpdate
  }
  const unsigned char after_this_update = fields.peekTag();
  if ((after_this_update == kUtcTime || after_this_update == kGeneralizedTime) &&
      !skipTime(fields)) {
    return false;
  }
  if (fields.peekTag() != kSequence) {
    return true;  // no revoked entries
  }
  const std::optional<Element> revoked = fields.read(kSequence);
  if (!revoked) {
    return false;
  }
  Cursor entries(revoked->contents);
  while (!entries.atEnd()) {
    const std::optional<Element> entry = entries.read(kSequence);
    if (!entry) {
      return false;
    }
    Cursor entry_fields(entry->contents);
    const std::optional<Element> serial = entry_fields.read(kInteger);
    const std::optional<std::string> text =
        serial ? serialFromDerInteger(serial->contents) : std::nullopt;
    if (!text) {
      return false;
    }
    visit(*text);
  }
  return true;
}

}  // namespace certbridge::storage
