#include <charconv>

#include "agent/doctor/doctor_internal.h"

namespace certbridge::agent::doctor_internal {

CheckResult endpointCaNames(const TlsProbeResult& probe, const std::string& endpoint,
                            const BundleFile* ca_file) {
  const std::string id = "endpoint_ca_names";
  if (!probe.error.empty()) {
    return check(id, CheckStatus::fail, endpoint + ": " + probe.error,
                 "check that nginx listens there with ssl and that --server-name selects the "
                 "right server {}");
  }
  if (!probe.certificate_requested) {
    return check(id, CheckStatus::fail,
                 endpoint + " (" + probe.protocol +
                     ") did not ask for a client certificate: ssl_verify_client is off for the "
                     "server {} this name reaches",
                 "pass --server-name NAME to select the server, or set ssl_verify_client there");
  }
  if (probe.ca_names.empty()) {
    return check(id, CheckStatus::fail,
                 endpoint +
                     " asks for a client certificate but names no CA (\"No client "
                     "certificate CA names sent\"): clients do not know which certificate "
                     "to offer",
                 "set ssl_client_certificate to the CA bundle; ssl_trusted_certificate does "
                 "not send names");
  }
  const std::string sent =
      std::to_string(probe.ca_names.size()) + " CA name(s) sent: " + join(probe.ca_names, "; ");
  if (ca_file == nullptr || !ca_file->readable) {
    return check(id, CheckStatus::pass, endpoint + ": " + sent);
  }
  std::set<std::string> expected;
  for (const Certificate& certificate : ca_file->certificates) {
    expected.insert(certificate.record().subject);
  }
  const std::set<std::string> received(probe.ca_names.begin(), probe.ca_names.end());
  if (received != expected) {
    std::vector<std::string> missing;
    std::set_difference(expected.begin(), expected.end(), received.begin(), received.end(),
                        std::back_inserter(missing));
    std::vector<std::string> extra;
    std::set_difference(received.begin(), received.end(), expected.begin(), expected.end(),
                        std::back_inserter(extra));
    return check(
        id, CheckStatus::warn,
        endpoint + ": " + sent + ". They differ from " + ca_file->path +
            (missing.empty() ? "" : " (not sent: " + join(missing, "; ") + ")") +
            (extra.empty() ? "" : " (sent but not in the file: " + join(extra, "; ") + ")") +
            ": the running nginx has not read the file since it changed",
        "nginx -t && nginx -s reload");
  }
  return check(id, CheckStatus::pass, endpoint + ": " + sent + ", as in " + ca_file->path);
}

CheckResult endpointClient(const TlsProbeResult& probe, const std::string& endpoint,
                           const std::string& certificate, const std::string& reason,
                           const std::string& error_log) {
  const std::string id = "endpoint_client";
  const std::string nginx_says =
      !reason.empty()     ? "; nginx's error log says: " + reason
      : error_log.empty() ? ""
                          : "; nginx logged no reason in " + error_log +
                                " (it logs certificate errors at level info: error_log ... info)";
  if (!probe.error.empty()) {
    return check(id, CheckStatus::fail,
                 endpoint + " with " + certificate + ": " + probe.error + nginx_says);
  }
  const std::string answer = "HTTP " + std::to_string(probe.http_status) +
                             (probe.http_reason.empty() ? "" : " \"" + probe.http_reason + "\"");
  if (!probe.certificate_requested) {
    return check(id, CheckStatus::warn,
                 endpoint + " did not ask for a client certificate, so " + certificate +
                     " was not sent; the answer was " + answer);
  }
  if (probe.http_status == 400 || probe.http_status == 495 || probe.http_status == 496) {
    return check(id, CheckStatus::fail,
                 endpoint + " rejected " + certificate + " at verification: " + answer + nginx_says,
                 "see the reason: \"unable to get issuer certificate\" means the issuing CA is "
                 "not in the bundle or the chain is longer than ssl_verify_depth (see "
                 "verify_depth); an expired certificate or CRL needs renewing");
  }
  if (probe.http_status == 403) {
    return check(id, CheckStatus::fail,
                 endpoint + " verified " + certificate + " but refused the request: " + answer +
                     ". With certbridge, the client is not on the trusted list (clients.map)",
                 "approve the client (certbridge's web page, or its store's trust settings)");
  }
  return check(id, probe.http_status < 400 ? CheckStatus::pass : CheckStatus::warn,
               endpoint + " accepted " + certificate + " (" + probe.protocol + "): " + answer);
}

Endpoint parseEndpoint(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  int port = 0;
  const char* digits_end = text.data() + text.size();
  const auto parsed = colon == std::string::npos
                          ? std::from_chars_result{digits_end, std::errc::invalid_argument}
                          : std::from_chars(text.data() + colon + 1, digits_end, port);
  if (parsed.ec != std::errc() || parsed.ptr != digits_end || port < 1 || port > 65535) {
    throw std::invalid_argument(
        "--endpoint takes HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:443 or "
        "[::1]:443 (not '" +
        text + "')");
  }
  std::string host = text.substr(0, colon);
  if (host.starts_with("[") && host.ends_with("]")) {
    host = host.substr(1, host.size() - 2);
  }
  return {host, port};
}

// The verifying server {} an endpoint reaches: one listening on its port with the name given
// (or the first one on the port).
const ServerContext* serverFor(const std::vector<ServerContext>& servers, int port,
                               const std::string& name) {
  const ServerContext* first = nullptr;
  for (const ServerContext& server : servers) {
    const auto listens = listenAddresses(server.server);
    if (std::none_of(listens.begin(), listens.end(),
                     [&](const std::string& listen) { return portOf(listen) == port; })) {
      continue;
    }
    const auto names = serverNames(server.server);
    if (!name.empty() && std::find(names.begin(), names.end(), name) != names.end()) {
      return &server;
    }
    first = first == nullptr ? &server : first;
  }
  return first;
}

}  // namespace certbridge::agent::doctor_internal
