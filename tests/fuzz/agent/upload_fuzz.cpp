// decodeUploadedClient: the bytes a person uploads on the web page or to POST /api/v1/uploads.
// Contract: one client certificate or a web::BadInput, nothing else.
#include <cstddef>
#include <cstdint>
#include <span>

#include "agent/sync/agent_control_service.h"
#include "web/agent_control.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto certificate = certbridge::agent::sync::decodeUploadedClient(std::span(data, size));
    if (!certificate.isClientAuthCapable()) {
      __builtin_trap();  // a certificate the upload path promised to refuse
    }
  } catch (const certbridge::web::BadInput&) {
  }
  return 0;
}
