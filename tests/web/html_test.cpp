#include "web/html.h"

#include <gtest/gtest.h>

namespace certbridge::web {
namespace {

TEST(Html, EscapesEverythingThatCouldOpenMarkup) {
  EXPECT_EQ(escapeHtml("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
}

}  // namespace
}  // namespace certbridge::web
