#include "web/web_app.h"

namespace certbridge::web {

WebApp::Reply WebApp::statusPage(const std::optional<Identity>& identity,
                                 const std::string& message) {
  const storage::StatusSnapshot snapshot = agent_.statusSnapshot();
  const std::int64_t now = snapshot.now;
  const bool signed_in = identity.has_value() && !identity->csrf.empty();
  const std::string csrf = signed_in ? identity->csrf : "";

  std::string body = "<h1>Status</h1>";
  if (!message.empty()) {
    body += "<p class=\"warn\" id=\"message\">" + escapeHtml(message) + "</p>";
  }
  body += "<div class=\"summary\"><div class=\"card\"><h3>Stores</h3><ul>";
  for (const storage::StoreStatus& store : snapshot.stores) {
    body += "<li>" + escapeHtml(store.definition.name) + " (" + escapeHtml(store.definition.type) +
            "): last sync " + (store.last_sync_at ? formatTime(*store.last_sync_at) : "never") +
            " " +
            (store.last_sync_ok
                 ? "<span class=\"ok\">ok</span>"
                 : "<span class=\"bad\">FAILED</span>: " + escapeHtml(store.last_sync_error)) +
            "</li>";
  }
  body += "</ul></div><div class=\"card\" id=\"publish\"><h3>Last publish and reload</h3>";
  const auto& publish = snapshot.last_change;
  if (!publish) {
    body += "<p>never</p>";
  } else if (publish->result == "failed") {
    body += "<p><span class=\"bad\">FAILED</span> at " + formatTime(publish->at) +
            "; the files published before stay in place.</p><pre>" + escapeHtml(publish->detail) +
            "</pre>";
  } else {
    body += "<p><span class=\"ok\">" + escapeHtml(publish->result) + "</span> at " +
            formatTime(publish->at) + "</p>";
  }
  if (snapshot.fleet) {
    const storage::FleetLinkStatus& fleet = *snapshot.fleet;
    body += fillHtml(
        "</div><div class=\"card\" id=\"fleet\"><h3>Fleet</h3><p>{state} since {since}, "
        "enforcing event #{applied}{queued}. <a href=\"/fleet\">Fleet page</a></p>",
        {{"state", RawHtml{fleet.state == "connected"
                               ? "<span class=\"ok\">connected</span>"
                               : "<span class=\"warn\">DEGRADED</span> (enforcing the last list "
                                 "applied)"}},
         {"since", formatTime(fleet.since)},
         {"applied", std::to_string(fleet.applied_event_id)},
         {"queued", fleet.queued_changes == 0 ? std::string()
                                              : "; " + std::to_string(fleet.queued_changes) +
                                                    " change(s) made here wait to be shared"}});
  }
  body += "</div><div class=\"card\" id=\"crls\"><h3>CRLs</h3><ul>";
  for (const storage::CrlStatus& status : snapshot.crls) {
    const auto& crl = status.crl;
    body += "<li>" + escapeHtml(status.ca_subject.empty() ? status.ca_sha256 : status.ca_subject) +
            ": ";
    if (!crl) {
      body += "<span class=\"bad\">ERROR: no CRL</span> " + escapeHtml(status.fetch.last_error);
    } else if (status.level == "error") {
      body += "<span class=\"bad\">ERROR: expired</span>";
    } else {
      const std::int64_t left = crl->next_update ? *crl->next_update - now : 0;
      body += std::string(status.level == "warning" ? "<span class=\"warn\">WARNING: "
                                                    : "<span class=\"ok\">") +
              (crl->next_update ? "next update " + formatTime(*crl->next_update) + ", in " +
                                      std::to_string(left / 3600) + " h"
                                : std::string("no next update")) +
              "</span>";
    }
    body += "</li>";
  }
  body += "</ul></div><div class=\"card\" id=\"warnings\"><h3>Warnings</h3><ul class=\"messages\">";
  const std::vector<std::string>& warnings = snapshot.warnings;
  for (const std::string& warning : warnings) {
    body += "<li class=\"warn\">" + escapeHtml(warning) + "</li>";
  }
  if (warnings.empty()) {
    body += "<li class=\"ok\">none</li>";
  }
  body += "</ul></div></div>";

  if (signed_in) {
    body +=
        "<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\" "
        "id=\"upload-form\"><input type=\"hidden\" name=\"csrf\" value=\"" +
        escapeHtml(csrf) +
        "\">Trust a client certificate without touching the OS store (PEM or DER): "
        "<input type=\"file\" name=\"certificate\" id=\"certificate-file\"> "
        "<button type=\"submit\">Upload</button></form>";
  }
  body +=
      "<h2>Certificates</h2><input type=\"search\" id=\"filter\" placeholder=\"Filter by "
      "subject, issuer, serial, fingerprint, store or state\" aria-label=\"Filter\">"
      "<table id=\"certificates\"><thead><tr><th>Expiry</th><th>Days left</th>"
      "<th>Not after</th><th>Subject</th><th>Issuer</th><th>Serial</th><th>SHA-256</th>"
      "<th>Source</th><th>Role</th><th>Trust</th><th></th></tr></thead><tbody>";
  for (const storage::CertificateStatus& status : snapshot.certificates) {
    const storage::CertificateView& view = status.view;
    const std::int64_t days = storage::daysLeft(view.certificate.not_after, now);
    const auto [band_class, band_text] = expiryBand(days);
    // The decision decides the buttons; the cell shows what nginx is told, and why not.
    const std::string trust = view.trust ? storage::toString(*view.trust) : "";
    std::string shown = status.trust;
    if (!status.left_out.empty() && status.left_out != status.trust) {
      shown += ": " + status.left_out;
    }
    if (!status.revocation.empty()) {
      shown += " (" + status.revocation + ")";
    }
    std::string actions;
    if (signed_in && view.client) {
      const auto button = [&](const char* action, const char* label) {
        return fillHtml(
            "<form class=\"inline\" method=\"post\" action=\"/clients/{sha256}/{action}\">"
            "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button class=\"action\" "
            "type=\"submit\" name=\"{action}\">{label}</button></form>",
            {{"sha256", view.certificate.sha256},
             {"action", action},
             {"csrf", csrf},
             {"label", label}});
      };
      if (trust != "trusted")
        actions += button("approve", "Approve");
      if (trust != "blocked")
        actions += button("block", trust == "trusted" ? "Revoke" : "Block");
    }
    body += fillHtml(
        "<tr data-sha256=\"{sha256}\"><td><span class=\"band {band_class}\">{band_text}</span>"
        "</td><td>{days}</td><td>{not_after}</td><td>{subject}</td><td>{issuer}</td>"
        "<td class=\"fp\">{serial}</td><td class=\"fp\">{sha256}</td><td>{sources}</td>"
        "<td>{role}</td><td class=\"trust\">{trust}</td><td>{actions}</td></tr>",
        {{"sha256", view.certificate.sha256},
         {"band_class", band_class},
         {"band_text", band_text},
         {"days", std::to_string(days)},
         {"not_after", formatTime(view.certificate.not_after)},
         {"subject", view.certificate.subject},
         {"issuer", view.certificate.issuer},
         {"serial", view.certificate.serial},
         {"sources", view.sources},
         {"role", storage::roleLabel(view)},
         {"trust", shown},
         {"actions", RawHtml{actions}}});
  }
  body += "</tbody></table><script src=\"" + std::string(kFilterScriptPath) + "\"></script>";
  Reply reply;
  reply.body = page("Status", body, signed_in, csrf);
  return reply;
}

}  // namespace certbridge::web
