// parseFormBody: a POSTed form (login, CSRF token, upload). The first line of the input is the
// Content-Type header, the rest the body, so that multipart boundaries are fuzzed too. Contract:
// fields and files, BadInput, or BodyTooLarge, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "web/agent_control.h"
#include "web/request_body.h"

using certbridge::web::BadInput;
using certbridge::web::BodyTooLarge;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string content_type = input.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : input.substr(newline + 1);
  try {
    const auto form = certbridge::web::parseFormBody(content_type, body, 4096);
    (void)form.fields.get("csrf", "");
  } catch (const BadInput&) {
  } catch (const BodyTooLarge&) {
  }
  return 0;
}
