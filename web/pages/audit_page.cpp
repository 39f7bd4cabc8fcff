#include "web/web_app.h"

namespace certbridge::web {

WebApp::Reply WebApp::auditPage(const std::optional<Identity>& identity) {
  const bool signed_in = identity.has_value() && !identity->csrf.empty();
  std::string body =
      "<h1>Audit log</h1><table id=\"audit\"><thead><tr><th>When</th><th>Who</th>"
      "<th>From</th><th>What</th><th>Certificate</th><th>Detail</th><th></th>"
      "</tr></thead><tbody>";
  for (const storage::AuditEntry& entry : storage::AuditLog(database_).recent(500)) {
    const bool undoable = entry.action.starts_with("trust.")
                              ? !entry.previous.empty()
                              : entry.action == "certificate.uploaded";
    const RawHtml undo{
        signed_in && undoable
            ? fillHtml("<form class=\"inline\" method=\"post\" action=\"/audit/{id}/undo\">"
                       "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button "
                       "class=\"action\" type=\"submit\">Undo</button></form>",
                       {{"id", std::to_string(entry.id)}, {"csrf", identity->csrf}})
            : ""};
    body += fillHtml(
        "<tr><td>{when}</td><td>{actor}</td><td>{origin}</td><td>{action}</td>"
        "<td class=\"fp\">{target}</td><td>{detail}{previous}</td><td>{undo}</td></tr>",
        {{"when", formatTime(entry.at)},
         {"actor", entry.actor},
         {"origin", entry.origin},
         {"action", entry.action},
         {"target", entry.target},
         {"detail", entry.detail},
         {"previous", entry.previous.empty() ? "" : " (was " + entry.previous + ")"},
         {"undo", undo}});
  }
  body += "</tbody></table>";
  Reply reply;
  reply.body = page("Audit log", body, signed_in, signed_in ? identity->csrf : "");
  return reply;
}

}  // namespace certbridge::web
