#include "web/web_app.h"

namespace certbridge::web {

WebApp::Reply WebApp::metrics() {
  // At 100,000 certificates a series per certificate is a cardinality problem for Prometheus,
  // and reading them all a cost per scrape: the counts and the soonest expiry come from
  // aggregate queries, and per-certificate series only for those that need watching.
  const storage::StatusSnapshot snapshot = agent_.statusOverview();
  const std::int64_t now = snapshot.now;
  constexpr std::int64_t kDay = 86400;
  const storage::CertificateSummary summary = agent_.certificateSummary();
  std::ostringstream out;
  out << "# HELP certbridge_certificate_expiry_seconds Seconds until notAfter, per certificate "
         "present in a store: only the "
      << settings_.metrics_certificates
      << " soonest-expiring ([web] metrics_certificates) and every one expiring within "
      << settings_.metrics_expiry_days
      << " days ([web] metrics_expiry_days).\n# TYPE certbridge_certificate_expiry_seconds gauge\n";
  for (const storage::CertificateStatus& status : agent_.soonestExpiring(
           settings_.metrics_certificates, now + settings_.metrics_expiry_days * kDay)) {
    const storage::CertificateView& view = status.view;
    const std::string trust = status.trust.empty() ? "none" : status.trust;
    out << "certbridge_certificate_expiry_seconds{sha256=\"" << view.certificate.sha256
        << "\",subject=\"" << promLabel(view.certificate.subject) << "\",role=\""
        << promLabel(storage::roleLabel(view)) << "\",trust=\"" << promLabel(trust) << "\"} "
        << view.certificate.not_after - now << "\n";
  }
  out << "# HELP certbridge_certificates Certificates present in stores, by trust: trusted; "
         "left out (trusted, but the last render left it out of clients.map: expired, chain not "
         "trusted or revoked); pending; blocked; none (CAs, certificates that are not clients).\n"
         "# TYPE certbridge_certificates gauge\n";
  for (const auto& [trust, count] : summary.by_state) {
    out << "certbridge_certificates{trust=\"" << trust << "\"} " << count << "\n";
  }
  out << "# HELP certbridge_certificates_by_expiry Certificates present in stores, by expiry "
         "band: expired, under 7 days, under 30 days, later.\n"
         "# TYPE certbridge_certificates_by_expiry gauge\n"
         "certbridge_certificates_by_expiry{band=\"expired\"} "
      << summary.expired << "\ncertbridge_certificates_by_expiry{band=\"week\"} "
      << summary.within_week << "\ncertbridge_certificates_by_expiry{band=\"month\"} "
      << summary.within_month << "\ncertbridge_certificates_by_expiry{band=\"later\"} "
      << summary.later << "\n";
  out << "# HELP certbridge_certificate_soonest_expiry_timestamp_seconds notAfter of the "
         "certificate present in a store that expires next (0: none left unexpired).\n"
         "# TYPE certbridge_certificate_soonest_expiry_timestamp_seconds gauge\n"
         "certbridge_certificate_soonest_expiry_timestamp_seconds "
      << summary.soonest_expiry.value_or(0) << "\n";
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
