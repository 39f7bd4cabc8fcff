#include "web/status_json.h"

#include <cstdio>

namespace certbridge::web {

Poco::JSON::Object storeJson(const storage::StoreStatus& store) {
  Poco::JSON::Object entry;
  entry.set("name", store.definition.name);
  entry.set("type", store.definition.type);
  entry.set("location", store.definition.location);
  entry.set("policy", store.definition.policy);
  entry.set("last_sync_at", store.last_sync_at.value_or(0));
  entry.set("last_sync_ok", store.last_sync_ok);
  entry.set("last_sync_error", store.last_sync_error);
  return entry;
}

Poco::JSON::Object publishJson(const storage::PublishRecord& publish) {
  Poco::JSON::Object entry;
  entry.set("at", publish.at);
  entry.set("result", publish.result);
  entry.set("detail", publish.detail);
  return entry;
}

Poco::JSON::Object certificateJson(const storage::CertificateView& view, storage::UnixTime now,
                                   const std::string& trust) {
  Poco::JSON::Object entry;
  entry.set("sha256", view.certificate.sha256);
  entry.set("sha1", view.certificate.sha1);
  entry.set("subject", view.certificate.subject);
  entry.set("issuer", view.certificate.issuer);
  entry.set("serial", view.certificate.serial);
  entry.set("not_before", view.certificate.not_before);
  entry.set("not_after", view.certificate.not_after);
  entry.set("days_left", storage::daysLeft(view.certificate.not_after, now));
  entry.set("role", storage::roleLabel(view));
  entry.set("trust", trust);
  entry.set("key_type", view.certificate.key_type);
  entry.set("sources", view.sources);
  return entry;
}

Poco::JSON::Object crlJson(const storage::CrlFetchState& fetch,
                           const std::optional<storage::CrlRecord>& crl,
                           const std::string& ca_subject, const std::string& level,
                           storage::UnixTime now) {
  Poco::JSON::Object entry;
  entry.set("ca_sha256", fetch.ca_sha256);
  entry.set("ca_subject", ca_subject);
  entry.set("level", level);
  if (crl) {
    entry.set("crl_number", crl->number.value_or(""));
    entry.set("this_update", crl->this_update);
    entry.set("next_update", crl->next_update.value_or(0));
    entry.set("seconds_left", crl->next_update.value_or(now) - now);
    entry.set("source", crl->source);
    entry.set("revoked_count", crl->revoked_count);
  }
  entry.set("last_fetch_at", fetch.last_attempt_at.value_or(0));
  entry.set("last_fetch_result", fetch.last_result);
  entry.set("last_fetch_error", fetch.last_error);
  entry.set("next_fetch_at", fetch.next_fetch_at.value_or(0));
  return entry;
}

namespace {

// "3d04h" from a day on, "5h07m" below.
std::string duration(std::int64_t seconds) {
  const char* sign = seconds < 0 ? "-" : "";
  seconds = seconds < 0 ? -seconds : seconds;
  char text[48];
  if (seconds >= 86400) {
    std::snprintf(text, sizeof(text), "%s%lldd%02lldh", sign,
                  static_cast<long long>(seconds / 86400),
                  static_cast<long long>(seconds % 86400 / 3600));
  } else {
    std::snprintf(text, sizeof(text), "%s%lldh%02lldm", sign,
                  static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  }
  return text;
}

}  // namespace

std::string crlMessage(const storage::CrlFetchState& fetch,
                       const std::optional<storage::CrlRecord>& crl, const std::string& level,
                       storage::UnixTime now) {
  std::string message;
  if (!crl) {
    message = "no CRL held" + (fetch.last_error.empty() ? "" : ": " + fetch.last_error);
  } else if (level == "error" && crl->next_update) {
    message = "CRL expired " + duration(now - *crl->next_update) + " ago";
  } else if (level == "warning" && crl->next_update) {
    message = "CRL expires in " + duration(*crl->next_update - now);
  }
  if (level != "error" && fetch.last_result == "failed") {
    message +=
        (message.empty() ? "" : "; ") + std::string("last fetch failed: ") + fetch.last_error;
  }
  return message;
}

}  // namespace certbridge::web
