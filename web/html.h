#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace certbridge::web {

// Escapes text for HTML element content and double-quoted attribute values. Every string that
// comes from a certificate (subjects are chosen by whoever made the certificate) goes through
// this before it reaches a page.
std::string escapeHtml(const std::string& text);

// HTML already made (by fillHtml or page code), which fillHtml inserts as it is.
struct RawHtml {
  std::string html;
};

// One value for a template: text (escaped on the way in) or RawHtml (inserted as it is).
class HtmlValue {
 public:
  HtmlValue(const std::string& text) : html_(escapeHtml(text)) {}  // NOLINT: implicit on purpose
  HtmlValue(const char* text) : html_(escapeHtml(text)) {}         // NOLINT
  HtmlValue(RawHtml raw) : html_(std::move(raw.html)) {}           // NOLINT
  const std::string& html() const { return html_; }

 private:
  std::string html_;
};

// The pages' template helper: `pattern` with each {name} replaced by the value of that name,
// escaped unless it is RawHtml, so that no page builds markup from text it forgot to escape.
// Throws std::logic_error for a {name} without a value (a bug in the page, not in the input).
std::string fillHtml(std::string_view pattern,
                     std::initializer_list<std::pair<std::string_view, HtmlValue>> values);

// Where the page's own style sheet and filter script are served: files, not inline, so that
// the Content-Security-Policy needs no 'unsafe-inline'.
constexpr const char* kStyleSheetPath = "/static/certbridge.css";
constexpr const char* kFilterScriptPath = "/static/filter.js";
const std::string& styleSheet();
// Filters the rows of #certificates by the text typed into #filter.
const std::string& filterScript();

// A whole page: the house layout with its own CSS (no external assets), a title, a navigation
// bar (with a logout form carrying `csrf_token` when signed in) and `body` (already HTML).
std::string page(const std::string& title, const std::string& body, bool signed_in,
                 const std::string& csrf_token);

}  // namespace certbridge::web
