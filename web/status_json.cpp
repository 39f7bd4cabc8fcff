#include "web/status_json.h"

#include <Poco/JSON/Array.h>

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

Poco::JSON::Object certificateStatusJson(const storage::CertificateStatus& status,
                                         storage::UnixTime now) {
  Poco::JSON::Object entry = certificateJson(status.view, now, status.trust);
  entry.set("decision", status.view.trust ? storage::toString(*status.view.trust) : "");
  if (!status.left_out.empty()) {
    entry.set("left_out", status.left_out);
  }
  if (!status.revocation.empty()) {
    entry.set("revocation", status.revocation);
  }
  return entry;
}

Poco::JSON::Object fleetLinkJson(const storage::FleetLinkStatus& link) {
  Poco::JSON::Object entry;
  entry.set("node", link.node);
  entry.set("state", link.state);
  entry.set("detail", link.detail);
  entry.set("since", link.since);
  entry.set("applied_event_id", link.applied_event_id);
  entry.set("latest_event_id", link.latest_event_id);
  entry.set("queued_changes", link.queued_changes);
  return entry;
}

Poco::JSON::Object fleetOverviewJson(const storage::FleetOverview& overview) {
  Poco::JSON::Object document;
  document.set("read_at", overview.read_at);
  document.set("latest_event_id", overview.latest_event_id);
  Poco::JSON::Array nodes;
  for (const storage::FleetNodeView& node : overview.nodes) {
    Poco::JSON::Object entry;
    entry.set("node", node.node);
    entry.set("address", node.address);
    entry.set("heartbeat_at", node.heartbeat_at);
    entry.set("last_sync_at", node.last_sync_at.value_or(0));
    entry.set("last_publish_at", node.last_publish_at.value_or(0));
    entry.set("last_publish_result", node.last_publish_result);
    entry.set("applied_event_id", node.applied_event_id);
    entry.set("event_lag", node.event_lag);
    entry.set("current", node.event_lag == 0);
    nodes.add(entry);
  }
  document.set("nodes", nodes);
  Poco::JSON::Array expiries;
  for (const storage::FleetExpiryView& expiry : overview.soonest_expiries) {
    Poco::JSON::Object entry;
    entry.set("node", expiry.node);
    entry.set("sha256", expiry.sha256);
    entry.set("subject", expiry.subject);
    entry.set("role", expiry.role);
    entry.set("not_after", expiry.not_after);
    expiries.add(entry);
  }
  document.set("soonest_expiries", expiries);
  return document;
}

Poco::JSON::Object statusDocument(const storage::StatusSnapshot& snapshot) {
  Poco::JSON::Object root;
  if (!snapshot.database_path.empty()) {
    root.set("database", snapshot.database_path);
  }
  root.set("now", snapshot.now);
  root.set("healthy", snapshot.healthy());
  Poco::JSON::Array stores;
  for (const storage::StoreStatus& store : snapshot.stores) {
    stores.add(storeJson(store));
  }
  root.set("stores", stores);
  if (snapshot.last_change) {
    root.set("last_publish", publishJson(*snapshot.last_change));
  }
  Poco::JSON::Array crls;
  for (const storage::CrlStatus& status : snapshot.crls) {
    Poco::JSON::Object entry =
        crlJson(status.fetch, status.crl, status.ca_subject, status.level, snapshot.now);
    entry.set("message", status.message);
    crls.add(entry);
  }
  root.set("crls", crls);
  Poco::JSON::Array warnings;
  for (const std::string& warning : snapshot.warnings) {
    warnings.add(warning);
  }
  root.set("warnings", warnings);
  Poco::JSON::Array certificates;
  for (const storage::CertificateStatus& status : snapshot.certificates) {
    certificates.add(certificateStatusJson(status, snapshot.now));
  }
  root.set("certificates", certificates);
  if (snapshot.fleet) {
    root.set("fleet", fleetLinkJson(*snapshot.fleet));
  }
  return root;
}

}  // namespace certbridge::web
