#pragma once

#include <Poco/Net/IPAddress.h>

#include <array>
#include <string>
#include <vector>

namespace certbridge::web {

// One entry of `[web] trusted_proxies`: an address, or a network in CIDR notation. IPv4-mapped
// IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket reports) match as IPv4.
class AddressRange {
 public:
  // Throws std::invalid_argument ("names 'TEXT', which is not …") when it is neither an address nor
  // a CIDR network.
  static AddressRange parse(const std::string& text);

  bool contains(const Poco::Net::IPAddress& address) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::array<unsigned char, 16> network_{};
  std::size_t address_length_ = 0;  // 4 or 16 bytes
  unsigned prefix_bits_ = 0;
};

// Parses a list separated by commas and/or spaces; an empty text gives an empty list. Throws
// std::invalid_argument naming the first entry that does not parse.
std::vector<AddressRange> parseAddressRanges(const std::string& text);

bool isTrustedProxy(const Poco::Net::IPAddress& address, const std::vector<AddressRange>& proxies);

// The address a request really comes from. `peer` is the TCP peer; only when it is a trusted
// proxy is `forwarded_for` (the X-Forwarded-For values in header order, each a comma-separated
// list of hops) read, right to left: the first hop that is not itself a trusted proxy is the
// client. A hop that is not an address ends the walk at the proxy that reported it, and so does
// a missing header; a chain of trusted proxies only gives its leftmost hop.
Poco::Net::IPAddress clientAddress(const Poco::Net::IPAddress& peer,
                                   const std::vector<std::string>& forwarded_for,
                                   const std::vector<AddressRange>& proxies);

}  // namespace certbridge::web
