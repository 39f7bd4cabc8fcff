#pragma once

#include <string>

namespace certbridge::web {

// Escapes text for HTML element content and double-quoted attribute values. Every string that
// comes from a certificate (subjects are chosen by whoever made the certificate) goes through
// this before it reaches a page.
std::string escapeHtml(const std::string& text);

// A whole page: the house layout with its own CSS (no external assets), a title, a navigation
// bar (with a logout form carrying `csrf_token` when signed in) and `body` (already HTML).
std::string page(const std::string& title, const std::string& body, bool signed_in,
                 const std::string& csrf_token);

}  // namespace certbridge::web
