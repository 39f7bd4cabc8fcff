#include "agent/sync/status_service.h"

#include <map>
#include <optional>
#include <set>

#include "agent/pki/certificate.h"
#include "agent/pki/trust_material.h"
#include "storage/crl_repository.h"

namespace certbridge::agent::sync {
namespace {

// Why a certificate is revoked, naming which certificate of its chain and which CA's CRL; empty
// when none is. A client's issuer is any present CA with its issuer's subject whose key signed
// it (checked only when several share the subject); the chain above comes from `ca_chains`.
class RevocationFinder {
 public:
  RevocationFinder(storage::CrlRepository& crls,
                   const std::vector<storage::CertificateView>& certificates)
      : crls_(crls), ca_chains_(caChains(certificates)) {
    for (const storage::CertificateView& view : certificates) {
      if (view.certificate.is_ca) {
        cas_by_subject_[view.certificate.subject].push_back(view);
      }
    }
  }

  std::string of(const storage::CertificateView& view) const {
    if (view.certificate.is_ca) {
      const auto chain = ca_chains_.find(view.certificate.sha256);
      return chain == ca_chains_.end() ? "" : find(chain->second);
    }
    const auto issuers = cas_by_subject_.find(view.certificate.issuer);
    if (issuers == cas_by_subject_.end()) {
      return "";
    }
    std::optional<Certificate> client;
    for (const storage::CertificateView& issuer : issuers->second) {
      if (issuers->second.size() > 1) {
        if (!client) {
          client = Certificate::fromDer(view.certificate.der,
                                        "stored certificate " + view.certificate.sha256);
        }
        const Certificate ca = Certificate::fromDer(
            issuer.certificate.der, "stored certificate " + issuer.certificate.sha256);
        if (!client->isIssuedBy(ca)) {
          continue;
        }
      }
      std::vector<ChainLink> chain{ChainLink{view.certificate.subject, view.certificate.serial,
                                             issuer.certificate.sha256,
                                             issuer.certificate.subject}};
      if (const auto above = ca_chains_.find(issuer.certificate.sha256);
          above != ca_chains_.end()) {
        chain.insert(chain.end(), above->second.begin(), above->second.end());
      }
      if (std::string found = find(chain); !found.empty()) {
        return found;
      }
    }
    return "";
  }

 private:
  std::string find(const std::vector<ChainLink>& chain) const {
    return findRevocation(chain,
                          [&](const std::string& issuer_sha256, const std::string& serial) {
                            return crls_.isRevoked(issuer_sha256, serial);
                          })
        .value_or("");
  }

  storage::CrlRepository& crls_;
  std::map<std::string, std::vector<ChainLink>> ca_chains_;
  std::map<std::string, std::vector<storage::CertificateView>> cas_by_subject_;
};

}  // namespace

storage::StatusSnapshot takeStatusSnapshot(storage::Database& database,
                                           const storage::StatusOptions& options) {
  storage::StatusSnapshot snapshot;
  database.read([&] {
    snapshot = storage::readStatusSnapshot(database, options);
    std::vector<storage::CertificateView> views;
    views.reserve(snapshot.certificates.size());
    for (const storage::CertificateStatus& status : snapshot.certificates) {
      views.push_back(status.view);
    }

    // Which trusted clients the sync would put into clients.map.
    std::set<std::string> published;
    std::string left_out_by_all;
    try {
      for (const TrustedClient& client : buildTrustMaterial(views, options.now).clients) {
        published.insert(client.sha1);
      }
    } catch (const RenderError&) {
      left_out_by_all = "no trust anchor";
    }
    for (storage::CertificateStatus& status : snapshot.certificates) {
      const storage::CertificateView& view = status.view;
      if (status.trust != "trusted" || !view.client || published.contains(view.certificate.sha1)) {
        continue;
      }
      status.trust = "left out";
      if (!left_out_by_all.empty()) {
        status.left_out = left_out_by_all;
      } else if (view.certificate.not_after < options.now ||
                 view.certificate.not_before > options.now) {
        status.left_out = "expired";
      } else {
        status.left_out = "chain not trusted";
      }
    }

    // Revocation as certbridge enforces it (clients.map): any certificate of the chain revoked
    // by a CRL held. Shown for clients and for CAs alike.
    if (options.crl_enabled) {
      storage::CrlRepository crls(database);
      const RevocationFinder finder(crls, views);
      for (storage::CertificateStatus& status : snapshot.certificates) {
        const storage::CertificateView& view = status.view;
        if (!view.certificate.is_ca && !view.client) {
          continue;
        }
        status.revocation = finder.of(view);
        if (!status.revocation.empty() && (view.trust || view.certificate.is_ca)) {
          status.trust = "revoked";
          status.left_out =
              view.trust && *view.trust == storage::TrustState::trusted
                  ? (status.revocation.starts_with("'" + view.certificate.subject + "' (serial " +
                                                   view.certificate.serial + ")")
                         ? "revoked"
                         : "revoked CA")
                  : "";
        }
      }
    }
  });
  return snapshot;
}

}  // namespace certbridge::agent::sync
