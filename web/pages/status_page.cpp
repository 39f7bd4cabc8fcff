#include "web/web_app.h"

namespace certbridge::web {

namespace {

// The link to another page of the same search: the filters kept, `cursor` replaced.
std::string pageLink(const storage::CertificateQuery& query, const std::string& cursor) {
  std::string link = "/?";
  for (const auto& [name, value] : {std::pair<const char*, std::string>{"subject", query.subject},
                                    {"issuer", query.issuer},
                                    {"serial", query.serial},
                                    {"fingerprint", query.fingerprint},
                                    {"state", query.state},
                                    {"order", query.soonest_first ? "" : "latest"},
                                    {"cursor", cursor}}) {
    if (!value.empty()) {
      link += std::string(name) + "=" + urlEncoded(value) + "&";
    }
  }
  link.pop_back();  // the last '&', or the '?' of the first page
  return link;
}

std::string textInput(const char* name, const char* label, const std::string& value) {
  return fillHtml(
      "<label>{label} <input type=\"search\" name=\"{name}\" id=\"search-{name}\" "
      "value=\"{value}\"></label> ",
      {{"label", label}, {"name", name}, {"value", value}});
}

std::string option(const std::string& value, const std::string& label, bool selected) {
  return fillHtml(
      "<option value=\"{value}\"{selected}>{label}</option>",
      {{"value", value}, {"selected", RawHtml{selected ? " selected" : ""}}, {"label", label}});
}

}  // namespace

WebApp::Reply WebApp::statusPage(const std::optional<Identity>& identity,
                                 const std::string& message,
                                 const storage::CertificateQuery& query) {
  // Everything but the certificates, then one page of those and the counts: the page costs the
  // same with 100 certificates or 100,000.
  const storage::StatusSnapshot snapshot = agent_.statusOverview();
  const storage::CertificateSummary summary = agent_.certificateSummary();
  const storage::CertificatePage certificates = agent_.certificatePage(query);
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
      "<h2>Certificates</h2><div class=\"summary\" id=\"certificate-summary\">"
      "<div class=\"card\"><h3>By state</h3><ul>";
  for (const auto& [state, count] : summary.by_state) {
    body += fillHtml("<li>{state}: <span id=\"count-{id}\">{count}</span></li>",
                     {{"state", state},
                      {"id", state == "left out" ? "left-out" : state},
                      {"count", std::to_string(count)}});
  }
  body += fillHtml(
      "<li>total: <span id=\"count-total\">{total}</span></li></ul></div>"
      "<div class=\"card\"><h3>By expiry</h3><ul>"
      "<li><span class=\"band band-expired\">EXPIRED</span> {expired}</li>"
      "<li><span class=\"band band-week\">under 7 days</span> {week}</li>"
      "<li><span class=\"band band-month\">under 30 days</span> {month}</li>"
      "<li><span class=\"band band-fine\">later</span> {later}</li></ul></div>"
      "<div class=\"card\" id=\"next-to-expire\"><h3>Next to expire</h3><ul>",
      {{"total", std::to_string(summary.total)},
       {"expired", std::to_string(summary.expired)},
       {"week", std::to_string(summary.within_week)},
       {"month", std::to_string(summary.within_month)},
       {"later", std::to_string(summary.later)}});
  for (const storage::CertificateStatus& status : summary.next_to_expire) {
    body += fillHtml("<li>{not_after}: {subject}</li>",
                     {{"not_after", formatTime(status.view.certificate.not_after)},
                      {"subject", status.view.certificate.subject}});
  }
  if (summary.next_to_expire.empty()) {
    body += "<li>none</li>";
  }
  body += "</ul></div></div>";

  // Searching runs in SQL over every certificate; the box under it filters the rows shown.
  body += "<form method=\"get\" action=\"/\" id=\"search\">" +
          textInput("subject", "Subject", query.subject) +
          textInput("issuer", "Issuer", query.issuer) +
          textInput("serial", "Serial", query.serial) +
          textInput("fingerprint", "Fingerprint", query.fingerprint) +
          "<label>State <select name=\"state\" id=\"search-state\">" +
          option("", "any", query.state.empty());
  for (const char* state : {"trusted", "left out", "pending", "blocked", "none"}) {
    body += option(state, state, query.state == state);
  }
  body += "</select></label> <label>Order <select name=\"order\" id=\"search-order\">" +
          option("", "soonest expiry first", query.soonest_first) +
          option("latest", "latest expiry first", !query.soonest_first) +
          "</select></label> <button type=\"submit\" id=\"search-submit\">Search</button> "
          "<a href=\"/\">clear</a></form>";
  body += fillHtml(
      "<p id=\"paging\"><span id=\"matched\">{matched}</span> matching; showing {shown}. "
      "{first}{next}</p>",
      {{"matched", std::to_string(certificates.matched)},
       {"shown", std::to_string(certificates.rows.size())},
       {"first",
        RawHtml{query.cursor.empty() ? std::string()
                                     : "<a id=\"first-page\" href=\"" +
                                           escapeHtml(pageLink(query, "")) + "\">First page</a> "}},
       {"next", RawHtml{certificates.next_cursor.empty()
                            ? std::string()
                            : "<a id=\"next-page\" href=\"" +
                                  escapeHtml(pageLink(query, certificates.next_cursor)) +
                                  "\">Next " + std::to_string(query.limit) + "</a>"}}});
  body +=
      "<input type=\"search\" id=\"filter\" placeholder=\"Filter the rows shown\" "
      "aria-label=\"Filter the rows shown\">"
      "<table id=\"certificates\"><thead><tr><th>Expiry</th><th>Days left</th>"
      "<th>Not after</th><th>Subject</th><th>Issuer</th><th>Serial</th><th>SHA-256</th>"
      "<th>Source</th><th>Role</th><th>Trust</th><th></th></tr></thead><tbody>";
  for (const storage::CertificateStatus& status : certificates.rows) {
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
