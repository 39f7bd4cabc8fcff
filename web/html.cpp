#include "web/html.h"

#include <stdexcept>

namespace certbridge::web {
namespace {

const std::string kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2125; background: #f6f7f9; }
header { background: #20303f; color: #fff; padding: 10px 20px; display: flex; gap: 20px;
         align-items: center; }
header a, header button { color: #fff; text-decoration: none; background: none; border: 0;
         font: inherit; cursor: pointer; }
header .brand { font-weight: 600; margin-right: auto; }
main { padding: 16px 20px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { background: #eef1f4; position: sticky; top: 0; }
td.fp { font-family: ui-monospace, monospace; font-size: 11px; word-break: break-all; max-width: 16em; }
.band { font-weight: 600; padding: 1px 6px; border-radius: 3px; white-space: nowrap; }
.band-expired { background: #7a1010; color: #fff; }
.band-week { background: #d93025; color: #fff; }
.band-month { background: #f5c242; color: #222; }
.band-fine { background: #cfe9d4; color: #14532d; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 10px;
           margin-bottom: 14px; }
.card { background: #fff; border: 1px solid #e3e6ea; border-radius: 4px; padding: 8px 12px; }
.ok { color: #14532d; } .bad { color: #a50e0e; font-weight: 600; } .warn { color: #8a5a00; }
.messages li { margin: 2px 0; }
pre { white-space: pre-wrap; background: #fff3f3; padding: 6px; }
form.inline { display: inline; }
input[type=search] { padding: 5px; width: 320px; margin-bottom: 8px; }
button.action { padding: 2px 8px; }
)css";

const std::string kFilterScript =
    R"js(document.getElementById('filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('#certificates tbody tr').forEach(function (row) {
    row.style.display = row.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
});
)js";

}  // namespace

const std::string& styleSheet() {
  return kStyle;
}

const std::string& filterScript() {
  return kFilterScript;
}

std::string escapeHtml(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped.push_back(c);
    }
  }
  return escaped;
}

std::string page(const std::string& title, const std::string& body, bool signed_in,
                 const std::string& csrf_token) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>" +
      escapeHtml(title) + " — certbridge</title><link rel=\"stylesheet\" href=\"" +
      kStyleSheetPath +
      "\"></head><body><header><span class=\"brand\">certbridge</span>"
      "<a href=\"/\">Status</a><a href=\"/audit\">Audit log</a>";
  if (signed_in) {
    html +=
        "<form class=\"inline\" method=\"post\" action=\"/logout\"><input type=\"hidden\" "
        "name=\"csrf\" value=\"" +
        escapeHtml(csrf_token) + "\"><button type=\"submit\">Log out</button></form>";
  } else {
    html += "<a href=\"/login\">Log in</a>";
  }
  html += "</header><main>" + body + "</main></body></html>\n";
  return html;
}

std::string fillHtml(std::string_view pattern,
                     std::initializer_list<std::pair<std::string_view, HtmlValue>> values) {
  std::string html;
  html.reserve(pattern.size() * 2);
  std::size_t at = 0;
  while (at < pattern.size()) {
    const std::size_t open = pattern.find('{', at);
    if (open == std::string_view::npos) {
      html.append(pattern.substr(at));
      break;
    }
    const std::size_t close = pattern.find('}', open);
    if (close == std::string_view::npos) {
      throw std::logic_error("HTML template with an unclosed '{': " + std::string(pattern));
    }
    html.append(pattern.substr(at, open - at));
    const std::string_view name = pattern.substr(open + 1, close - open - 1);
    const HtmlValue* value = nullptr;
    for (const auto& [key, candidate] : values) {
      if (key == name) {
        value = &candidate;
      }
    }
    if (value == nullptr) {
      throw std::logic_error("HTML template has no value for {" + std::string(name) + "}");
    }
    html.append(value->html());
    at = close + 1;
  }
  return html;
}

}  // namespace certbridge::web
