#pragma once

#include <Poco/Logger.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/nginx_publisher.h"
#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "storage/database.h"

namespace certbridge::agent {

struct SyncReport {
  std::vector<std::string> errors;    // each names the store, file or certificate at fault
  std::vector<std::string> warnings;  // certificates left out, and why
  std::vector<std::string> changes;   // what the stores added or lost
  PublishOutcome publish;
  bool rendered = false;
  bool ok() const { return errors.empty() && publish.result != PublishOutcome::Result::failed; }
  // One line for the CLI: the first error, or a summary.
  std::string summary() const;
};

// One pass of store → storage → render → publish. A store that cannot be read, or holds a
// certificate that does not parse, keeps everything certbridge knew of it: its certificates are
// neither added nor marked gone, and the nginx files are rendered from what storage held before.
// Not thread-safe: the run loop or the CLI owns one.
class TrustSync {
 public:
  TrustSync(const AgentConfig& config, storage::Database& database, Poco::Logger& logger);

  SyncReport syncOnce(std::int64_t now);

 private:
  void syncStore(const StoreConfig& store, std::int64_t now, SyncReport& report);
  void renderAndPublish(std::int64_t now, SyncReport& report);

  const AgentConfig& config_;
  storage::CertificateRepository certificates_;
  storage::PublishHistory publish_history_;
  NginxPublisher publisher_;
  Poco::Logger& logger_;
};

}  // namespace certbridge::agent
