#include "agent/pki/trust_material.h"

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "platform/cert_store.h"

namespace certbridge::agent {
namespace {

// Longer chains than this are a loop or a misconfiguration, not a PKI.
constexpr std::size_t kMaxChainLength = 10;

std::string describe(const storage::CertificateRecord& certificate, const std::string& sources) {
  return "'" + certificate.subject + "'" + (sources.empty() ? "" : " [" + sources + "]");
}

bool isValidAt(const storage::CertificateRecord& certificate, std::int64_t unix_time) {
  return certificate.not_before <= unix_time && unix_time <= certificate.not_after;
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

// The start of a chain parsed, for the questions `IssuerVerdicts` cannot answer yet.
using ParseStart = std::function<const Certificate&()>;

class ChainBuilder {
 public:
  ChainBuilder(const std::vector<CaCandidate>& cas, IssuerVerdicts& verdicts)
      : verdicts_(&verdicts) {
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

  // Every certificate above `start` is one of the CA candidates, parsed already; `start` itself
  // is parsed through `parse_start` only when a question about it is not answered yet.
  Chain chainAbove(const storage::CertificateRecord& start, bool start_is_anchor,
                   const ParseStart& parse_start) const {
    Chain chain;
    chain.through_anchor = start_is_anchor;
    const storage::CertificateRecord* current = &start;
    const Certificate* current_ca = nullptr;  // null while at `start`
    const auto parsed = [&]() -> const Certificate& {
      return current_ca != nullptr ? *current_ca : parse_start();
    };
    while (!verdicts_->selfIssued(current->sha256, [&] { return parsed().isSelfSigned(); })) {
      const CaCandidate* issuer = findIssuer(*current, parsed);
      if (issuer == nullptr) {
        chain.missing_issuer = current->issuer;
        return chain;
      }
      if (chain.cas.size() >= kMaxChainLength) {
        chain.missing_issuer = "(chain longer than " + std::to_string(kMaxChainLength) + ")";
        return chain;
      }
      chain.cas.push_back(issuer);
      chain.through_anchor = chain.through_anchor || issuer->anchor;
      current_ca = issuer->certificate;
      current = &current_ca->record();
    }
    chain.complete = true;
    return chain;
  }

 private:
  template <typename Parsed>
  const CaCandidate* findIssuer(const storage::CertificateRecord& certificate,
                                const Parsed& parsed) const {
    const auto found = by_subject_.find(certificate.issuer);
    if (found == by_subject_.end()) {
      return nullptr;
    }
    for (const CaCandidate* candidate : found->second) {
      const storage::CertificateRecord& issuer = candidate->certificate->record();
      if (issuer.sha256 != certificate.sha256 &&
          verdicts_->issuedBy(certificate.sha256, issuer.sha256,
                              [&] { return parsed().isIssuedBy(*candidate->certificate); })) {
        return candidate;
      }
    }
    return nullptr;
  }

  std::map<std::string, std::vector<const CaCandidate*>> by_subject_;
  IssuerVerdicts* verdicts_;
};

// `start` and each CA of `chain` that has an issuer in it, with that issuer.
std::vector<ChainLink> chainLinks(const storage::CertificateRecord& start, const Chain& chain) {
  std::vector<ChainLink> links;
  const storage::CertificateRecord* current = &start;
  for (const CaCandidate* issuer : chain.cas) {
    links.push_back(ChainLink{current->subject, current->serial,
                              issuer->certificate->record().sha256,
                              issuer->certificate->record().subject});
    current = &issuer->certificate->record();
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

std::optional<storage::CertificateRole> classify(const storage::KnownCertificate& certificate,
                                                 const platform::StoreTrust& trust) {
  if (certificate.is_ca) {
    return trust.trusted_client_ca ? storage::CertificateRole::anchor
                                   : storage::CertificateRole::intermediate;
  }
  // For an end entity the role depends on its extended key usage alone, which a store's
  // classification of it recorded.
  if (certificate.store_role == storage::CertificateRole::client ||
      certificate.store_role == storage::CertificateRole::other) {
    return certificate.store_role;
  }
  return std::nullopt;
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

void IssuerVerdicts::endRender() {
  std::erase_if(verdicts_,
                [&](const auto& entry) { return entry.second.generation != generation_; });
}

void IssuerVerdictSeeder::addIssuer(Certificate ca) {
  std::vector<Certificate>& same_subject = issuers_by_subject_[ca.record().subject];
  const bool known = std::any_of(same_subject.begin(), same_subject.end(), [&](const auto& held) {
    return held.record().sha256 == ca.record().sha256;
  });
  if (!known) {
    same_subject.push_back(std::move(ca));
  }
}

IssuerVerdictSeeder::Answers IssuerVerdictSeeder::answersFor(const Certificate& certificate) const {
  const storage::CertificateRecord& child = certificate.record();
  Answers answers{.sha256 = child.sha256, .self_issued = certificate.isSelfSigned()};
  const auto issuers = issuers_by_subject_.find(child.issuer);
  if (issuers != issuers_by_subject_.end()) {
    for (const Certificate& issuer : issuers->second) {
      if (issuer.record().sha256 != child.sha256) {
        answers.issued_by.emplace_back(issuer.record().sha256, certificate.isIssuedBy(issuer));
      }
    }
  }
  return answers;
}

void IssuerVerdictSeeder::record(const Answers& answers) {
  verdicts_->selfIssued(answers.sha256, [&] { return answers.self_issued; });
  for (const std::pair<std::string, bool>& issuer : answers.issued_by) {
    verdicts_->issuedBy(answers.sha256, issuer.first, [&] { return issuer.second; });
  }
}

void IssuerVerdictSeeder::answerForIssuers() {
  for (const auto& [subject, issuers] : issuers_by_subject_) {
    for (const Certificate& issuer : issuers) {
      record(answersFor(issuer));
    }
  }
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
  IssuerVerdicts verdicts;
  const ChainBuilder builder(cas, verdicts);
  std::map<std::string, std::vector<ChainLink>> chains;
  for (const Certificate& ca : parsed) {
    chains[ca.record().sha256] = chainLinks(
        ca.record(),
        builder.chainAbove(ca.record(), false, [&]() -> const Certificate& { return ca; }));
  }
  return chains;
}

TrustMaterial buildTrustMaterial(const std::vector<storage::CertificateView>& certificates,
                                 std::int64_t now, IssuerVerdicts* verdicts) {
  IssuerVerdicts own_verdicts;
  IssuerVerdicts& known = verdicts != nullptr ? *verdicts : own_verdicts;
  known.beginRender();

  TrustMaterial material;
  // Every present CA is parsed (there are few); clients only when needed, one at a time.
  std::vector<const storage::CertificateView*> ca_views;
  std::vector<const storage::CertificateView*> client_views;
  for (const storage::CertificateView& view : certificates) {
    if (!view.present) {
      continue;
    }
    if (view.certificate.is_ca) {
      ca_views.push_back(&view);
    } else if (view.client && view.trust.has_value() &&
               *view.trust == storage::TrustState::trusted) {
      client_views.push_back(&view);
    }
  }
  std::vector<Certificate> parsed_cas;
  parsed_cas.reserve(ca_views.size());  // CaCandidate points into it
  std::vector<CaCandidate> cas;
  for (const storage::CertificateView* view : ca_views) {
    const storage::CertificateRecord& record = view->certificate;
    if (!isValidAt(record, now)) {
      if (view->anchor) {
        material.warnings.push_back(
            "trusted CA " + describe(record, view->sources) + " is not valid now (valid " +
            storage::formatUtc(record.not_before, "%Y-%m-%d") + " to " +
            storage::formatUtc(record.not_after, "%Y-%m-%d") + "); left out of client-ca.pem");
      }
      continue;
    }
    parsed_cas.push_back(Certificate::fromDer(record.der, "stored certificate " + record.sha256));
    cas.push_back(CaCandidate{&parsed_cas.back(), view->anchor});
  }
  const ChainBuilder builder(cas, known);

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
    const Chain chain = builder.chainAbove(ca.certificate->record(), true,
                                           [&]() -> const Certificate& { return *ca.certificate; });
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

  for (const storage::CertificateView* view : client_views) {
    const storage::CertificateRecord& client = view->certificate;
    std::optional<Certificate> parsed_client;
    const ParseStart parse = [&]() -> const Certificate& {
      if (!parsed_client) {
        parsed_client.emplace(
            Certificate::fromDer(client.der, "stored certificate " + client.sha256));
      }
      return *parsed_client;
    };
    const std::string name = describe(client, view->sources);
    if (!isValidAt(client, now)) {
      material.warnings.push_back("trusted client " + name + " is not valid now (valid " +
                                  storage::formatUtc(client.not_before, "%Y-%m-%d") + " to " +
                                  storage::formatUtc(client.not_after, "%Y-%m-%d") + "); left out");
      continue;
    }
    const Chain chain = builder.chainAbove(client, false, parse);
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
        .sha1 = client.sha1,
        .label = view->sources.empty() ? client.subject : view->sources,
        .name = view->nickname.empty() ? commonName(X509_get_subject_name(parse().get()))
                                       : view->nickname,
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
  known.endRender();
  return material;
}

}  // namespace certbridge::agent
