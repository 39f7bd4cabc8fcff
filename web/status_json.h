#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

#include "storage/crl_repository.h"
#include "storage/records.h"

namespace certbridge::web {

// The JSON shapes of the status, shared by the JSON API and `certbridge status --json` so that
// scripts see the same fields from both.
Poco::JSON::Object storeJson(const storage::StoreStatus& store);
Poco::JSON::Object publishJson(const storage::PublishRecord& publish);
// `trust` as the caller shows it ("trusted", "revoked", …; empty for none).
Poco::JSON::Object certificateJson(const storage::CertificateView& view, storage::UnixTime now,
                                   const std::string& trust);
Poco::JSON::Object crlJson(const storage::CrlFetchState& fetch,
                           const std::optional<storage::CrlRecord>& crl,
                           const std::string& ca_subject, const std::string& level,
                           storage::UnixTime now);

// What `status` says about a CRL in words: why there is none, when it expired or expires (at
// the warning level), and a failed last fetch. Empty when all is well.
std::string crlMessage(const storage::CrlFetchState& fetch,
                       const std::optional<storage::CrlRecord>& crl, const std::string& level,
                       storage::UnixTime now);

}  // namespace certbridge::web
