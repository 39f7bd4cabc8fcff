#pragma once

#include <Poco/JSON/Object.h>

#include <memory>
#include <string>

#include "tests/support/temp_dir.h"

namespace certbridge::testing {

// Headless Chromium driven through chromedriver's W3C WebDriver protocol (JSON over HTTP on
// 127.0.0.1). Starts chromedriver on a free port and one browser session; both end with the
// object. Throws std::runtime_error with chromedriver's message when a command fails.
class Browser {
 public:
  Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;
  ~Browser();

  void open(const std::string& url);
  // The first element matching the CSS selector; throws when there is none.
  std::string find(const std::string& css);
  void type(const std::string& element, const std::string& text);
  void click(const std::string& element);
  std::string text(const std::string& element);
  std::string source();
  std::string currentUrl();
  // Waits up to 10 s for the page at `url` (a click does not wait for the navigation it starts).
  bool waitForUrl(const std::string& url);
  // Runs JavaScript in the page and returns its result as JSON text.
  std::string script(const std::string& javascript);
  void screenshot(const std::string& png_path);

 private:
  Poco::JSON::Object::Ptr command(const std::string& method, const std::string& path,
                                  const Poco::JSON::Object& body);

  TempDir profile_;
  int port_ = 0;
  int driver_pid_ = 0;
  std::string session_;
};

}  // namespace certbridge::testing
