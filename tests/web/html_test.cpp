#include "web/html.h"

#include <gtest/gtest.h>

namespace certbridge::web {
namespace {

TEST(Html, EscapesEverythingThatCouldOpenMarkup) {
  EXPECT_EQ(escapeHtml("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
}

TEST(Html, TemplatesEscapeTextAndKeepRawHtml) {
  EXPECT_EQ(fillHtml("<td title=\"{name}\">{name}</td>{cell}",
                     {{"name", "<b>\"x\"</b>"}, {"cell", RawHtml{"<td>ok</td>"}}}),
            "<td title=\"&lt;b&gt;&quot;x&quot;&lt;/b&gt;\">&lt;b&gt;&quot;x&quot;&lt;/b&gt;</td>"
            "<td>ok</td>");
}

TEST(Html, ATemplateNameWithoutAValueIsABugThatSaysWhich) {
  try {
    fillHtml("<p>{missing}</p>", {});
    FAIL() << "no exception";
  } catch (const std::logic_error& error) {
    EXPECT_NE(std::string(error.what()).find("{missing}"), std::string::npos);
  }
}

}  // namespace
}  // namespace certbridge::web
