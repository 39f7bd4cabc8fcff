#include "agent/trust_sync.h"

#include <openssl/evp.h>

#include <algorithm>

#include "agent/certificate.h"
#include "agent/nginx_files.h"
#include "agent/trust_material.h"
#include "platform/cert_store.h"

namespace certbridge::agent {
namespace {

// Identifies a snapshot so an unchanged store is recognised without parsing a certificate.
std::string snapshotDigest(const platform::StoreSnapshot& snapshot) {
  std::vector<std::string> lines;
  lines.reserve(snapshot.certificates.size());
  for (const platform::StoreCertificate& entry : snapshot.certificates) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(entry.der.data(), entry.der.size(), digest, &length, EVP_sha256(), nullptr);
    lines.push_back(toHex(std::span(digest, length)) + (entry.trust.trusted_client_ca ? "T" : "-") +
                    (entry.trust.trusted_server_ca ? "C" : "-") +
                    (entry.trust.trusted_peer ? "P" : "-") + entry.nickname);
  }
  std::sort(lines.begin(), lines.end());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  for (const std::string& line : lines) {
    EVP_DigestUpdate(context.get(), line.data(), line.size() + 1);  // with the terminating NUL
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  return toHex(std::span(digest, length));
}

}  // namespace

std::string SyncReport::summary() const {
  if (!errors.empty()) {
    return errors.front() + (errors.size() > 1
                                 ? " (and " + std::to_string(errors.size() - 1) + " more errors)"
                                 : "");
  }
  if (publish.result == PublishOutcome::Result::failed) {
    return "publish failed: " + publish.detail;
  }
  std::string text =
      std::to_string(changes.size()) + " store change(s); nginx files " + toString(publish.result);
  if (!warnings.empty()) {
    text += "; " + std::to_string(warnings.size()) + " warning(s)";
  }
  return text;
}

TrustSync::TrustSync(const AgentConfig& config, storage::Database& database, Poco::Logger& logger)
    : config_(config),
      certificates_(database),
      publish_history_(database),
      publisher_(config.nginx),
      logger_(logger) {}

SyncReport TrustSync::syncOnce(std::int64_t now) {
  SyncReport report;
  for (const StoreConfig& store : config_.stores) {
    syncStore(store, now, report);
  }
  renderAndPublish(now, report);
  return report;
}

void TrustSync::syncStore(const StoreConfig& store, std::int64_t now, SyncReport& report) {
  const storage::StoreDefinition definition{store.name, store.type, store.path, store.policy};
  try {
    const auto reader = platform::openCertStore({store.type, store.path});
    const platform::StoreSnapshot snapshot = reader->read();
    const std::string digest = snapshotDigest(snapshot);
    if (certificates_.snapshotDigest(store.name) == digest) {
      certificates_.recordSyncResult(definition, now, "");
      logger_.debug("store %s unchanged (%z certificates)", store.name,
                    snapshot.certificates.size());
      return;
    }

    std::vector<storage::StoreEntry> entries;
    entries.reserve(snapshot.certificates.size());
    for (const platform::StoreCertificate& entry : snapshot.certificates) {
      const Certificate certificate =
          Certificate::fromDer(entry.der, "store " + store.name + " (" + reader->describe() +
                                              "), certificate '" + entry.nickname + "'");
      entries.push_back({certificate.record(), entry.nickname, classify(certificate, entry.trust)});
    }
    const storage::StoreChanges changes =
        certificates_.applySnapshot(definition, entries, digest, now);
    for (const std::string& added : changes.added) {
      report.changes.push_back("store " + store.name + ": added " + added);
    }
    for (const std::string& returned : changes.returned) {
      report.changes.push_back("store " + store.name + ": back again " + returned);
    }
    for (const std::string& gone : changes.gone) {
      report.changes.push_back("store " + store.name + ": gone " + gone);
    }
    logger_.information("store %s read: %z certificates, %z CRLs; %z added, %z gone", store.name,
                        entries.size(), snapshot.crls.size(), changes.added.size(),
                        changes.gone.size());
  } catch (const std::exception& error) {
    const std::string message = std::string(error.what()) + " (store " + store.name +
                                " left as it was; nothing published from it changes)";
    report.errors.push_back(message);
    try {
      certificates_.recordSyncResult(definition, now, error.what());
    } catch (const std::exception& storage_error) {
      report.errors.push_back(storage_error.what());
    }
  }
}

void TrustSync::renderAndPublish(std::int64_t now, SyncReport& report) {
  std::vector<OutputFile> files;
  try {
    const TrustMaterial material = buildTrustMaterial(certificates_.listCertificates(), now);
    report.warnings = material.warnings;
    files = renderNginxFiles(material, config_.nginx.output_dir);
    report.rendered = true;
  } catch (const std::exception& error) {
    report.errors.push_back(std::string("nothing published: ") + error.what());
    return;
  }

  report.publish = publisher_.publish(files);
  try {
    publish_history_.append({now, toString(report.publish.result),
                             report.publish.hash_of("client-ca.pem"),
                             report.publish.hash_of("clients.map"),
                             report.publish.hash_of("mtls.conf"), report.publish.detail});
  } catch (const std::exception& error) {
    report.errors.push_back(std::string("cannot record the publish result: ") + error.what());
  }
}

}  // namespace certbridge::agent
