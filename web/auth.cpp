#include "web/web_app.h"

namespace certbridge::web {

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

}  // namespace certbridge::web
