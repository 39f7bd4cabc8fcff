#pragma once

#include <string>

namespace certbridge::web {

// Escapes text for HTML element content and double-quoted attribute values. Every string that
// comes from a certificate (subjects are chosen by whoever made the certificate) goes through
// this before it reaches a page.
std::string escapeHtml(const std::string& text);

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
