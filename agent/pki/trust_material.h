#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/pki/certificate.h"
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

// One certificate of a chain and the CA that issued it, whose CRL decides on it.
struct ChainLink {
  std::string subject;
  std::string serial;  // canonical text (storage/serial_number.h)
  std::string issuer_sha256;
  std::string issuer_subject;
};

struct TrustedClient {
  std::string sha1;   // what nginx's $ssl_client_fingerprint holds
  std::string label;  // "store/nickname" or subject, for logs and comments
  std::string name;   // nickname, or the subject's CN: the identity handed to backends
  // The client first, then each CA above it up to (not including) the self-signed root: every
  // certificate some CRL in crl.pem decides on.
  std::vector<ChainLink> chain;
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

// Whether the CRL held for the CA `issuer_sha256` lists `serial`.
using IsRevoked = std::function<bool(const std::string& issuer_sha256, const std::string& serial)>;

// The first link of `chain` that `is_revoked` says is revoked, as a phrase for logs and status:
// "'CN=Sub CA' (serial 1F) is revoked by the CRL of 'CN=Root CA'"; nullopt when none is.
std::optional<std::string> findRevocation(std::span<const ChainLink> chain,
                                          const IsRevoked& is_revoked);

// Leaves out every client with any certificate of its chain revoked (the client itself, or a CA
// above it), with a warning naming that certificate and the CRL. This is certbridge's own
// enforcement: it holds whether or not nginx checks CRLs itself (crl.missing = omit).
void removeRevokedClients(TrustMaterial& material, const IsRevoked& is_revoked);

// The chain above each present CA certificate, by SHA-256: the CA's own link first, up to (not
// including) the self-signed root; empty for a root, and shorter when an issuer is missing.
// Built from the present CAs whatever their dates, for `status`.
std::map<std::string, std::vector<ChainLink>> caChains(
    const std::vector<storage::CertificateView>& certificates);

// Builds chains from each trusted client, and from each trust anchor, up to a self-signed root
// using the CA certificates present in the stores. A client is published only when its chain is
// complete, valid at `now`, and passes through an anchor; expired and unchainable certificates
// are left out with a warning. Throws RenderError when no anchor can be published.
TrustMaterial buildTrustMaterial(const std::vector<storage::CertificateView>& certificates,
                                 std::int64_t now);

}  // namespace certbridge::agent
