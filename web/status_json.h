#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

#include "storage/crl_repository.h"
#include "storage/records.h"
#include "storage/status_snapshot.h"

namespace certbridge::web {

// The JSON shapes of the status, shared by the JSON API and `certbridge status --json` so that
// scripts see the same fields from both.
Poco::JSON::Object storeJson(const storage::StoreStatus& store);
Poco::JSON::Object publishJson(const storage::PublishRecord& publish);
// `trust` as the caller shows it ("trusted", "revoked", …; empty for none).
Poco::JSON::Object certificateJson(const storage::CertificateView& view, storage::UnixTime now,
                                   const std::string& trust);
// A certificate of the status document and of GET /api/v1/certificates: certificateJson with
// the decision, and why it is left out or revoked when it is.
Poco::JSON::Object certificateStatusJson(const storage::CertificateStatus& status,
                                         storage::UnixTime now);
Poco::JSON::Object crlJson(const storage::CrlFetchState& fetch,
                           const std::optional<storage::CrlRecord>& crl,
                           const std::string& ca_subject, const std::string& level,
                           storage::UnixTime now);

// This host's link to its fleet ("fleet" of the status document) and the fleet as last read
// (GET /api/v1/fleet).
Poco::JSON::Object fleetLinkJson(const storage::FleetLinkStatus& link);
Poco::JSON::Object fleetOverviewJson(const storage::FleetOverview& overview);

// The status document: `certbridge status --json` and GET /api/v1/status write exactly this
// (the API's snapshot carries no database path, the CLI's no warnings of a running agent).
Poco::JSON::Object statusDocument(const storage::StatusSnapshot& snapshot);

}  // namespace certbridge::web
