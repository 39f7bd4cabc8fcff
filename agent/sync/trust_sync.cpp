#include "agent/sync/trust_sync.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "agent/pki/certificate.h"
#include "agent/pki/crl.h"
#include "agent/sync/parallel.h"
#include "platform/cert_store.h"
#include "storage/certificate_page.h"

namespace certbridge::agent {
namespace {

// SHA-256 of a file's content, read in chunks; empty when it cannot be read.
std::string fileSha256(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    return "";
  }
  storage::Sha256 digest;
  std::vector<char> chunk(64 * 1024);
  while (stream) {
    stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    digest.update(std::string_view(chunk.data(), static_cast<std::size_t>(stream.gcount())));
  }
  return digest.finalHex();
}

// Identifies a snapshot so an unchanged store is recognised without parsing a certificate;
// `fingerprints` are the SHA-256 of each certificate's DER, in the snapshot's order.
std::string snapshotDigest(const platform::StoreSnapshot& snapshot,
                           const std::vector<std::string>& fingerprints) {
  std::vector<std::string> lines;
  lines.reserve(snapshot.certificates.size());
  for (std::size_t i = 0; i < snapshot.certificates.size(); ++i) {
    const platform::StoreCertificate& entry = snapshot.certificates[i];
    lines.push_back(fingerprints[i] + (entry.trust.trusted_client_ca ? "T" : "-") +
                    (entry.trust.trusted_server_ca ? "C" : "-") +
                    (entry.trust.trusted_peer ? "P" : "-") + entry.nickname);
  }
  std::sort(lines.begin(), lines.end());
  storage::Sha256 digest;
  for (const std::string& line : lines) {
    digest.update(std::string_view(line.data(), line.size() + 1));  // with the terminating NUL
  }
  return digest.finalHex();
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
      database_(database),
      certificates_(database),
      publish_history_(database),
      crls_(database),
      crl_refresher_(config.crl, database, logger),
      publisher_(config.nginx),
      logger_(logger) {}

SyncReport TrustSync::syncOnce(std::int64_t now, const CrlForce& force) {
  SyncReport report;
  store_crls_.clear();
  unchanged_stores_.clear();
  for (const StoreConfig& store : config_.stores) {
    syncStore(store, now, report);
  }
  renderAndPublish(now, force, report);
  try {
    recordUnchangedStores(now);  // when rendering stopped before the publish was recorded
  } catch (const std::exception& error) {
    report.errors.push_back(error.what());
  }
  return report;
}

void TrustSync::prepareForChanges(std::int64_t now) {
  if (issuer_verdicts_.computed() > 0) {
    return;  // a render has filled them already
  }
  try {
    buildTrustMaterial(certificates_.listCertificates(), now, &issuer_verdicts_);
  } catch (const std::exception& error) {
    // Nothing is lost: the next render builds the chains and says what is wrong.
    logger_.debug("chains not prepared in advance: %s", std::string(error.what()));
  }
}

void TrustSync::recordUnchangedStores(std::int64_t now) {
  for (const auto& [definition, change_token] : unchanged_stores_) {
    certificates_.recordSyncResult(definition, now, "", change_token);
  }
  unchanged_stores_.clear();
}

void TrustSync::syncStore(const StoreConfig& store, std::int64_t now, SyncReport& report) {
  const storage::StoreDefinition definition{store.name, store.type, store.whereText(),
                                            store.policy};
  try {
    const auto reader = platform::openCertStore(store.storeLocation());
    const std::string change_token = reader->changeToken();
    if (!change_token.empty() && change_token == certificates_.changeToken(store.name)) {
      unchanged_stores_.push_back({definition, change_token});
      logger_.debug("store %s unchanged since its last sync (not read)", store.name);
      return;
    }
    const platform::StoreSnapshot snapshot = reader->read();
    for (const platform::StoreCrl& crl : snapshot.crls) {
      store_crls_.emplace_back(store.name, crl);
    }
    std::vector<std::string> fingerprints;
    fingerprints.reserve(snapshot.certificates.size());
    for (const platform::StoreCertificate& entry : snapshot.certificates) {
      fingerprints.push_back(sha256Hex(entry.der));
    }
    const std::string digest = snapshotDigest(snapshot, fingerprints);
    if (certificates_.snapshotDigest(store.name) == digest) {
      unchanged_stores_.push_back({definition, change_token});
      logger_.debug("store %s unchanged (%z certificates)", store.name,
                    snapshot.certificates.size());
      return;
    }

    // A certificate is identified by its DER's SHA-256: what storage holds already (from any
    // store) is not parsed again, only DER never seen before is.
    const std::unordered_map<std::string, storage::KnownCertificate> known =
        certificates_.knownCertificates();
    std::vector<std::optional<storage::StoreEntry>> entries(snapshot.certificates.size());
    std::vector<std::size_t> unseen;
    std::vector<std::size_t> known_cas;
    for (std::size_t i = 0; i < snapshot.certificates.size(); ++i) {
      const platform::StoreCertificate& entry = snapshot.certificates[i];
      if (const auto stored = known.find(fingerprints[i]); stored != known.end()) {
        if (stored->second.is_ca) {
          known_cas.push_back(i);
        }
        if (const auto role = classify(stored->second, entry.trust)) {
          storage::StoreEntry reused{.nickname = entry.nickname, .role = *role, .stored = true};
          reused.certificate.sha256 = fingerprints[i];
          reused.certificate.subject = stored->second.subject;
          entries[i] = std::move(reused);
          continue;
        }
      }
      unseen.push_back(i);
    }
    parseUnseen(store, reader->describe(), snapshot, unseen, known_cas, entries);
    std::vector<storage::StoreEntry> store_entries;
    store_entries.reserve(entries.size());
    for (std::optional<storage::StoreEntry>& entry : entries) {
      store_entries.push_back(std::move(*entry));
    }
    const storage::StoreChanges changes =
        certificates_.applySnapshot(definition, store_entries, digest, now);
    certificates_.recordSyncResult(definition, now, "", change_token);
    for (const std::string& added : changes.added) {
      report.changes.push_back("store " + store.name + ": added " + added);
    }
    for (const std::string& returned : changes.returned) {
      report.changes.push_back("store " + store.name + ": back again " + returned);
    }
    for (const std::string& gone : changes.gone) {
      report.changes.push_back("store " + store.name + ": gone " + gone);
    }
    logger_.information(
        "store %s read: %z certificates (%z parsed, the rest known), %z CRLs; "
        "%z added, %z gone",
        store.name, store_entries.size(), unseen.size(), snapshot.crls.size(), changes.added.size(),
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

void TrustSync::parseUnseen(const StoreConfig& store, const std::string& where,
                            const platform::StoreSnapshot& snapshot,
                            const std::vector<std::size_t>& unseen,
                            const std::vector<std::size_t>& known_cas,
                            std::vector<std::optional<storage::StoreEntry>>& entries) {
  const auto parse = [&](std::size_t index) {
    const platform::StoreCertificate& entry = snapshot.certificates[index];
    return Certificate::fromDer(entry.der, "store " + store.name + " (" + where +
                                               "), certificate '" + entry.nickname + "'");
  };
  // Parses the certificate at `index` into its entry; returns it with its role.
  const auto parseEntry = [&](std::size_t index) {
    Certificate certificate = parse(index);
    const storage::CertificateRole role = classify(certificate, snapshot.certificates[index].trust);
    entries[index] =
        storage::StoreEntry{certificate.record(), snapshot.certificates[index].nickname, role};
    return std::pair{std::move(certificate), role};
  };
  // Chain building's signature questions are answered while each certificate is parsed here
  // (IssuerVerdictSeeder), which needs its possible issuers parsed first: the certificates
  // whose subject some unseen certificate names as its issuer, told apart by their raw names.
  const auto bytes = [](std::span<const unsigned char> name) {
    return std::string(name.begin(), name.end());
  };
  std::vector<std::optional<RawNames>> unseen_names;
  unseen_names.reserve(unseen.size());
  std::unordered_set<std::string> issuer_names;
  for (const std::size_t index : unseen) {
    unseen_names.push_back(rawNames(snapshot.certificates[index].der));
    if (unseen_names.back()) {
      issuer_names.insert(bytes(unseen_names.back()->issuer));
    }
  }
  const auto may_issue = [&](const std::optional<RawNames>& names) {
    return !names || issuer_names.contains(bytes(names->subject));
  };
  IssuerVerdictSeeder seeder(issuer_verdicts_);
  for (const std::size_t index : known_cas) {
    if (may_issue(rawNames(snapshot.certificates[index].der))) {
      seeder.addIssuer(parse(index));
    }
  }
  std::vector<std::size_t> later;
  for (std::size_t i = 0; i < unseen.size(); ++i) {
    if (!may_issue(unseen_names[i])) {
      later.push_back(unseen[i]);
      continue;
    }
    auto [certificate, role] = parseEntry(unseen[i]);
    if (certificate.record().is_ca) {
      seeder.addIssuer(std::move(certificate));
    }
  }
  seeder.answerForIssuers();
  // The bulk (clients, whose issuers are all added by now) is parsed on every core: parsing
  // and verifying are independent for each certificate, and the seeder only reads meanwhile.
  std::vector<std::optional<IssuerVerdictSeeder::Answers>> answers(later.size());
  forEachInParallel(later.size(), [&](std::size_t i) {
    const auto [certificate, role] = parseEntry(later[i]);
    // Chains are built for CAs and trusted clients only; a client waiting for approval would
    // have its answers dropped by the render that does not ask for them.
    if (role != storage::CertificateRole::other &&
        (role != storage::CertificateRole::client || store.policy == "auto")) {
      answers[i] = seeder.answersFor(certificate);
    }
  });
  for (const std::optional<IssuerVerdictSeeder::Answers>& certificate_answers : answers) {
    if (certificate_answers) {
      seeder.record(*certificate_answers);
    }
  }
}

std::optional<CrlBundle> TrustSync::prepareCrls(
    TrustMaterial& material, const std::vector<storage::CertificateView>& certificates,
    std::int64_t now, const CrlForce& force, SyncReport& report) {
  if (!config_.crl.enabled) {
    return std::nullopt;
  }
  std::vector<std::string> in_play;
  CrlBundle published;
  std::vector<std::string> missing;
  for (const BundledCa& bundled : material.client_cas) {
    in_play.push_back(bundled.sha256);
    const Certificate ca = Certificate::fromDer(bundled.der, "CA " + bundled.subject);
    std::vector<std::pair<std::string, platform::StoreCrl>> own_store_crls;
    for (const auto& [store, crl] : store_crls_) {
      try {
        if (Crl::parse(crl.der, "CRL in store " + store).isIssuedBy(ca)) {
          own_store_crls.emplace_back(store, crl);
        }
      } catch (const CrlError& error) {
        report.warnings.push_back(error.what());
      }
    }
    const CrlRefreshResult result =
        crl_refresher_.refresh(ca, findCrlSources(ca, certificates, own_store_crls, config_.crl),
                               now, force.covers(bundled.sha256));
    if (result.result == CrlRefreshOutcome::updated) {
      report.crl_updates.push_back("CRL for '" + bundled.subject + "' updated");
    } else if (result.result == CrlRefreshOutcome::failed) {
      report.warnings.push_back("CRL refresh for '" + bundled.subject +
                                "' failed: " + result.detail);
    }
    const std::optional<storage::CrlRecord> crl = crls_.current(bundled.sha256);
    if (crl && (!crl->next_update || *crl->next_update > now)) {
      published.add(bundled.subject, crls_.der(bundled.sha256));
    } else {
      missing.push_back("'" + bundled.subject + "' (" + (crl ? "its CRL expired" : "no CRL held") +
                        ")");
    }
  }
  crls_.retainFetchStates(in_play);
  removeRevokedClients(material, [&](const std::string& issuer, const std::string& serial) {
    return crls_.isRevoked(issuer, serial);
  });

  if (missing.empty()) {
    return published;
  }
  std::string list;
  for (const std::string& ca : missing) {
    list += (list.empty() ? "" : ", ") + ca;
  }
  if (config_.crl.missing == "refuse") {
    throw RenderError("no current CRL for " + list +
                      "; with crl.missing = refuse the files published before stay in place "
                      "(see 'certbridge status' for each CA's last fetch)");
  }
  report.warnings.push_back("no current CRL for " + list +
                            "; published WITHOUT ssl_crl because crl.missing = omit");
  return std::nullopt;
}

std::string TrustSync::renderDigest(std::int64_t now, std::int64_t& valid_until) {
  return sha256Hex(certificates_.renderInputs(now, valid_until) + "output_dir " +
                   config_.nginx.output_dir + "\ncrl " + (config_.crl.enabled ? "on " : "off ") +
                   config_.crl.missing + "\n");
}

bool TrustSync::unchangedSincePublish(const std::string& input_digest, std::int64_t now,
                                      const CrlForce& force, SyncReport& report) {
  // A store read this time may hold a CRL newer than the one stored: offer it, so render.
  if (force.all || !force.ca_sha256.empty() || !store_crls_.empty()) {
    return false;
  }
  const std::optional<storage::PublishRecord> last = publish_history_.last();
  if (!last || last->result == "failed" || last->input_digest != input_digest ||
      now >= last->valid_until) {
    return false;
  }
  if (config_.crl.enabled) {
    const std::optional<std::int64_t> due = crl_refresher_.nextDue();
    if (due && *due <= now) {
      return false;
    }
  }
  // Somebody may have edited or removed a file since: then render and put it right.
  const std::filesystem::path directory(config_.nginx.output_dir);
  for (const auto& [name, hash] : {std::pair{"client-ca.pem", last->client_ca_sha256},
                                   {"clients.map", last->clients_map_sha256},
                                   {"crl.pem", last->crl_pem_sha256},
                                   {"mtls.conf", last->mtls_conf_sha256}}) {
    if (hash.empty() || fileSha256(directory / name) != hash) {
      return false;
    }
  }
  if (fileSha256(directory / "mtls-proxy.conf") != sha256Hex(renderProxyConf())) {
    return false;
  }
  report.publish.result = PublishOutcome::Result::unchanged;
  report.publish.hashes = {{"client-ca.pem", last->client_ca_sha256},
                           {"clients.map", last->clients_map_sha256},
                           {"crl.pem", last->crl_pem_sha256},
                           {"mtls.conf", last->mtls_conf_sha256}};
  std::istringstream warnings(last->warnings);
  for (std::string warning; std::getline(warnings, warning);) {
    report.warnings.push_back(warning);
  }
  return true;
}

void TrustSync::renderAndPublish(std::int64_t now, const CrlForce& force, SyncReport& report) {
  std::int64_t valid_until = 0;
  const std::string input_digest = renderDigest(now, valid_until);
  if (!unchangedSincePublish(input_digest, now, force, report)) {
    std::vector<OutputFile> files;
    std::vector<std::string> left_out_clients;
    try {
      const std::vector<storage::CertificateView> certificates = certificates_.listCertificates();
      TrustMaterial material = buildTrustMaterial(certificates, now, &issuer_verdicts_);
      auto crls = prepareCrls(material, certificates, now, force, report);
      report.warnings.insert(report.warnings.end(), material.warnings.begin(),
                             material.warnings.end());
      files = renderNginxFiles(material, config_.nginx.output_dir, std::move(crls));
      report.rendered = true;
      std::unordered_set<std::string> in_clients_map;
      for (const TrustedClient& client : material.clients) {
        in_clients_map.insert(client.sha1);
      }
      for (const storage::CertificateView& view : certificates) {
        if (view.present && view.client && view.trust == storage::TrustState::trusted &&
            !in_clients_map.contains(view.certificate.sha1)) {
          left_out_clients.push_back(view.certificate.sha1);
        }
      }
    } catch (const std::exception& error) {
      report.errors.push_back(std::string("nothing published: ") + error.what());
      return;
    }
    report.publish = publisher_.publish(files);
    if (report.publish.result != PublishOutcome::Result::failed) {
      try {
        // What the status page and /metrics show as "left out" from now on.
        storage::recordLeftOutClients(database_, left_out_clients);
      } catch (const std::exception& error) {
        report.errors.push_back(std::string("cannot record the clients left out: ") + error.what());
      }
    }
  }
  std::string warnings;
  for (const std::string& warning : report.warnings) {
    warnings += warning + "\n";
  }
  try {
    // One transaction, so a sync that changes nothing costs one durable write: the unchanged
    // stores' sync times, the publish record, and pruning the history.
    database_.transaction([&] {
      recordUnchangedStores(now);
      // A CRL stored by the refresh during rendering is part of what the files were made from.
      std::int64_t stored_valid_until = valid_until;
      const std::string stored_digest =
          report.crl_updates.empty() ? input_digest : renderDigest(now, stored_valid_until);
      publish_history_.append(
          {now, toString(report.publish.result), report.publish.hash_of("client-ca.pem"),
           report.publish.hash_of("clients.map"), report.publish.hash_of("mtls.conf"),
           report.publish.detail, report.publish.hash_of("crl.pem"), stored_digest,
           stored_valid_until, warnings});
      constexpr std::int64_t kSecondsPerDay = 86400;
      try {
        // Clamped so that an absurd number of days cannot overflow: it keeps everything.
        const std::int64_t days = std::min(config_.storage_history_days, now / kSecondsPerDay);
        publish_history_.prune(now - days * kSecondsPerDay);
      } catch (const std::exception& error) {
        // Pruning is housekeeping: the sync itself succeeded.
        report.warnings.push_back(std::string("cannot prune the publish history: ") + error.what());
      }
    });
  } catch (const std::exception& error) {
    report.errors.push_back(std::string("cannot record the publish result: ") + error.what());
  }
}

}  // namespace certbridge::agent
