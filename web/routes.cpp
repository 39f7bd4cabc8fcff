#include <charconv>

#include "web/web_app.h"

namespace certbridge::web {
namespace {

// The certificate search of the status page and GET /api/v1/certificates, from the query
// string: subject, issuer, serial, fingerprint, state, order (soonest, latest), limit, cursor.
storage::CertificateQuery certificateQueryOf(const Poco::URI& uri) {
  storage::CertificateQuery query;
  for (const auto& [name, value] : uri.getQueryParameters()) {
    if (name == "subject") {
      query.subject = value;
    } else if (name == "issuer") {
      query.issuer = value;
    } else if (name == "serial") {
      query.serial = value;
    } else if (name == "fingerprint") {
      query.fingerprint = value;
    } else if (name == "state") {
      query.state = value;
    } else if (name == "order") {
      if (value != "" && value != "soonest" && value != "latest") {
        throw BadInput("order '" + value + "' is not soonest or latest");
      }
      query.soonest_first = value != "latest";
    } else if (name == "cursor") {
      query.cursor = value;
    } else if (name == "limit") {
      std::int64_t limit = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (error != std::errc() || end != value.data() + value.size()) {
        throw BadInput("limit '" + value + "' is not a whole number");
      }
      query.limit = limit;
    }
  }
  try {
    query.validate();
  } catch (const storage::BadCertificateQuery& error) {
    throw BadInput(error.what());
  }
  return query;
}

}  // namespace

WebApp::Reply WebApp::route(HTTPServerRequest& request, const std::string& body) {
  const Poco::URI uri(request.getURI());
  const std::string path = uri.getPath();
  const std::string method = request.getMethod();
  const std::string origin = clientOf(request);
  const std::optional<Identity> identity = identify(request);
  const bool get = method == "GET" || method == "HEAD";

  if (get && path == "/healthz") {
    return healthz();
  }
  if (get && path == "/login") {
    return loginPage("", HTTPResponse::HTTP_OK);
  }
  if (get && (path == kStyleSheetPath || path == kFilterScriptPath)) {
    Reply reply;
    reply.content_type =
        path == kStyleSheetPath ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
    reply.body = path == kStyleSheetPath ? styleSheet() : filterScript();
    return reply;
  }

  // Forms: urlencoded or multipart, from the body already read within the limit.
  FormBody form;
  if (method == "POST" && !path.starts_with("/api/")) {
    try {
      form = parseFormBody(request.getContentType(), body, settings_.max_body);
    } catch (const BadInput& error) {
      throw MalformedRequest(error.what());  // 400 for pages too: nobody can fix it on the page
    }
  }
  const std::string form_csrf = form.fields.get("csrf", "");

  if (method == "POST" && path == "/login") {
    return login(request, form.fields, origin);
  }
  if (method == "POST" && path == "/logout") {
    requireChange(request, identity, form_csrf);
    Poco::Net::NameValueCollection cookies;
    request.getCookies(cookies);
    {
      const std::lock_guard lock(mutex_);
      sessions_.erase(cookies.get(kSessionCookie, ""));
    }
    Reply reply = redirect("/login");
    Poco::Net::HTTPCookie cleared(kSessionCookie, "");
    cleared.setMaxAge(0);
    cleared.setPath("/");
    reply.cookies.push_back(cleared);
    return reply;
  }

  if (get && (path == "/" || path == "/audit" || path == "/fleet" || path == "/metrics" ||
              path.starts_with("/api/"))) {
    if (!mayRead(identity)) {
      throw Unauthorised(HTTPResponse::HTTP_UNAUTHORIZED, "log in, or send the API bearer token");
    }
    if (path == "/") {
      std::string message;
      for (const auto& [name, value] : uri.getQueryParameters()) {
        if (name == "message") {
          message = value;
        }
      }
      return statusPage(identity, message, certificateQueryOf(uri));
    }
    if (path == "/audit")
      return auditPage(identity);
    if (path == "/fleet")
      return fleetPage(identity);
    if (path == "/metrics")
      return metrics();
    if (path == "/api/v1/status")
      return statusJson();
    if (path == "/api/v1/certificates")
      return certificatesJson(certificateQueryOf(uri));
    if (path == "/api/v1/audit")
      return auditJson();
    if (path == "/api/v1/fleet")
      return fleetJson();
  }

  // /clients/SHA256/approve|block, /api/v1/certificates/SHA256/trust
  std::vector<std::string> segments;
  uri.getPathSegments(segments);
  if (method == "POST" && segments.size() == 3 && segments[0] == "clients") {
    const Identity who = requireChange(request, identity, form_csrf);
    if (!isHex(segments[1], 64) || (segments[2] != "approve" && segments[2] != "block")) {
      throw BadInput("no such action");
    }
    return setTrust(
        segments[1],
        segments[2] == "approve" ? storage::TrustState::trusted : storage::TrustState::blocked, who,
        origin, false);
  }
  if (method == "POST" && segments.size() == 3 && segments[0] == "audit" && segments[2] == "undo" &&
      auditId(segments[1])) {
    const Identity who = requireChange(request, identity, form_csrf);
    return undo(*auditId(segments[1]), who, origin);
  }
  if (method == "POST" && path == "/upload") {
    const Identity who = requireChange(request, identity, form_csrf);
    if (form.files.empty() || form.files.front().empty()) {
      throw BadInput("choose a certificate file (PEM or DER) to upload");
    }
    return upload(form.files.front(), who, origin, false);
  }
  if (method == "POST" && segments.size() == 5 && segments[0] == "api" &&
      segments[2] == "certificates" && segments[4] == "trust") {
    const Identity who = requireChange(request, identity, "");
    const std::string state = trustStateFromJson(body);
    if (!isHex(segments[3], 64)) {
      throw BadInput("not a SHA-256 fingerprint: " + segments[3]);
    }
    if (state != "trusted" && state != "blocked") {
      throw BadInput("\"state\" must be \"trusted\" or \"blocked\"");
    }
    return setTrust(segments[3], storage::trustStateFromString(state), who, origin, true);
  }
  if (method == "POST" && path == "/api/v1/uploads") {
    const Identity who = requireChange(request, identity, "");
    return upload(body, who, origin, true);
  }

  if (path.starts_with("/api/")) {
    return jsonError(HTTPResponse::HTTP_NOT_FOUND, "no such API route: " + method + " " + path);
  }
  return Reply{HTTPResponse::HTTP_NOT_FOUND, "text/html; charset=utf-8",
               page("Not found", "<p>Nothing here. <a href=\"/\">Status</a></p>",
                    identity.has_value(), identity ? identity->csrf : "")};
}

}  // namespace certbridge::web
