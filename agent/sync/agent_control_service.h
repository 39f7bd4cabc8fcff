#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/pki/certificate.h"
#include "storage/database.h"
#include "web/agent_control.h"

namespace certbridge::agent::sync {

// The one client certificate an upload holds (PEM or DER; not a CA; usable for client
// authentication). Throws web::BadInput with a message for the person for anything else, a
// private key included. Pure, so that it can be fuzzed.
Certificate decodeUploadedClient(std::span<const unsigned char> bytes);

// The agent's side of the web interface, shared by the run loop and the web server's threads:
// a publish request is a flag the loop polls (every half second at most), uploads are parsed
// here with the agent's certificate model and stored, and the loop posts its latest warnings.
class AgentControlService final : public web::AgentControl {
 public:
  explicit AgentControlService(storage::Database& database,
                               storage::StatusOptions status_options = {})
      : database_(database), status_options_(status_options) {}

  void requestPublish() override { publish_requested_ = true; }
  std::string addUploadedClient(std::span<const unsigned char> bytes, const std::string& actor,
                                const std::string& origin) override;
  std::vector<std::string> currentWarnings() override;
  storage::StatusSnapshot statusSnapshot() override;
  storage::StatusSnapshot statusOverview() override;
  storage::CertificatePage certificatePage(const storage::CertificateQuery& query) override;
  storage::CertificateSummary certificateSummary() override;
  std::vector<storage::CertificateStatus> soonestExpiring(std::int64_t at_least,
                                                          storage::UnixTime until) override;

  // Where statusSnapshot() takes the fleet's overview from (the agent's FleetMember); unset
  // when the host is in no fleet. Set before the web server starts.
  void setFleetOverviewSource(std::function<std::optional<storage::FleetOverview>()> source) {
    fleet_overview_ = std::move(source);
  }

  // For the run loop: true once per request.
  bool takePublishRequest() { return publish_requested_.exchange(false); }
  void setWarnings(std::vector<std::string> warnings);

 private:
  // What the web adds to a snapshot read from the database: no file path (the page is no place
  // for it), the last render's warnings and the fleet's overview.
  storage::StatusSnapshot forTheWeb(storage::StatusSnapshot snapshot);

  storage::Database& database_;
  storage::StatusOptions status_options_;  // `now` is taken at each call
  std::atomic<bool> publish_requested_{false};
  std::mutex mutex_;
  std::vector<std::string> warnings_;
  // The summary counts every present certificate (a scan: seconds at 100,000 on a busy
  // machine), so it is kept while nothing it counts has changed (certificateDataVersion) and
  // for at most kSummaryMaxAge seconds, since the expiry bands move with the clock.
  static constexpr std::int64_t kSummaryMaxAge = 60;
  std::mutex summary_mutex_;
  std::optional<storage::CertificateSummary> summary_;
  std::string summary_version_;
  storage::UnixTime summary_at_ = 0;
  std::function<std::optional<storage::FleetOverview>()> fleet_overview_;
};

}  // namespace certbridge::agent::sync
