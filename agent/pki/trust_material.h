#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/pki/certificate.h"
#include "platform/cert_store.h"
#include "storage/records.h"

namespace certbridge::agent {

// How one store presents one certificate: a CA trusted to issue client certificates (NSS trust
// "T"), another CA (a possible intermediate), a client certificate, or something else.
storage::CertificateRole classify(const Certificate& certificate,
                                  const platform::StoreTrust& trust);
// The same for a certificate stored before, without parsing it again; nullopt when what storage
// knows does not decide it (a certificate that is not a CA and that only uploads hold).
std::optional<storage::CertificateRole> classify(const storage::KnownCertificate& certificate,
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

// What chain building learnt about certificates, by SHA-256 fingerprint: whether a child names
// an issuer and that issuer's key verifies the child's signature (keyed by both fingerprints),
// and whether a certificate is self-issued. Both are functions of the DER alone, so a cached
// answer is as good as a new one; verifying is the costly part of chain building (10,000
// clients: ~1 s), and after a store change only the new pairs need it.
// Held in memory by the sync pipeline (TrustSync) for as long as the agent runs, not in SQLite:
// a fresh process verifies each pair once, the long-running `run` (where changes arrive) keeps
// them, and no schema change is needed. Entries not used by a render are dropped at its end, so
// it holds no more than the present certificates' pairs. Not thread-safe: one render at a time.
class IssuerVerdicts {
 public:
  // The cached answer for `child` and `issuer`, or `verify()`'s, which is then kept.
  template <typename Verify>
  bool issuedBy(const std::string& child_sha256, const std::string& issuer_sha256,
                Verify&& verify) {
    return lookup(child_sha256 + issuer_sha256, verify);
  }
  template <typename Check>
  bool selfIssued(const std::string& sha256, Check&& check) {
    return lookup(sha256, check);
  }
  // Starts a render: what the previous one did not use can go at the next endRender().
  void beginRender() { ++generation_; }
  // Drops every answer this render did not use.
  void endRender();
  // How many answers were computed rather than found, since construction (for tests).
  std::size_t computed() const { return computed_; }
  std::size_t size() const { return verdicts_.size(); }

 private:
  struct Verdict {
    bool answer = false;
    std::uint64_t generation = 0;
  };
  template <typename Compute>
  bool lookup(const std::string& key, Compute& compute) {
    const auto found = verdicts_.find(key);
    if (found != verdicts_.end()) {
      found->second.generation = generation_;
      return found->second.answer;
    }
    const bool answer = compute();
    ++computed_;
    verdicts_.emplace(key, Verdict{answer, generation_});
    return answer;
  }

  std::unordered_map<std::string, Verdict> verdicts_;
  std::uint64_t generation_ = 0;
  std::size_t computed_ = 0;
};

// Answers chain building's questions about certificates while a sync parses them anyway, so the
// render after it need not parse them again (parsing is the costly half of a full sync: with
// OpenSSL 3 most of it is decoding the public key). The answers are the ones chain building
// would compute itself (`Certificate::isSelfSigned`, `Certificate::isIssuedBy`), kept in the
// same `IssuerVerdicts`; a question nobody answered here is answered by chain building as before.
class IssuerVerdictSeeder {
 public:
  // What is known of one certificate: whether it is self-issued, and which of the CAs added
  // issued it (by SHA-256, each with the answer).
  struct Answers {
    std::string sha256;
    bool self_issued = false;
    std::vector<std::pair<std::string, bool>> issued_by;
  };

  explicit IssuerVerdictSeeder(IssuerVerdicts& verdicts) : verdicts_(&verdicts) {}
  // A CA that may have issued certificates answered for later; kept while the seeder lives.
  void addIssuer(Certificate ca);
  // The answers for `certificate` against the CAs added so far. Reads only, so several threads
  // may ask at once while no CA is being added.
  Answers answersFor(const Certificate& certificate) const;
  // Keeps `answers` in the verdicts (one thread at a time).
  void record(const Answers& answers);
  // Answers for every CA added (the chains between CAs).
  void answerForIssuers();

 private:
  IssuerVerdicts* verdicts_;
  std::map<std::string, std::vector<Certificate>> issuers_by_subject_;
};

// Builds chains from each trusted client, and from each trust anchor, up to a self-signed root
// using the CA certificates present in the stores. A client is published only when its chain is
// complete, valid at `now`, and passes through an anchor; expired and unchainable certificates
// are left out with a warning. Throws RenderError when no anchor can be published.
// Client certificates are parsed only when a signature or self-issue question about them is not
// in `verdicts` (or their nickname is empty), so a render after a small change parses and
// verifies only what is new; without `verdicts` every pair is verified.
TrustMaterial buildTrustMaterial(const std::vector<storage::CertificateView>& certificates,
                                 std::int64_t now, IssuerVerdicts* verdicts = nullptr);

}  // namespace certbridge::agent
