#include "web/client_address.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace certbridge::web {
namespace {

Poco::Net::IPAddress ip(const std::string& text) {
  return Poco::Net::IPAddress(text);
}

std::string client(const std::string& peer, const std::vector<std::string>& forwarded_for,
                   const std::string& proxies) {
  return clientAddress(ip(peer), forwarded_for, parseAddressRanges(proxies)).toString();
}

TEST(AddressRange, MatchesAddressesAndNetworks) {
  const auto ranges = parseAddressRanges("10.0.0.0/8, 192.0.2.1 fd00::/8,::1");
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_TRUE(isTrustedProxy(ip("10.200.3.4"), ranges));
  EXPECT_FALSE(isTrustedProxy(ip("11.0.0.1"), ranges));
  EXPECT_TRUE(isTrustedProxy(ip("192.0.2.1"), ranges));
  EXPECT_FALSE(isTrustedProxy(ip("192.0.2.2"), ranges));
  EXPECT_TRUE(isTrustedProxy(ip("fd12::5"), ranges));
  EXPECT_TRUE(isTrustedProxy(ip("::1"), ranges));
  EXPECT_FALSE(isTrustedProxy(ip("fe80::1"), ranges));
  // What a dual-stack socket reports for an IPv4 peer.
  EXPECT_TRUE(isTrustedProxy(ip("::ffff:10.1.1.1"), ranges));
  EXPECT_TRUE(parseAddressRanges("0.0.0.0/0").front().contains(ip("203.0.113.9")));
  EXPECT_TRUE(parseAddressRanges("").empty());
}

TEST(AddressRange, RefusesWhatIsNoAddressNamingIt) {
  for (const char* bad :
       {"proxy.example", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::1/129", "300.1.1.1"}) {
    try {
      parseAddressRanges(std::string("127.0.0.1, ") + bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(bad), std::string::npos) << error.what();
    }
  }
}

TEST(ClientAddress, ForwardedForCountsOnlyFromATrustedProxy) {
  EXPECT_EQ(client("198.51.100.1", {"203.0.113.7"}, ""), "198.51.100.1");
  EXPECT_EQ(client("198.51.100.1", {"203.0.113.7"}, "127.0.0.1"), "198.51.100.1");
  EXPECT_EQ(client("127.0.0.1", {"203.0.113.7"}, "127.0.0.1"), "203.0.113.7");
  EXPECT_EQ(client("127.0.0.1", {}, "127.0.0.1"), "127.0.0.1") << "no header: the proxy itself";
}

TEST(ClientAddress, TheRightmostUntrustedHopIsTheClient) {
  const std::string proxies = "127.0.0.1 10.0.0.0/8";
  // Whatever the client wrote itself stays on the left.
  EXPECT_EQ(client("127.0.0.1", {"1.2.3.4, 203.0.113.7"}, proxies), "203.0.113.7");
  EXPECT_EQ(client("127.0.0.1", {"1.2.3.4, 203.0.113.7, 10.0.0.5"}, proxies), "203.0.113.7");
  // Several headers read as one list, in order.
  EXPECT_EQ(client("127.0.0.1", {"1.2.3.4", "203.0.113.8, 10.0.0.5"}, proxies), "203.0.113.8");
  EXPECT_EQ(client("127.0.0.1", {"10.0.0.9, 10.0.0.5"}, proxies), "10.0.0.9")
      << "only proxies: the leftmost";
  EXPECT_EQ(client("127.0.0.1", {"203.0.113.7, garbage"}, proxies), "127.0.0.1")
      << "a hop that is no address stops the walk at the proxy that added it";
  EXPECT_EQ(client("127.0.0.1", {"2001:db8::7"}, proxies), "2001:db8::7");
}

}  // namespace
}  // namespace certbridge::web
