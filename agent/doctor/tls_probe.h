#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace certbridge::agent {

struct TlsProbeRequest {
  std::string host;
  int port = 0;
  std::string server_name;         // SNI and Host header; empty: none / the host
  std::string client_certificate;  // PEM files; empty: offer no certificate
  std::string client_key;
  std::chrono::seconds timeout{10};
};

// What a TLS client saw of a server that may ask for a client certificate.
struct TlsProbeResult {
  std::string error;  // empty when the handshake completed
  bool certificate_requested = false;
  std::vector<std::string> ca_names;  // from the CertificateRequest, RFC 2253, in order
  std::string protocol;               // e.g. "TLSv1.3"
  int http_status = 0;                // 0 when no HTTP answer came
  std::string http_reason;            // nginx's page title, e.g. "The SSL certificate error"
};

// Connects, handshakes (the server's own certificate is not verified: this diagnoses the client
// side) and sends "GET /". With a client key, the key is read into memory for this handshake
// only and freed at return; it is never copied elsewhere or logged. Throws std::runtime_error for
// unreadable key or certificate files; connection and handshake failures are in `error`.
TlsProbeResult probeTls(const TlsProbeRequest& request);

}  // namespace certbridge::agent
