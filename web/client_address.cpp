#include "web/client_address.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <tuple>

namespace certbridge::web {
namespace {

// The address as 4 bytes when it is IPv4 or IPv4-mapped IPv6, else as 16.
std::pair<std::array<unsigned char, 16>, std::size_t> bytesOf(const Poco::Net::IPAddress& address) {
  std::array<unsigned char, 16> bytes{};
  const auto* raw = static_cast<const unsigned char*>(address.addr());
  const std::size_t length = address.length();
  if (length == 16 && address.isIPv4Mapped()) {
    std::memcpy(bytes.data(), raw + 12, 4);
    return {bytes, 4};
  }
  std::memcpy(bytes.data(), raw, std::min<std::size_t>(length, bytes.size()));
  return {bytes, length};
}

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return "";
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

}  // namespace

AddressRange AddressRange::parse(const std::string& text) {
  const auto slash = text.find('/');
  const std::string address_text = text.substr(0, slash);
  Poco::Net::IPAddress address;
  if (!Poco::Net::IPAddress::tryParse(address_text, address)) {
    throw std::invalid_argument("names '" + text +
                                "', which is not an IP address or a network such as 10.0.0.0/8 "
                                "or fd00::/8");
  }
  AddressRange range;
  range.text_ = text;
  std::tie(range.network_, range.address_length_) = bytesOf(address);
  const unsigned max_bits = static_cast<unsigned>(range.address_length_ * 8);
  range.prefix_bits_ = max_bits;
  if (slash != std::string::npos) {
    const std::string bits = text.substr(slash + 1);
    // A mapped address counts its prefix over 128 bits, as written.
    const unsigned written_max = address.length() == 16 ? 128u : 32u;
    if (bits.empty() || bits.size() > 3 ||
        bits.find_first_not_of("0123456789") != std::string::npos ||
        static_cast<unsigned>(std::stoul(bits)) > written_max) {
      throw std::invalid_argument("names '" + text + "', whose prefix length is not 0.." +
                                  std::to_string(written_max));
    }
    const unsigned prefix = static_cast<unsigned>(std::stoul(bits));
    range.prefix_bits_ = written_max == max_bits ? prefix : (prefix >= 96 ? prefix - 96 : 0);
  }
  return range;
}

bool AddressRange::contains(const Poco::Net::IPAddress& address) const {
  const auto [bytes, length] = bytesOf(address);
  if (length != address_length_) {
    return false;
  }
  unsigned bits = prefix_bits_;
  for (std::size_t i = 0; i < length && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8u);
    const auto mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((bytes[i] & mask) != (network_[i] & mask)) {
      return false;
    }
    bits -= take;
  }
  return true;
}

std::vector<AddressRange> parseAddressRanges(const std::string& text) {
  std::vector<AddressRange> ranges;
  std::string entry;
  for (const char c : text + " ") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!entry.empty()) {
        ranges.push_back(AddressRange::parse(entry));
      }
      entry.clear();
    } else {
      entry.push_back(c);
    }
  }
  return ranges;
}

bool isTrustedProxy(const Poco::Net::IPAddress& address, const std::vector<AddressRange>& proxies) {
  return std::any_of(proxies.begin(), proxies.end(),
                     [&](const AddressRange& range) { return range.contains(address); });
}

Poco::Net::IPAddress clientAddress(const Poco::Net::IPAddress& peer,
                                   const std::vector<std::string>& forwarded_for,
                                   const std::vector<AddressRange>& proxies) {
  if (!isTrustedProxy(peer, proxies)) {
    return peer;
  }
  std::vector<std::string> hops;
  for (const std::string& header : forwarded_for) {
    std::string hop;
    for (const char c : header + ",") {
      if (c == ',') {
        hops.push_back(trimmed(hop));
        hop.clear();
      } else {
        hop.push_back(c);
      }
    }
  }
  Poco::Net::IPAddress client = peer;
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    Poco::Net::IPAddress address;
    if (!Poco::Net::IPAddress::tryParse(*hop, address)) {
      return client;
    }
    client = address;
    if (!isTrustedProxy(address, proxies)) {
      return client;
    }
  }
  return client;
}

}  // namespace certbridge::web
