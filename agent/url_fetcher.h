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
};

// A URL that could not be fetched; the message names the URL and the reason (host not found,
// connection refused, timed out, HTTP status, too large, …).
class FetchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Fetches an http:// or file:// URL into memory, refusing more than `limits.max_size` bytes.
// Redirects are followed up to `limits.max_redirects` times.
std::vector<unsigned char> fetchUrl(const std::string& url, const FetchLimits& limits);

}  // namespace certbridge::agent
