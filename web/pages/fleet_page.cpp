#include "web/web_app.h"

namespace certbridge::web {

// Every node of the fleet as this host's agent last read the fleet's database, whether each is
// current (enforces the log's newest event), its last publish, and the fleet's soonest expiries.
WebApp::Reply WebApp::fleetPage(const std::optional<Identity>& identity) {
  const storage::StatusSnapshot snapshot = agent_.statusOverview();
  const bool signed_in = identity.has_value() && !identity->csrf.empty();
  std::string body = "<h1>Fleet</h1>";
  if (!snapshot.fleet) {
    body += "<p id=\"fleet-link\">This host is in no fleet ([fleet] postgres is not set).</p>";
  } else {
    const storage::FleetLinkStatus& link = *snapshot.fleet;
    body += fillHtml(
        "<p id=\"fleet-link\">This host: <b>{node}</b>, {state} since {since}, enforcing event "
        "#{applied}{queued}{detail}</p>",
        {{"node", link.node},
         {"state", RawHtml{link.state == "connected"
                               ? "<span class=\"ok\">connected</span>"
                               : "<span class=\"warn\">DEGRADED</span> (enforcing the last list "
                                 "applied)"}},
         {"since", formatTime(link.since)},
         {"applied", std::to_string(link.applied_event_id)},
         {"queued", link.queued_changes == 0 ? std::string()
                                             : "; " + std::to_string(link.queued_changes) +
                                                   " change(s) made here wait to be shared"},
         {"detail", link.detail.empty() ? "" : ": " + link.detail}});
  }
  if (snapshot.fleet_overview) {
    const storage::FleetOverview& overview = *snapshot.fleet_overview;
    body += fillHtml(
        "<p>As read from the fleet's database at {read_at}; the log's newest event is "
        "#{latest}.</p><table id=\"fleet-nodes\"><thead><tr><th>Node</th><th>Page</th>"
        "<th>Last heartbeat</th><th>Enforces</th><th>Last sync</th><th>Last publish</th>"
        "</tr></thead><tbody>",
        {{"read_at", formatTime(overview.read_at)},
         {"latest", std::to_string(overview.latest_event_id)}});
    for (const storage::FleetNodeView& node : overview.nodes) {
      body += fillHtml(
          "<tr data-node=\"{node}\"><td>{node}</td><td>{address}</td><td>{heartbeat}</td>"
          "<td>{current}</td><td>{sync}</td><td>{publish}</td></tr>",
          {{"node", node.node},
           {"address", node.address},
           {"heartbeat", formatTime(node.heartbeat_at)},
           {"current", RawHtml{node.event_lag == 0
                                   ? fillHtml("<span class=\"ok\">current</span> (#{id})",
                                              {{"id", std::to_string(node.applied_event_id)}})
                                   : fillHtml("<span class=\"warn\">{lag} behind</span> (#{id})",
                                              {{"lag", std::to_string(node.event_lag)},
                                               {"id", std::to_string(node.applied_event_id)}})}},
           {"sync", node.last_sync_at ? formatTime(*node.last_sync_at) : "never"},
           {"publish", node.last_publish_at
                           ? node.last_publish_result + " at " + formatTime(*node.last_publish_at)
                           : "never"}});
    }
    body +=
        "</tbody></table><h2>Soonest expiries in the fleet</h2><table id=\"fleet-expiries\">"
        "<thead><tr><th>Expires</th><th>Node</th><th>Certificate</th><th>Role</th>"
        "<th>SHA-256</th></tr></thead><tbody>";
    for (const storage::FleetExpiryView& expiry : overview.soonest_expiries) {
      const auto [band, words] = expiryBand(storage::daysLeft(expiry.not_after, snapshot.now));
      body += fillHtml(
          "<tr class=\"{band}\"><td>{expires} ({words})</td><td>{node}</td><td>{subject}</td>"
          "<td>{role}</td><td class=\"fp\">{sha256}</td></tr>",
          {{"band", band},
           {"expires", formatTime(expiry.not_after)},
           {"words", words},
           {"node", expiry.node},
           {"subject", expiry.subject},
           {"role", expiry.role},
           {"sha256", expiry.sha256}});
    }
    body += "</tbody></table>";
  } else if (snapshot.fleet) {
    body += "<p>The fleet's database has not been read yet.</p>";
  }
  Reply reply;
  reply.body = page("Fleet", body, signed_in, signed_in ? identity->csrf : "");
  return reply;
}

}  // namespace certbridge::web
