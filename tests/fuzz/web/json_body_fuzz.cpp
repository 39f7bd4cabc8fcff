// trustStateFromJson: the body of POST /api/v1/certificates/SHA256/trust. Contract: a state
// string or BadInput, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "web/agent_control.h"
#include "web/request_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)certbridge::web::trustStateFromJson(
        std::string(reinterpret_cast<const char*>(data), size));
  } catch (const certbridge::web::BadInput&) {
  }
  return 0;
}
