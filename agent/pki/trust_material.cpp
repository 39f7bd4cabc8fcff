#include "agent/pki/trust_material.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "platform/cert_store.h"

namespace certbridge::agent {
namespace {

// Longer chains than this are a loop or a misconfiguration, not a PKI.
constexpr std::size_t kMaxChainLength = 10;

std::string describe(const Certificate& certificate, const std::string& sources) {
  return "'" + certificate.record().subject + "'" + (sources.empty() ? "" : " [" + sources + "]");
}

struct CaCandidate {
  const Certificate* certificate;
  bool anchor;
};

struct Chain {
  std::vector<const CaCandidate*> cas;  // issuer first, root last
  bool complete = false;                // ends in a self-signed certificate
  bool through_anchor = false;
  std::string missing_issuer;
};

class ChainBuilder {
 public:
  explicit ChainBuilder(const std::vector<CaCandidate>& cas) {
    for (const CaCandidate& candidate : cas) {
      by_subject_[candidate.certificate->record().subject].push_back(&candidate);
    }
    // Among certificates with the same subject (a renewed or cross-signed CA), try anchors
    // first and then the one that lasts longest.
    for (auto& [subject, candidates] : by_subject_) {
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const CaCandidate* left, const CaCandidate* right) {
                         if (left->anchor != right->anchor) {
                           return left->anchor;
                         }
                         return left->certificate->record().not_after >
                                right->certificate->record().not_after;
                       });
    }
  }

  Chain chainAbove(const Certificate& start, bool start_is_anchor) const {
    Chain chain;
    chain.through_anchor = start_is_anchor;
    const Certificate* current = &start;
    while (!current->isSelfSigned()) {
      const CaCandidate* issuer = findIssuer(*current);
      if (issuer == nullptr) {
        chain.missing_issuer = current->record().issuer;
        return chain;
      }
      if (chain.cas.size() >= kMaxChainLength) {
        chain.missing_issuer = "(chain longer than " + std::to_string(kMaxChainLength) + ")";
        return chain;
      }
      chain.cas.push_back(issuer);
      chain.through_anchor = chain.through_anchor || issuer->anchor;
      current = issuer->certificate;
    }
    chain.complete = true;
    return chain;
  }

 private:
  const CaCandidate* findIssuer(const Certificate& certificate) const {
    const auto found = by_subject_.find(certificate.record().issuer);
    if (found == by_subject_.end()) {
      return nullptr;
    }
    for (const CaCandidate* candidate : found->second) {
      if (candidate->certificate != &certificate &&
          certificate.isIssuedBy(*candidate->certificate)) {
        return candidate;
      }
    }
    return nullptr;
  }

  std::map<std::string, std::vector<const CaCandidate*>> by_subject_;
};

// `start` and each CA of `chain` that has an issuer in it, with that issuer.
std::vector<ChainLink> chainLinks(const Certificate& start, const Chain& chain) {
  std::vector<ChainLink> links;
  const Certificate* current = &start;
  for (const CaCandidate* issuer : chain.cas) {
    links.push_back(ChainLink{current->record().subject, current->record().serial,
                              issuer->certificate->record().sha256,
                              issuer->certificate->record().subject});
    current = issuer->certificate;
  }
  return links;
}

}  // namespace

storage::CertificateRole classify(const Certificate& certificate,
                                  const platform::StoreTrust& trust) {
  if (certificate.record().is_ca) {
    return trust.trusted_client_ca ? storage::CertificateRole::anchor
                                   : storage::CertificateRole::intermediate;
  }
  return certificate.isClientAuthCapable() ? storage::CertificateRole::client
                                           : storage::CertificateRole::other;
}

namespace {

std::string describeRevoked(const ChainLink& link) {
  return "'" + link.subject + "' (serial " + link.serial + ") is revoked by the CRL of '" +
         link.issuer_subject + "'";
}

}  // namespace

std::optional<std::string> findRevocation(std::span<const ChainLink> chain,
                                          const IsRevoked& is_revoked) {
  for (const ChainLink& link : chain) {
    if (is_revoked(link.issuer_sha256, link.serial)) {
      return describeRevoked(link);
    }
  }
  return std::nullopt;
}

void removeRevokedClients(TrustMaterial& material, const IsRevoked& is_revoked) {
  // The CAs above the clients are shared by thousands of them: ask about each CA once.
  std::map<std::pair<std::string, std::string>, bool> ca_answers;
  const IsRevoked ask_once = [&](const std::string& issuer_sha256, const std::string& serial) {
    const auto key = std::pair(issuer_sha256, serial);
    const auto known = ca_answers.find(key);
    return known != ca_answers.end()
               ? known->second
               : ca_answers.emplace(key, is_revoked(issuer_sha256, serial)).first->second;
  };
  std::erase_if(material.clients, [&](const TrustedClient& client) {
    std::optional<std::string> revocation;
    if (!client.chain.empty() &&
        is_revoked(client.chain.front().issuer_sha256, client.chain.front().serial)) {
      revocation = describeRevoked(client.chain.front());
    } else if (client.chain.size() > 1) {
      revocation = findRevocation(std::span(client.chain).subspan(1), ask_once);
    }
    if (!revocation) {
      return false;
    }
    material.warnings.push_back("trusted client " + client.label +
                                " is left out of clients.map: " + *revocation);
    return true;
  });
}

std::map<std::string, std::vector<ChainLink>> caChains(
    const std::vector<storage::CertificateView>& certificates) {
  std::vector<Certificate> parsed;
  parsed.reserve(certificates.size());
  for (const storage::CertificateView& view : certificates) {
    if (view.present && view.certificate.is_ca) {
      parsed.push_back(Certificate::fromDer(view.certificate.der,
                                            "stored certificate " + view.certificate.sha256));
    }
  }
  std::vector<CaCandidate> cas;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    cas.push_back(CaCandidate{&parsed[i], false});
  }
  const ChainBuilder builder(cas);
  std::map<std::string, std::vector<ChainLink>> chains;
  for (const Certificate& ca : parsed) {
    chains[ca.record().sha256] = chainLinks(ca, builder.chainAbove(ca, false));
  }
  return chains;
}

TrustMaterial buildTrustMaterial(const std::vector<storage::CertificateView>& certificates,
                                 std::int64_t now) {
  TrustMaterial material;
  std::vector<Certificate> parsed;
  std::vector<const storage::CertificateView*> views;
  parsed.reserve(certificates.size());
  for (const storage::CertificateView& view : certificates) {
    if (!view.present) {
      continue;
    }
    const bool relevant = view.certificate.is_ca || (view.client && view.trust.has_value() &&
                                                     *view.trust == storage::TrustState::trusted);
    if (!relevant) {
      continue;
    }
    parsed.push_back(Certificate::fromDer(view.certificate.der,
                                          "stored certificate " + view.certificate.sha256));
    views.push_back(&view);
  }

  std::vector<CaCandidate> cas;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if (!views[i]->certificate.is_ca) {
      continue;
    }
    if (!parsed[i].isValidAt(now)) {
      if (views[i]->anchor) {
        material.warnings.push_back(
            "trusted CA " + describe(parsed[i], views[i]->sources) + " is not valid now (valid " +
            storage::formatUtc(parsed[i].record().not_before, "%Y-%m-%d") + " to " +
            storage::formatUtc(parsed[i].record().not_after, "%Y-%m-%d") +
            "); left out of client-ca.pem");
      }
      continue;
    }
    cas.push_back(CaCandidate{&parsed[i], views[i]->anchor});
  }
  const ChainBuilder builder(cas);

  std::set<const Certificate*> bundle;
  std::size_t longest = 1;
  const auto addChain = [&](const Chain& chain) {
    for (const CaCandidate* ca : chain.cas) {
      bundle.insert(ca->certificate);
    }
  };

  for (const CaCandidate& ca : cas) {
    if (!ca.anchor) {
      continue;
    }
    const Chain chain = builder.chainAbove(*ca.certificate, true);
    if (!chain.complete) {
      material.warnings.push_back("trusted CA '" + ca.certificate->record().subject +
                                  "' is left out: its issuer '" + chain.missing_issuer +
                                  "' is in no store, and nginx needs the chain up to a root");
      continue;
    }
    bundle.insert(ca.certificate);
    addChain(chain);
    // A client issued directly by this anchor needs one level more than the anchor's own chain.
    longest = std::max(longest, chain.cas.size() + 1);
  }
  if (bundle.empty()) {
    throw RenderError(
        "no CA is trusted for client authentication in any store, so nginx would accept nobody; " +
        platform::clientCaTrustHint());
  }

  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const storage::CertificateView& view = *views[i];
    if (view.certificate.is_ca) {
      continue;
    }
    const Certificate& client = parsed[i];
    const std::string name = describe(client, view.sources);
    if (!client.isValidAt(now)) {
      material.warnings.push_back(
          "trusted client " + name + " is not valid now (valid " +
          storage::formatUtc(client.record().not_before, "%Y-%m-%d") + " to " +
          storage::formatUtc(client.record().not_after, "%Y-%m-%d") + "); left out");
      continue;
    }
    const Chain chain = builder.chainAbove(client, false);
    if (!chain.complete) {
      material.warnings.push_back("trusted client " + name + " is left out: its issuer '" +
                                  chain.missing_issuer + "' is in no store or not valid now");
      continue;
    }
    if (!chain.through_anchor) {
      material.warnings.push_back("trusted client " + name +
                                  " is left out: no CA in its chain is trusted for client "
                                  "authentication (" +
                                  platform::clientCaTrustMark() + ")");
      continue;
    }
    addChain(chain);
    longest = std::max(longest, chain.cas.size());
    material.clients.push_back(TrustedClient{
        .sha1 = client.record().sha1,
        .label = view.sources.empty() ? client.record().subject : view.sources,
        .name =
            view.nickname.empty() ? commonName(X509_get_subject_name(client.get())) : view.nickname,
        .chain = chainLinks(client, chain)});
  }

  for (const Certificate* certificate : bundle) {
    material.client_cas.push_back(BundledCa{certificate->record().subject,
                                            certificate->record().sha256, certificate->toPem(),
                                            certificate->record().der});
  }
  std::sort(material.client_cas.begin(), material.client_cas.end(),
            [](const BundledCa& left, const BundledCa& right) {
              return std::tie(left.subject, left.sha256) < std::tie(right.subject, right.sha256);
            });
  std::sort(
      material.clients.begin(), material.clients.end(),
      [](const TrustedClient& left, const TrustedClient& right) { return left.sha1 < right.sha1; });
  material.verify_depth = static_cast<int>(longest);
  return material;
}

}  // namespace certbridge::agent
