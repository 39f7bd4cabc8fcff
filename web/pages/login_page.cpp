#include "web/web_app.h"

namespace certbridge::web {

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

}  // namespace certbridge::web
