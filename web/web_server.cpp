#include "web/web_server.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "storage/audit_log.h"
#include "storage/certificate_repository.h"
#include "storage/crl_repository.h"
#include "storage/password.h"
#include "web/html.h"
#include "web/request_body.h"
#include "web/status_json.h"

namespace certbridge::web {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using storage::constantTimeEquals;
using storage::randomHex;
using storage::sha256Hex;
using storage::verifyPassword;

constexpr const char* kSessionCookie = "certbridge_session";
// The login form's CSRF token, also set as this cookie (double submit): a login POST from
// another site carries neither, since the cookie is SameSite=Strict.
constexpr const char* kLoginCookie = "certbridge_login";
// Login failures from one address before it has to wait, and how long.
constexpr int kLoginFailuresAllowed = 5;
constexpr std::int64_t kLoginLockSeconds = 60;

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string formatTime(std::int64_t unix_time) {
  return storage::formatUtc(unix_time, "%Y-%m-%d %H:%M UTC");
}

// The colour band and the words that say the same without colour.
std::pair<std::string, std::string> expiryBand(std::int64_t days) {
  switch (storage::expiryBandOf(days)) {
    case storage::ExpiryBand::expired: return {"band-expired", "EXPIRED"};
    case storage::ExpiryBand::week: return {"band-week", "under 7 days"};
    case storage::ExpiryBand::month: return {"band-month", "under 30 days"};
    case storage::ExpiryBand::fine: break;
  }
  return {"band-fine", "fine"};
}

// An audit entry's number: whole, decimal, positive, no sign or spaces ("14zzz" is not 14).
std::optional<std::int64_t> auditId(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(text);
}

bool isHex(const std::string& text, std::size_t size) {
  return text.size() == size && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A Prometheus label value: backslash, double quote and line feed escaped.
std::string promLabel(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '\\' || c == '"') {
      escaped.push_back('\\');
      escaped.push_back(c);
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

std::string urlEncoded(const std::string& text) {
  std::string encoded;
  Poco::URI::encode(text, "&=?#+", encoded);
  return encoded;
}

// Fewer bytes than Content-Length: 408, and the connection is not kept.
class IncompleteBody : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request that is not well-formed (a broken multipart body, too many form fields): 400 for
// pages and API alike, since no person can fix it by reading a message on the status page.
class MalformedRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

// Poco 1.11 knows no reason phrase for some statuses and would send "OK".
const std::string& reasonPhrase(HTTPResponse::HTTPStatus status) {
  switch (status) {
    case HTTPResponse::HTTP_TOO_MANY_REQUESTS: return HTTPResponse::HTTP_REASON_TOO_MANY_REQUESTS;
    case HTTPResponse::HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE:
      return HTTPResponse::HTTP_REASON_REQUEST_HEADER_FIELDS_TOO_LARGE;
    default: return HTTPResponse::getReasonForStatus(status);
  }
}

struct Identity {
  std::string actor;
  std::string csrf;  // empty for bearer tokens, which are not sent by browsers on their own
};

struct Session {
  std::string csrf;
  std::int64_t expires = 0;
};

}  // namespace

// Everything the handlers share: settings, storage, sessions and the login rate limit.
// Thread-safe: sessions and failures are guarded by a mutex; storage by the Database.
class WebApp {
 public:
  WebApp(WebSettings settings, storage::Database& database, AgentControl& agent,
         Poco::Logger& logger)
      : settings_(std::move(settings)),
        database_(database),
        agent_(agent),
        logger_(logger),
        certificates_(database),
        crls_(database) {}

  void handle(HTTPServerRequest& request, HTTPServerResponse& response);

 private:
  struct Reply {
    HTTPResponse::HTTPStatus status = HTTPResponse::HTTP_OK;
    std::string content_type = "text/html; charset=utf-8";
    std::string body;
    std::string location;  // for redirects
    std::vector<Poco::Net::HTTPCookie> cookies;
  };

  Reply route(HTTPServerRequest& request, const std::string& body);
  std::optional<Identity> identify(const HTTPServerRequest& request);
  bool mayRead(const std::optional<Identity>& identity) const {
    return settings_.public_status || identity.has_value();
  }
  // Throws std::invalid_argument when a change is not authorised (401 or 403).
  Identity requireChange(const HTTPServerRequest& request, const std::optional<Identity>& identity,
                         const std::string& form_csrf);

  Reply statusPage(const std::optional<Identity>& identity, const std::string& message);
  Reply auditPage(const std::optional<Identity>& identity);
  // A login form carrying `login_token` (a new one, also set as a cookie, when empty).
  Reply loginPage(const std::string& error, HTTPResponse::HTTPStatus status,
                  std::string login_token = "");
  Reply login(const HTTPServerRequest& request, const Poco::Net::NameValueCollection& form,
              const std::string& client);
  // The address the request comes from: the TCP peer, or X-Forwarded-For's client when the
  // peer is one of `[web] trusted_proxies`.
  std::string clientOf(const HTTPServerRequest& request) const;
  Reply setTrust(const std::string& sha256, storage::TrustState state, const Identity& who,
                 const std::string& origin, bool json);
  Reply undo(std::int64_t audit_id, const Identity& who, const std::string& origin);
  Reply upload(const std::string& bytes, const Identity& who, const std::string& origin, bool json);
  Reply healthz();
  Reply metrics();
  Reply statusJson();
  Reply auditJson();

  static Reply redirect(const std::string& location) {
    Reply reply;
    reply.status = HTTPResponse::HTTP_SEE_OTHER;
    reply.location = location;
    return reply;
  }
  static Reply json(const Poco::JSON::Object& object, HTTPResponse::HTTPStatus status) {
    std::ostringstream out;
    object.stringify(out);
    Reply reply;
    reply.status = status;
    reply.content_type = "application/json";
    reply.body = out.str() + "\n";
    return reply;
  }
  static Reply jsonError(HTTPResponse::HTTPStatus status, const std::string& message) {
    Poco::JSON::Object object;
    object.set("error", message);
    return json(object, status);
  }

  WebSettings settings_;
  storage::Database& database_;
  AgentControl& agent_;
  Poco::Logger& logger_;
  storage::CertificateRepository certificates_;
  storage::CrlRepository crls_;
  std::mutex mutex_;
  std::map<std::string, Session> sessions_;
  struct LoginAttempts {
    int checked = 0;  // passwords checked in this window, the one running included
    std::int64_t window_start = 0;
  };
  std::map<std::string, LoginAttempts> login_attempts_;  // by client address
};

namespace {

// Distinguishes "who are you?" (401) from "not allowed" (403) for the edge.
class Unauthorised : public std::runtime_error {
 public:
  Unauthorised(HTTPResponse::HTTPStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  HTTPResponse::HTTPStatus status() const { return status_; }

 private:
  HTTPResponse::HTTPStatus status_;
};

// Bodies up to this size are read and dropped before a 413, so that the client, still sending,
// sees the answer instead of a reset connection. Larger ones are cut off.
constexpr std::uint64_t kDrainLimit = 8 * 1024 * 1024;

std::string readBody(HTTPServerRequest& request, std::size_t limit) {
  if (request.hasContentLength() &&
      static_cast<std::uint64_t>(request.getContentLength64()) > limit) {
    if (static_cast<std::uint64_t>(request.getContentLength64()) <= kDrainLimit) {
      request.stream().ignore(std::numeric_limits<std::streamsize>::max());
    }
    throw BodyTooLarge("request body of " + std::to_string(request.getContentLength64()) +
                       " bytes is over the limit of " + std::to_string(limit));
  }
  std::string body;
  std::vector<char> chunk(16 * 1024);
  std::istream& stream = request.stream();
  while (stream) {
    stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    body.append(chunk.data(), static_cast<std::size_t>(stream.gcount()));
    if (body.size() > limit) {
      throw BodyTooLarge("request body is over the limit of " + std::to_string(limit) + " bytes");
    }
  }
  // The stream ends early, without an exception, when a read times out or the client closes.
  if (request.hasContentLength() &&
      body.size() < static_cast<std::uint64_t>(request.getContentLength64())) {
    throw IncompleteBody("the request body ended before its Content-Length of " +
                         std::to_string(request.getContentLength64()) +
                         " bytes: nothing came for too long, or the client closed");
  }
  return body;
}

}  // namespace

std::optional<Identity> WebApp::identify(const HTTPServerRequest& request) {
  if (request.has("Authorization")) {
    // RFC 9110: the scheme is case-insensitive; one or more spaces before the token.
    const std::string header = request.get("Authorization");
    const auto space = header.find(' ');
    const auto token_start = header.find_first_not_of(' ', space);
    if (space != std::string::npos && token_start != std::string::npos &&
        Poco::icompare(header.substr(0, space), "Bearer") == 0 &&
        !settings_.api_token_sha256.empty() &&
        constantTimeEquals(sha256Hex(header.substr(token_start)), settings_.api_token_sha256)) {
      return Identity{"api-token", ""};
    }
    return std::nullopt;
  }
  Poco::Net::NameValueCollection cookies;
  request.getCookies(cookies);
  if (!cookies.has(kSessionCookie)) {
    return std::nullopt;
  }
  const std::lock_guard lock(mutex_);
  const auto found = sessions_.find(cookies.get(kSessionCookie));
  if (found == sessions_.end()) {
    return std::nullopt;
  }
  if (found->second.expires < unixNow()) {
    sessions_.erase(found);
    return std::nullopt;
  }
  return Identity{"admin", found->second.csrf};
}

Identity WebApp::requireChange(const HTTPServerRequest& request,
                               const std::optional<Identity>& identity,
                               const std::string& form_csrf) {
  if (!identity) {
    throw Unauthorised(HTTPResponse::HTTP_UNAUTHORIZED, "log in first");
  }
  if (!identity->csrf.empty()) {
    const std::string sent =
        !form_csrf.empty() ? form_csrf : request.get("X-CSRF-Token", std::string());
    if (!constantTimeEquals(sent, identity->csrf)) {
      throw Unauthorised(HTTPResponse::HTTP_FORBIDDEN,
                         "the form's CSRF token is missing or wrong; reload the page");
    }
  }
  return *identity;
}

void WebApp::handle(HTTPServerRequest& request, HTTPServerResponse& response) {
  Reply reply;
  const std::string path = Poco::URI(request.getURI()).getPath();
  const bool wants_json = path.starts_with("/api/");
  try {
    const std::string body = readBody(request, settings_.max_body);
    reply = route(request, body);
  } catch (const IncompleteBody& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_REQUEST_TIMEOUT, error.what())
                       : Reply{HTTPResponse::HTTP_REQUEST_TIMEOUT, "text/plain; charset=utf-8",
                               std::string(error.what()) + "\n"};
  } catch (const BodyTooLarge& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, error.what())
                       : Reply{HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE,
                               "text/plain; charset=utf-8", std::string(error.what()) + "\n"};
  } catch (const Unauthorised& error) {
    if (!wants_json && error.status() == HTTPResponse::HTTP_UNAUTHORIZED) {
      reply = redirect("/login");
    } else {
      reply = wants_json ? jsonError(error.status(), error.what())
                         : Reply{error.status(), "text/plain; charset=utf-8",
                                 std::string(error.what()) + "\n"};
    }
  } catch (const MalformedRequest& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_BAD_REQUEST, error.what())
                       : Reply{HTTPResponse::HTTP_BAD_REQUEST, "text/plain; charset=utf-8",
                               std::string(error.what()) + "\n"};
  } catch (const BadInput& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_BAD_REQUEST, error.what())
                       : redirect("/?message=" + urlEncoded(error.what()));
  } catch (const std::exception& error) {
    logger_.error("web: %s %s failed: %s", request.getMethod(), path, std::string(error.what()));
    reply = wants_json
                ? jsonError(HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, error.what())
                : Reply{HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                        "certbridge could not answer: " + std::string(error.what()) + "\n"};
  }

  response.setStatusAndReason(reply.status, reasonPhrase(reply.status));
  if (reply.status == HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE ||
      reply.status == HTTPResponse::HTTP_REQUEST_TIMEOUT) {
    response.setKeepAlive(false);  // the rest of the body may still come
  }
  response.setContentType(reply.content_type);
  // Nothing on these pages comes from elsewhere, and nothing inline runs: the style sheet and
  // the filter script are served files, so injected markup could neither run nor restyle.
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  response.set("Cache-Control", "no-store");
  for (Poco::Net::HTTPCookie& cookie : reply.cookies) {
    response.addCookie(cookie);
  }
  if (!reply.location.empty()) {
    response.set("Location", reply.location);
  }
  response.setContentLength64(static_cast<Poco::Int64>(reply.body.size()));
  if (request.getMethod() == "HEAD") {
    response.send();
    return;
  }
  response.send() << reply.body;
}

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

  if (get && (path == "/" || path == "/audit" || path == "/metrics" || path.starts_with("/api/"))) {
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
      return statusPage(identity, message);
    }
    if (path == "/audit")
      return auditPage(identity);
    if (path == "/metrics")
      return metrics();
    if (path == "/api/v1/status" || path == "/api/v1/certificates")
      return statusJson();
    if (path == "/api/v1/audit")
      return auditJson();
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

WebApp::Reply WebApp::loginPage(const std::string& error, HTTPResponse::HTTPStatus status,
                                std::string login_token) {
  Reply reply;
  if (login_token.empty()) {
    login_token = randomHex(32);
    Poco::Net::HTTPCookie cookie(kLoginCookie, login_token);
    cookie.setHttpOnly(true);
    cookie.setPath("/login");
    cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
    reply.cookies.push_back(cookie);
  }
  std::string body = "<h1>Log in</h1>";
  if (settings_.admin_password_hash.empty()) {
    body +=
        "<p class=\"bad\">No administrator password is set: put the output of "
        "<code>certbridge hash-password</code> into <code>[web] admin_password_hash</code>."
        "</p>";
  }
  if (!error.empty()) {
    body += "<p class=\"bad\" id=\"login-error\">" + escapeHtml(error) + "</p>";
  }
  body +=
      "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"" +
      escapeHtml(login_token) +
      "\"><p><label>Password <input type=\"password\" name=\"password\" id=\"password\" "
      "autofocus required></label> <button type=\"submit\" id=\"login\">Log in</button></p></form>";
  reply.status = status;
  reply.body = page("Log in", body, false, "");
  return reply;
}

WebApp::Reply WebApp::login(const HTTPServerRequest& request,
                            const Poco::Net::NameValueCollection& form, const std::string& client) {
  Poco::Net::NameValueCollection cookies;
  request.getCookies(cookies);
  const std::string login_token = cookies.get(kLoginCookie, "");
  if (login_token.empty() || !constantTimeEquals(form.get("csrf", ""), login_token)) {
    return loginPage("The login form had expired or did not come from this page; try again.",
                     HTTPResponse::HTTP_FORBIDDEN);
  }
  const std::int64_t now = unixNow();
  {
    // The attempt counts before the password is checked, in the same locked section as the
    // lockout test: however many requests race, at most kLoginFailuresAllowed checks run per
    // window and address.
    const std::lock_guard lock(mutex_);
    LoginAttempts& attempts = login_attempts_[client];
    if (now - attempts.window_start >= kLoginLockSeconds) {
      attempts = LoginAttempts{0, now};
    }
    if (attempts.checked >= kLoginFailuresAllowed) {
      return loginPage("Too many wrong passwords; wait a minute and try again.",
                       HTTPResponse::HTTP_TOO_MANY_REQUESTS, login_token);
    }
    ++attempts.checked;
  }
  if (settings_.admin_password_hash.empty() ||
      !verifyPassword(form.get("password", ""), settings_.admin_password_hash)) {
    storage::AuditLog(database_).append(
        {now, "(anonymous)", client, "login.failed", "", "wrong password", 0, ""});
    logger_.warning("web: wrong password from %s", client);
    return loginPage("Wrong password.", HTTPResponse::HTTP_UNAUTHORIZED, login_token);
  }
  const std::string token = randomHex(32);
  {
    const std::lock_guard lock(mutex_);
    login_attempts_.erase(client);
    sessions_[token] = Session{randomHex(32), now + settings_.session_timeout.count()};
  }
  logger_.notice("web: administrator logged in from %s", client);
  Reply reply = redirect("/");
  Poco::Net::HTTPCookie cookie(kSessionCookie, token);
  cookie.setHttpOnly(true);
  cookie.setPath("/");
  cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
  cookie.setMaxAge(static_cast<int>(settings_.session_timeout.count()));
  reply.cookies.push_back(cookie);
  Poco::Net::HTTPCookie used_login_token(kLoginCookie, "");
  used_login_token.setPath("/login");
  used_login_token.setMaxAge(0);
  reply.cookies.push_back(used_login_token);
  return reply;
}

std::string WebApp::clientOf(const HTTPServerRequest& request) const {
  std::vector<std::string> forwarded_for;
  for (const auto& [name, value] : request) {
    if (Poco::icompare(name, "X-Forwarded-For") == 0) {
      forwarded_for.push_back(value);
    }
  }
  return clientAddress(request.clientAddress().host(), forwarded_for, settings_.trusted_proxies)
      .toString();
}

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
  Poco::JSON::Object object;
  object.set("status", reasons.size() == 0 ? "ok" : "failing");
  object.set("reasons", reasons);
  return json(object,
              reasons.size() == 0 ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
}

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
    body += "<tr data-sha256=\"" + escapeHtml(view.certificate.sha256) +
            "\"><td><span class=\"band " + band_class + "\">" + band_text + "</span></td><td>" +
            std::to_string(days) + "</td><td>" + formatTime(view.certificate.not_after) +
            "</td><td>" + escapeHtml(view.certificate.subject) + "</td><td>" +
            escapeHtml(view.certificate.issuer) + "</td><td class=\"fp\">" +
            escapeHtml(view.certificate.serial) + "</td><td class=\"fp\">" +
            escapeHtml(view.certificate.sha256) + "</td><td>" + escapeHtml(view.sources) +
            "</td><td>" + escapeHtml(storage::roleLabel(view)) + "</td><td class=\"trust\">" +
            escapeHtml(shown) + "</td><td>";
    if (signed_in && view.client) {
      const auto button = [&](const char* action, const char* label) {
        return "<form class=\"inline\" method=\"post\" action=\"/clients/" +
               escapeHtml(view.certificate.sha256) + "/" + action +
               "\"><input type=\"hidden\" name=\"csrf\" value=\"" + escapeHtml(csrf) +
               "\"><button class=\"action\" type=\"submit\" name=\"" + action + "\">" + label +
               "</button></form>";
      };
      if (trust != "trusted")
        body += button("approve", "Approve");
      if (trust != "blocked")
        body += button("block", trust == "trusted" ? "Revoke" : "Block");
    }
    body += "</td></tr>";
  }
  body += "</tbody></table><script src=\"" + std::string(kFilterScriptPath) + "\"></script>";
  Reply reply;
  reply.body = page("Status", body, signed_in, csrf);
  return reply;
}

WebApp::Reply WebApp::auditPage(const std::optional<Identity>& identity) {
  const bool signed_in = identity.has_value() && !identity->csrf.empty();
  std::string body =
      "<h1>Audit log</h1><table id=\"audit\"><thead><tr><th>When</th><th>Who</th>"
      "<th>From</th><th>What</th><th>Certificate</th><th>Detail</th><th></th>"
      "</tr></thead><tbody>";
  for (const storage::AuditEntry& entry : storage::AuditLog(database_).recent(500)) {
    body += "<tr><td>" + formatTime(entry.at) + "</td><td>" + escapeHtml(entry.actor) +
            "</td><td>" + escapeHtml(entry.origin) + "</td><td>" + escapeHtml(entry.action) +
            "</td><td class=\"fp\">" + escapeHtml(entry.target) + "</td><td>" +
            escapeHtml(entry.detail) +
            (entry.previous.empty() ? "" : " (was " + escapeHtml(entry.previous) + ")") +
            "</td><td>";
    const bool undoable = entry.action.starts_with("trust.")
                              ? !entry.previous.empty()
                              : entry.action == "certificate.uploaded";
    if (signed_in && undoable) {
      body += "<form class=\"inline\" method=\"post\" action=\"/audit/" + std::to_string(entry.id) +
              "/undo\"><input type=\"hidden\" name=\"csrf\" value=\"" + escapeHtml(identity->csrf) +
              "\"><button class=\"action\" type=\"submit\">Undo</button></form>";
    }
    body += "</td></tr>";
  }
  body += "</tbody></table>";
  Reply reply;
  reply.body = page("Audit log", body, signed_in, signed_in ? identity->csrf : "");
  return reply;
}

WebApp::Reply WebApp::statusJson() {
  return json(statusDocument(agent_.statusSnapshot()), HTTPResponse::HTTP_OK);
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
  Reply reply;
  reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
  reply.body = out.str();
  return reply;
}

namespace {

class AppHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit AppHandler(std::shared_ptr<WebApp> app) : app_(std::move(app)) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    app_->handle(request, response);
  }

 private:
  std::shared_ptr<WebApp> app_;
};

class AppHandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit AppHandlerFactory(std::shared_ptr<WebApp> app) : app_(std::move(app)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new AppHandler(app_);  // Poco's interface: the caller owns and deletes the handler
  }

 private:
  std::shared_ptr<WebApp> app_;
};

// Tells whether Poco has already read part of the next request into its buffer: such a
// connection cannot go back to the gate, which only sees what is still in the socket.
class RequestSession final : public Poco::Net::HTTPServerSession {
 public:
  using HTTPServerSession::HTTPServerSession;
  bool holdsUnreadInput() const { return buffered() > 0; }
};

}  // namespace

// Poco's HTTP request parsing and response writing, one request per call from the
// ConnectionGate (as Poco's HTTPServerConnection does for a whole connection).
class PocoServer {
 public:
  PocoServer(const Poco::Net::ServerSocket& socket, std::shared_ptr<WebApp> app,
             const WebSettings& settings, Poco::Logger& logger)
      : parameters_(Poco::makeAuto<Poco::Net::HTTPServerParams>()), factory_(std::move(app)) {
    parameters_->setTimeout(Poco::Timespan(settings.request_timeout.count(), 0));
    parameters_->setKeepAlive(true);
    parameters_->setServerName("certbridge");
    ConnectionLimits limits = settings.connection_limits;
    limits.threads = settings.threads;
    gate_ = std::make_unique<ConnectionGate>(
        socket, limits, settings.trusted_proxies,
        [this](const Poco::Net::StreamSocket& connection) { return serveOne(connection); }, logger);
  }
  ~PocoServer() { gate_->stop(); }
  void start() { gate_->start(); }

 private:
  // True when the connection may carry another request.
  bool serveOne(const Poco::Net::StreamSocket& connection) {
    // Poco's server session only keeps these for its own polls: every read and write of the
    // body and the response gets them here.
    Poco::Net::StreamSocket socket(connection);
    socket.setReceiveTimeout(parameters_->getTimeout());
    socket.setSendTimeout(parameters_->getTimeout());
    RequestSession session(socket, parameters_);
    const bool keep = serveOne(session);
    if (keep) {
      session.detachSocket();  // a session closes its socket when it ends
    }
    return keep;
  }

  bool serveOne(RequestSession& session) {
    // Request and response end (and flush) before the connection goes back to the gate.
    Poco::Net::HTTPServerResponseImpl response(session);
    try {
      Poco::Net::HTTPServerRequestImpl request(response, session, parameters_.get());
      response.setDate(Poco::Timestamp());
      response.setVersion(request.getVersion());
      response.setKeepAlive(request.getKeepAlive());
      response.set("Server", "certbridge");
      if (request.getExpectContinue()) {
        response.sendContinue();
      }
      const std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          factory_.createRequestHandler(request));
      handler->handleRequest(request, response);
      return response.getKeepAlive() && !session.holdsUnreadInput();
    } catch (const Poco::Net::NoMessageException&) {
      return false;  // closed before sending a request
    } catch (const Poco::Net::MessageException&) {
      if (!response.sent()) {
        response.setStatusAndReason(HTTPResponse::HTTP_BAD_REQUEST);
        response.setKeepAlive(false);
        response.setContentLength(0);
        response.send();
      }
      return false;
    }
  }

  Poco::Net::HTTPServerParams::Ptr parameters_;
  AppHandlerFactory factory_;
  std::unique_ptr<ConnectionGate> gate_;
};

WebServer::WebServer(WebSettings settings, storage::Database& database, AgentControl& agent,
                     Poco::Logger& logger)
    : settings_(std::move(settings)),
      app_(std::make_shared<WebApp>(settings_, database, agent, logger)),
      logger_(logger) {}

WebServer::~WebServer() {
  stop();
}

void WebServer::start() {
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(Poco::Net::SocketAddress(settings_.listen), true);
    socket.listen(64);
  } catch (const Poco::Exception& error) {
    throw std::runtime_error("cannot listen on " + settings_.listen +
                             " ([web] listen): " + error.displayText());
  }
  port_ = socket.address().port();
  server_ = std::make_unique<PocoServer>(socket, app_, settings_, logger_);
  server_->start();
}

void WebServer::stop() {
  server_.reset();
}

}  // namespace certbridge::web
