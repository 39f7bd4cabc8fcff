#pragma once

// The web application shared by the files of web/: server.cpp (Poco, limits, security headers),
// auth.cpp (sessions, CSRF, login lockout, bearer tokens), routes.cpp, pages/*.cpp (one file per
// page), api.cpp and metrics.cpp. Internal to web/: nothing outside includes it.

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
#include "web/web_server.h"

namespace certbridge::web {

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

inline std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

inline std::string formatTime(std::int64_t unix_time) {
  return storage::formatUtc(unix_time, "%Y-%m-%d %H:%M UTC");
}

// The colour band and the words that say the same without colour.
inline std::pair<std::string, std::string> expiryBand(std::int64_t days) {
  switch (storage::expiryBandOf(days)) {
    case storage::ExpiryBand::expired: return {"band-expired", "EXPIRED"};
    case storage::ExpiryBand::week: return {"band-week", "under 7 days"};
    case storage::ExpiryBand::month: return {"band-month", "under 30 days"};
    case storage::ExpiryBand::fine: break;
  }
  return {"band-fine", "fine"};
}

// An audit entry's number: whole, decimal, positive, no sign or spaces ("14zzz" is not 14).
inline std::optional<std::int64_t> auditId(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(text);
}

inline bool isHex(const std::string& text, std::size_t size) {
  return text.size() == size && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A Prometheus label value: backslash, double quote and line feed escaped.
inline std::string promLabel(const std::string& text) {
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

inline std::string urlEncoded(const std::string& text) {
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
inline const std::string& reasonPhrase(HTTPResponse::HTTPStatus status) {
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

  Reply statusPage(const std::optional<Identity>& identity, const std::string& message,
                   const storage::CertificateQuery& query);
  Reply auditPage(const std::optional<Identity>& identity);
  Reply fleetPage(const std::optional<Identity>& identity);
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
  // GET /api/v1/certificates: one page, as the status page's table.
  Reply certificatesJson(const storage::CertificateQuery& query);
  Reply auditJson();
  Reply fleetJson();

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

// Distinguishes "who are you?" (401) from "not allowed" (403) for the edge.
class Unauthorised : public std::runtime_error {
 public:
  Unauthorised(HTTPResponse::HTTPStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  HTTPResponse::HTTPStatus status() const { return status_; }

 private:
  HTTPResponse::HTTPStatus status_;
};

}  // namespace certbridge::web
