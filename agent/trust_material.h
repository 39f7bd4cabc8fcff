#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/certificate.h"
#include "platform/cert_store.h"
#include "storage/records.h"

namespace certbridge::agent {

// How one store presents one certificate: a CA trusted to issue client certificates (NSS trust
// "T"), another CA (a possible intermediate), a client certificate, or something else.
storage::CertificateRole classify(const Certificate& certificate,
                                  const platform::StoreTrust& trust);

struct BundledCa {
  std::string subject;
  std::string sha256;
  std::string pem;
  std::vector<unsigned char> der;
};

struct TrustedClient {
  std::string sha1;           // what nginx's $ssl_client_fingerprint holds
  std::string label;          // "store/nickname" or subject, for logs and comments
  std::string name;           // nickname, or the subject's CN: the identity handed to backends
  std::string issuer_sha256;  // the CA that issued it, whose CRL decides on it
  std::string serial;
};

// What nginx must be told, derived from storage: the CA bundle (each certificate once, in a
// stable order), the clients allowed through, the verify depth, and why anything was left out.
struct TrustMaterial {
  std::vector<BundledCa> client_cas;
  std::vector<TrustedClient> clients;
  int verify_depth = 1;
  std::vector<std::string> warnings;
};

// Thrown when there is nothing nginx could be given (no usable trust anchor at all).
class RenderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Leaves out every client that `is_revoked(issuer_sha256, serial)` says is revoked, with a warning.
void removeRevokedClients(TrustMaterial& material,
                          const std::function<bool(const std::string& issuer_sha256,
                                                   const std::string& serial)>& is_revoked);

// Builds chains from each trusted client, and from each trust anchor, up to a self-signed root
// using the CA certificates present in the stores. A client is published only when its chain is
// complete, valid at `now`, and passes through an anchor; expired and unchainable certificates
// are left out with a warning. Throws RenderError when no anchor can be published.
TrustMaterial buildTrustMaterial(const std::vector<storage::CertificateView>& certificates,
                                 std::int64_t now);

}  // namespace certbridge::agent
