#pragma once

#include <Poco/Net/NameValueCollection.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace certbridge::web {

// A request body, or one part of it, larger than [web] max_body (answered with 413).
class BodyTooLarge : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a POSTed form carried: its fields and the contents of its file parts, in order.
struct FormBody {
  Poco::Net::NameValueCollection fields;
  std::vector<std::string> files;
};

// Decodes a form body already read within the limit: multipart/form-data when `content_type`
// says so, else application/x-www-form-urlencoded. At most 100 fields; a file part larger than
// `max_body` throws BodyTooLarge. Throws BadInput for a body that is not a form. Pure, so that
// it can be fuzzed without a socket.
FormBody parseFormBody(const std::string& content_type, const std::string& body,
                       std::size_t max_body);

// The "state" of a POST /api/v1/certificates/SHA256/trust body ({"state": "trusted"}); empty
// when the body is a JSON object without a "state" string. Throws BadInput for anything else.
std::string trustStateFromJson(const std::string& body);

}  // namespace certbridge::web
