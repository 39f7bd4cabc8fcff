#include "agent/cli/log_text.h"

#include <array>

namespace certbridge::agent {

std::string escapeControlCharacters(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char character : text) {
    const auto byte = static_cast<unsigned char>(character);
    if (byte >= 0x20 && byte != 0x7f) {
      escaped += character;
    } else if (character == '\n') {
      escaped += "\\n";
    } else if (character == '\r') {
      escaped += "\\r";
    } else if (character == '\t') {
      escaped += "\\t";
    } else {
      constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                             '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
      escaped += "\\x";
      escaped += kHex[byte >> 4];
      escaped += kHex[byte & 0x0f];
    }
  }
  return escaped;
}

void ControlCharacterEscapingChannel::log(const Poco::Message& message) {
  Poco::Message escaped(message);
  escaped.setText(escapeControlCharacters(message.getText()));
  next_->log(escaped);
}

}  // namespace certbridge::agent
