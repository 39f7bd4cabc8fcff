#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace certbridge::agent {

struct FetchLimits {
  std::size_t max_size = 64 * 1024 * 1024;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds read_timeout{30};
  int max_redirects = 3;
  // file:// is read only when this is set: for URLs the configuration's owner wrote
  // ([crl.urls]), never for a URL a certificate names.
  bool allow_file = false;
  // When not empty, the URL and every redirect must name one of these hosts (see
  // hostMatches); empty: any host.
  std::vector<std::string> allowed_hosts;
};

// Whether `host` matches one of `patterns`: the same name or address (case does not matter),
// or "*.example.com" for any name that ends in ".example.com".
bool hostMatches(const std::string& host, const std::vector<std::string>& patterns);

// A URL that could not be fetched; the message names the URL and the reason (host not found,
// connection refused, timed out, HTTP status, too large, …).
class FetchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Fetches an http:// URL (or a file:// URL when `limits.allow_file`) into memory, refusing more
// than `limits.max_size` bytes. Redirects are followed up to `limits.max_redirects` times, and
// only to http:// URLs: a redirect to file:// or any other scheme is refused before anything is
// read.
std::vector<unsigned char> fetchUrl(const std::string& url, const FetchLimits& limits);

}  // namespace certbridge::agent
