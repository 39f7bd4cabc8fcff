#include "agent/sync/agent_control_service.h"

#include <ctime>
#include <string_view>

#include "agent/pki/certificate.h"
#include "agent/sync/status_service.h"
#include "platform/cert_store.h"
#include "storage/certificate_repository.h"

namespace certbridge::agent::sync {

Certificate decodeUploadedClient(std::span<const unsigned char> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.find("PRIVATE KEY") != std::string_view::npos) {
    throw web::BadInput(
        "the upload contains a private key; certbridge never takes private keys, "
        "upload the certificate alone");
  }
  std::vector<Certificate> certificates;
  try {
    if (text.find("-----BEGIN") != std::string_view::npos) {
      certificates = Certificate::fromPem(std::string(text), "upload");
    } else {
      certificates.push_back(Certificate::fromDer(bytes, "upload"));
    }
  } catch (const CertificateError& error) {
    throw web::BadInput(std::string(error.what()) +
                        "; expected one client certificate, PEM or DER");
  }
  if (certificates.size() != 1) {
    throw web::BadInput("upload holds " + std::to_string(certificates.size()) +
                        " certificates; upload one client certificate at a time");
  }
  Certificate& certificate = certificates.front();
  if (certificate.record().is_ca) {
    throw web::BadInput("'" + certificate.record().subject +
                        "' is a CA certificate; trust CAs in the OS store (" +
                        platform::clientCaTrustMark() + ")");
  }
  if (!certificate.isClientAuthCapable()) {
    throw web::BadInput("'" + certificate.record().subject +
                        "' is not usable for client authentication (extended key usage " +
                        certificate.record().extended_key_usage + ")");
  }
  return std::move(certificate);
}

std::string AgentControlService::addUploadedClient(std::span<const unsigned char> bytes,
                                                   const std::string& actor,
                                                   const std::string& origin) {
  const Certificate certificate = decodeUploadedClient(bytes);
  storage::CertificateRepository(database_).addUpload(
      certificate.record(), actor, origin, static_cast<std::int64_t>(std::time(nullptr)));
  requestPublish();
  return certificate.record().sha256;
}

std::vector<std::string> AgentControlService::currentWarnings() {
  const std::lock_guard lock(mutex_);
  return warnings_;
}

void AgentControlService::setWarnings(std::vector<std::string> warnings) {
  const std::lock_guard lock(mutex_);
  warnings_ = std::move(warnings);
}

storage::StatusSnapshot AgentControlService::forTheWeb(storage::StatusSnapshot snapshot) {
  snapshot.database_path.clear();
  snapshot.warnings = currentWarnings();
  if (fleet_overview_) {
    snapshot.fleet_overview = fleet_overview_();
  }
  return snapshot;
}

storage::StatusSnapshot AgentControlService::statusSnapshot() {
  storage::StatusOptions options = status_options_;
  options.now = static_cast<storage::UnixTime>(std::time(nullptr));
  return forTheWeb(takeStatusSnapshot(database_, options));
}

storage::StatusSnapshot AgentControlService::statusOverview() {
  storage::StatusOptions options = status_options_;
  options.now = static_cast<storage::UnixTime>(std::time(nullptr));
  options.with_certificates = false;
  return forTheWeb(storage::readStatusSnapshot(database_, options));
}

storage::CertificatePage AgentControlService::certificatePage(
    const storage::CertificateQuery& query) {
  storage::StatusOptions options = status_options_;
  options.now = static_cast<storage::UnixTime>(std::time(nullptr));
  if (query.filtered()) {
    return takeCertificatePage(database_, query, options);
  }
  // Every present certificate matches: the summary has counted them.
  storage::CertificatePage page = takeCertificatePage(database_, query, options, false);
  page.matched = certificateSummary().total;
  return page;
}

storage::CertificateSummary AgentControlService::certificateSummary() {
  storage::StatusOptions options = status_options_;
  options.now = static_cast<storage::UnixTime>(std::time(nullptr));
  const std::string version = storage::certificateDataVersion(database_);
  {
    const std::lock_guard lock(summary_mutex_);
    if (summary_ && summary_version_ == version && options.now >= summary_at_ &&
        options.now - summary_at_ < kSummaryMaxAge) {
      return *summary_;
    }
  }
  storage::CertificateSummary summary = takeCertificateSummary(database_, options);
  const std::lock_guard lock(summary_mutex_);
  summary_ = summary;
  summary_version_ = version;
  summary_at_ = options.now;
  return summary;
}

std::vector<storage::CertificateStatus> AgentControlService::soonestExpiring(
    std::int64_t at_least, storage::UnixTime until) {
  storage::StatusOptions options = status_options_;
  options.now = static_cast<storage::UnixTime>(std::time(nullptr));
  return takeSoonestExpiring(database_, options, at_least, until);
}

}  // namespace certbridge::agent::sync
