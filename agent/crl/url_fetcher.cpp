#include "agent/crl/url_fetcher.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <istream>

namespace certbridge::agent {
namespace {

// Reads at most `max_size` bytes; one byte more means the source is too large.
std::vector<unsigned char> readCapped(std::istream& stream, std::size_t max_size,
                                      const std::string& url, std::size_t expected_size = 0) {
  std::vector<unsigned char> bytes;
  // Growing by doubling would hold up to twice a large CRL for a moment.
  bytes.reserve(std::min(expected_size, max_size));
  std::vector<char> chunk(64 * 1024);
  while (stream) {
    stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto count = static_cast<std::size_t>(stream.gcount());
    if (bytes.size() + count > max_size) {
      throw FetchError(url + ": larger than the limit of " + std::to_string(max_size) +
                       " bytes (crl.max_size)");
    }
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(count));
  }
  return bytes;
}

std::vector<unsigned char> fetchFile(const Poco::URI& uri, const FetchLimits& limits,
                                     const std::string& url) {
  const std::string path = uri.getPath();
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) {
    throw FetchError(url + ": " + error.message());
  }
  if (size > limits.max_size) {
    throw FetchError(url + ": " + std::to_string(size) + " bytes, larger than the limit of " +
                     std::to_string(limits.max_size) + " bytes (crl.max_size)");
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw FetchError(url + ": cannot read " + path);
  }
  return readCapped(stream, limits.max_size, url, static_cast<std::size_t>(size));
}

std::string lowered(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

bool hostMatches(const std::string& host, const std::vector<std::string>& patterns) {
  const std::string name = lowered(host);
  for (const std::string& pattern : patterns) {
    const std::string lowered_pattern = lowered(pattern);
    if (lowered_pattern.starts_with("*.")) {
      const std::string suffix = lowered_pattern.substr(1);  // ".example.com"
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        return true;
      }
    } else if (name == lowered_pattern) {
      return true;
    }
  }
  return false;
}

std::vector<unsigned char> fetchUrl(const std::string& url, const FetchLimits& limits) {
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception& error) {
    throw FetchError(url + ": not a valid URL (" + error.displayText() + ")");
  }
  std::string current = url;
  for (int redirects = 0;; ++redirects) {
    if (uri.getScheme() == "file" && redirects == 0) {
      if (!limits.allow_file) {
        throw FetchError(current +
                         ": file:// is read only from [crl.urls], never from a URL a "
                         "certificate names");
      }
      return fetchFile(uri, limits, current);
    }
    if (uri.getScheme() != "http") {
      throw FetchError(redirects == 0
                           ? current +
                                 ": only http:// and file:// URLs are fetched (a CRL is "
                                 "signed, so it needs no TLS)"
                           : url + ": redirected to " + current +
                                 ", which is refused: a redirect may lead only to another "
                                 "http:// URL");
    }
    if (!limits.allowed_hosts.empty() && !hostMatches(uri.getHost(), limits.allowed_hosts)) {
      throw FetchError((redirects == 0 ? current : url + ": redirected to " + current) +
                       ": host '" + uri.getHost() + "' is not in [crl] allowed_hosts");
    }
    try {
      Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
      // The configuration bounds both timeouts far below what a 32-bit long holds.
      const auto connect_seconds = static_cast<long>(limits.connect_timeout.count());
      const auto read_seconds = static_cast<long>(limits.read_timeout.count());
      session.setTimeout(Poco::Timespan(connect_seconds, 0), Poco::Timespan(read_seconds, 0),
                         Poco::Timespan(read_seconds, 0));
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.set("User-Agent", "certbridge");
      session.sendRequest(request);
      Poco::Net::HTTPResponse response;
      std::istream& body = session.receiveResponse(response);
      const int status = response.getStatus();
      if (status >= 300 && status < 400 && response.has("Location")) {
        if (redirects >= limits.max_redirects) {
          throw FetchError(url + ": more than " + std::to_string(limits.max_redirects) +
                           " redirects");
        }
        uri.resolve(response.get("Location"));
        current = uri.toString();
        continue;
      }
      if (status != Poco::Net::HTTPResponse::HTTP_OK) {
        throw FetchError(current + ": HTTP " + std::to_string(status) + " " + response.getReason());
      }
      if (response.hasContentLength() &&
          static_cast<std::uint64_t>(response.getContentLength64()) > limits.max_size) {
        throw FetchError(current + ": " + std::to_string(response.getContentLength64()) +
                         " bytes announced, larger than the limit of " +
                         std::to_string(limits.max_size) + " bytes (crl.max_size)");
      }
      std::vector<unsigned char> bytes = readCapped(
          body, limits.max_size, current,
          response.hasContentLength() ? static_cast<std::size_t>(response.getContentLength64())
                                      : 0);
      if (response.hasContentLength() &&
          bytes.size() != static_cast<std::size_t>(response.getContentLength64())) {
        throw FetchError(current + ": connection closed after " + std::to_string(bytes.size()) +
                         " of " + std::to_string(response.getContentLength64()) + " bytes");
      }
      return bytes;
    } catch (const Poco::TimeoutException&) {
      throw FetchError(current + ": timed out");
    } catch (const Poco::Net::HostNotFoundException&) {
      throw FetchError(current + ": host not found");
    } catch (const Poco::Net::NoAddressFoundException&) {
      throw FetchError(current + ": host has no address");
    } catch (const Poco::Net::ConnectionRefusedException&) {
      throw FetchError(current + ": connection refused");
    } catch (const Poco::Exception& error) {
      throw FetchError(current + ": " + error.displayText());
    }
  }
}

}  // namespace certbridge::agent
