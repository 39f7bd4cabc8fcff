#include "web/web_app.h"

namespace certbridge::web {

WebApp::Reply WebApp::metrics() {
  const storage::StatusSnapshot snapshot = agent_.statusSnapshot();
  const std::int64_t now = snapshot.now;
  std::ostringstream out;
  out << "# HELP certbridge_certificate_expiry_seconds Seconds until notAfter, per certificate "
         "present in a store.\n# TYPE certbridge_certificate_expiry_seconds gauge\n";
  std::map<std::string, int> by_trust;
  for (const storage::CertificateStatus& status : snapshot.certificates) {
    const storage::CertificateView& view = status.view;
    const std::string trust = status.trust.empty() ? "none" : status.trust;
    ++by_trust[trust];
    out << "certbridge_certificate_expiry_seconds{sha256=\"" << view.certificate.sha256
        << "\",subject=\"" << promLabel(view.certificate.subject) << "\",role=\""
        << promLabel(storage::roleLabel(view)) << "\",trust=\"" << trust << "\"} "
        << view.certificate.not_after - now << "\n";
  }
  out << "# HELP certbridge_certificates Certificates present in stores, by the trust nginx is "
         "told (trusted; trusted but left out; revoked; pending; blocked; none).\n"
         "# TYPE certbridge_certificates gauge\n";
  for (const char* trust : {"trusted", "left out", "revoked", "pending", "blocked", "none"}) {
    out << "certbridge_certificates{trust=\"" << trust << "\"} " << by_trust[trust] << "\n";
  }
  out << "# HELP certbridge_crl_next_update_timestamp_seconds nextUpdate of the CRL held for "
         "each CA in client-ca.pem (0: none).\n"
         "# TYPE certbridge_crl_next_update_timestamp_seconds gauge\n";
  for (const storage::CrlStatus& status : snapshot.crls) {
    out << "certbridge_crl_next_update_timestamp_seconds{ca_sha256=\"" << status.ca_sha256 << "\"} "
        << (status.crl && status.crl->next_update ? *status.crl->next_update : 0) << "\n";
  }
  out << "# HELP certbridge_last_sync_timestamp_seconds When each store was last read.\n"
         "# TYPE certbridge_last_sync_timestamp_seconds gauge\n";
  std::string success;
  for (const storage::StoreStatus& store : snapshot.stores) {
    out << "certbridge_last_sync_timestamp_seconds{store=\"" << promLabel(store.definition.name)
        << "\"} " << store.last_sync_at.value_or(0) << "\n";
    success += "certbridge_last_sync_success{store=\"" + promLabel(store.definition.name) + "\"} " +
               (store.last_sync_ok ? "1" : "0") + "\n";
  }
  out << "# HELP certbridge_last_sync_success 1 when the store's last sync succeeded.\n"
         "# TYPE certbridge_last_sync_success gauge\n"
      << success;
  const auto& last = snapshot.last_attempt;
  out << "# HELP certbridge_last_publish_timestamp_seconds When the last publish attempt ran.\n"
         "# TYPE certbridge_last_publish_timestamp_seconds gauge\n"
         "certbridge_last_publish_timestamp_seconds "
      << (last ? last->at : 0)
      << "\n# HELP certbridge_last_publish_success 1 when the last publish attempt succeeded.\n"
         "# TYPE certbridge_last_publish_success gauge\ncertbridge_last_publish_success "
      << (last && last->result != "failed" ? 1 : 0) << "\n";
  out << "# HELP certbridge_reloads_total Publishes that changed files and reloaded nginx.\n"
         "# TYPE certbridge_reloads_total counter\ncertbridge_reloads_total "
      << snapshot.reloads_total
      << "\n# HELP certbridge_reloads_failed_total Publishes that failed (files restored).\n"
         "# TYPE certbridge_reloads_failed_total counter\ncertbridge_reloads_failed_total "
      << snapshot.reloads_failed_total << "\n";
  if (snapshot.fleet) {
    out << "# HELP certbridge_fleet_degraded 1 while the fleet's database is unreachable (this "
           "host enforces the last list it applied).\n# TYPE certbridge_fleet_degraded gauge\n"
           "certbridge_fleet_degraded "
        << (snapshot.fleet->state == "degraded" ? 1 : 0) << "\n";
  }
  if (snapshot.fleet_overview) {
    const storage::FleetOverview& overview = *snapshot.fleet_overview;
    out << "# HELP certbridge_fleet_nodes Nodes of the fleet, as last read from its database.\n"
           "# TYPE certbridge_fleet_nodes gauge\ncertbridge_fleet_nodes "
        << overview.nodes.size()
        << "\n# HELP certbridge_fleet_event_lag Events of the fleet's log a node does not enforce "
           "yet (0: current), as last read.\n# TYPE certbridge_fleet_event_lag gauge\n";
    for (const storage::FleetNodeView& node : overview.nodes) {
      out << "certbridge_fleet_event_lag{node=\"" << promLabel(node.node) << "\"} "
          << node.event_lag << "\n";
    }
  }
  Reply reply;
  reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
  reply.body = out.str();
  return reply;
}

}  // namespace certbridge::web
