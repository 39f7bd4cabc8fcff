#include "web/web_app.h"

namespace certbridge::web {

WebApp::Reply WebApp::setTrust(const std::string& sha256, storage::TrustState state,
                               const Identity& who, const std::string& origin, bool as_json) {
  try {
    certificates_.setTrustState(sha256, state, who.actor, origin, unixNow());
  } catch (const storage::StorageError& error) {
    throw BadInput(error.what());
  }
  agent_.requestPublish();
  logger_.notice("web: %s set %s to %s (from %s)", who.actor, sha256, storage::toString(state),
                 origin);
  if (as_json) {
    Poco::JSON::Object object;
    object.set("sha256", sha256);
    object.set("trust", storage::toString(state));
    return json(object, HTTPResponse::HTTP_OK);
  }
  return redirect("/");
}

WebApp::Reply WebApp::undo(std::int64_t audit_id, const Identity& who, const std::string& origin) {
  const std::optional<storage::AuditEntry> entry = storage::AuditLog(database_).find(audit_id);
  const std::string name = "audit entry " + std::to_string(audit_id);
  if (!entry) {
    throw BadInput("no " + name);
  }
  if (entry->action == "certificate.uploaded" && entry->previous.empty()) {
    try {
      certificates_.removeUpload(entry->target, who.actor, origin, unixNow());
    } catch (const storage::StorageError& error) {
      throw BadInput("cannot undo " + name + ": " + error.what());
    }
  } else if (entry->action.starts_with("trust.") || entry->action == "certificate.uploaded") {
    if (entry->previous.empty()) {
      throw BadInput("this change has no earlier state to return to");
    }
    for (const storage::CertificateView& view : certificates_.listCertificates()) {
      if (view.certificate.sha256 == entry->target && view.trust &&
          storage::toString(*view.trust) == entry->previous) {
        throw BadInput("nothing to undo: " + name + "'s certificate is " + entry->previous +
                       " already");
      }
    }
    try {
      certificates_.setTrustState(entry->target, storage::trustStateFromString(entry->previous),
                                  who.actor, origin, unixNow());
    } catch (const storage::StorageError& error) {
      throw BadInput("cannot undo " + name + ": " + error.what());
    }
  } else {
    throw BadInput("only trust changes and uploads can be undone");
  }
  agent_.requestPublish();
  return redirect("/audit");
}

WebApp::Reply WebApp::upload(const std::string& bytes, const Identity& who,
                             const std::string& origin, bool as_json) {
  // DER with bytes after the certificate is refused by the parser; PEM is held to the same:
  // nothing but white space after the last END line.
  if (bytes.find("-----BEGIN ") != std::string::npos) {
    const auto last_end = bytes.rfind("-----END ");
    const auto end_line_end =
        last_end == std::string::npos ? last_end : bytes.find("-----", last_end + 9);
    if (end_line_end == std::string::npos ||
        bytes.find_first_not_of(" \t\r\n", end_line_end + 5) != std::string::npos) {
      throw BadInput("the upload has text after its -----END line; upload the certificate alone");
    }
  }
  const std::string sha256 = agent_.addUploadedClient(
      std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()), who.actor,
      origin);
  logger_.notice("web: %s uploaded client certificate %s (from %s)", who.actor, sha256, origin);
  if (as_json) {
    Poco::JSON::Object object;
    object.set("sha256", sha256);
    object.set("trust", "trusted");
    return json(object, HTTPResponse::HTTP_CREATED);
  }
  return redirect("/?message=" + urlEncoded("uploaded and trusted " + sha256));
}

WebApp::Reply WebApp::healthz() {
  Poco::JSON::Array reasons;
  for (const storage::StoreStatus& store : certificates_.listStores()) {
    if (!store.last_sync_ok) {
      reasons.add("store " + store.definition.name + ": " +
                  (store.last_sync_at ? store.last_sync_error : std::string("never synced")));
    }
  }
  const auto publish = storage::PublishHistory(database_).last();
  if (!publish) {
    reasons.add("nothing published yet");
  } else if (publish->result == "failed") {
    reasons.add("last publish failed: " + publish->detail);
  }
  // A fleet whose database is unreachable is degraded, not failing: this host keeps enforcing
  // the last list it applied.
  const std::optional<storage::FleetLinkStatus> fleet = storage::readFleetLink(database_);
  const bool degraded = fleet && fleet->state == "degraded";
  const bool failing = reasons.size() != 0;
  if (degraded) {
    reasons.add("fleet: degraded since " + formatTime(fleet->since) + ", enforcing event #" +
                std::to_string(fleet->applied_event_id) +
                (fleet->detail.empty() ? "" : ": " + fleet->detail));
  }
  Poco::JSON::Object object;
  object.set("status", failing ? "failing" : (degraded ? "degraded" : "ok"));
  object.set("reasons", reasons);
  return json(object, failing ? HTTPResponse::HTTP_SERVICE_UNAVAILABLE : HTTPResponse::HTTP_OK);
}

WebApp::Reply WebApp::statusJson() {
  return json(statusDocument(agent_.statusSnapshot()), HTTPResponse::HTTP_OK);
}

WebApp::Reply WebApp::certificatesJson(const storage::CertificateQuery& query) {
  const storage::CertificatePage page = agent_.certificatePage(query);
  const std::int64_t now = unixNow();
  Poco::JSON::Array rows;
  for (const storage::CertificateStatus& status : page.rows) {
    rows.add(certificateStatusJson(status, now));
  }
  Poco::JSON::Object root;
  root.set("now", now);
  root.set("certificates", rows);
  root.set("matched", page.matched);
  root.set("next_cursor", page.next_cursor);
  return json(root, HTTPResponse::HTTP_OK);
}

WebApp::Reply WebApp::fleetJson() {
  const storage::StatusSnapshot snapshot = agent_.statusOverview();
  if (!snapshot.fleet) {
    Poco::JSON::Object error;
    error.set("error", "this host is in no fleet ([fleet] postgres is not set)");
    return json(error, HTTPResponse::HTTP_NOT_FOUND);
  }
  Poco::JSON::Object document = snapshot.fleet_overview
                                    ? fleetOverviewJson(*snapshot.fleet_overview)
                                    : fleetOverviewJson(storage::FleetOverview{});
  document.set("this_node", fleetLinkJson(*snapshot.fleet));
  return json(document, HTTPResponse::HTTP_OK);
}

WebApp::Reply WebApp::auditJson() {
  Poco::JSON::Array entries;
  for (const storage::AuditEntry& entry : storage::AuditLog(database_).recent(500)) {
    Poco::JSON::Object object;
    object.set("id", entry.id);
    object.set("at", entry.at);
    object.set("actor", entry.actor);
    object.set("origin", entry.origin);
    object.set("action", entry.action);
    object.set("target", entry.target);
    object.set("detail", entry.detail);
    object.set("previous", entry.previous);
    entries.add(object);
  }
  Poco::JSON::Object root;
  root.set("audit", entries);
  return json(root, HTTPResponse::HTTP_OK);
}

}  // namespace certbridge::web
