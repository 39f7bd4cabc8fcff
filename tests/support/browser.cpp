#include "tests/support/browser.h"

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/shell.h"

namespace certbridge::testing {
namespace {

constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

}  // namespace

Browser::Browser() : port_(freeLoopbackPort()) {
  const ShellResult started =
      shell("chromedriver --port=" + std::to_string(port_) + " --allowed-ips=127.0.0.1 " + "> " +
            quoted(profile_.file("chromedriver.log")) + " 2>&1 & echo $!");
  driver_pid_ = std::stoi(started.output);
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (shell("curl -s -o /dev/null http://127.0.0.1:" + std::to_string(port_) + "/status")
            .exit_code == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Poco::JSON::Array arguments;
  // Headless, and quiet: this machine has no network beyond loopback.
  for (const std::string& argument : std::vector<std::string>{
           "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-quic", "--no-first-run", "--window-size=1400,900",
           "--user-data-dir=" + profile_.file("profile")}) {
    arguments.add(argument);
  }
  Poco::JSON::Object chrome_options;
  chrome_options.set("binary", "/usr/bin/chromium");
  chrome_options.set("args", arguments);
  Poco::JSON::Object always_match;
  always_match.set("browserName", "chrome");
  always_match.set("goog:chromeOptions", chrome_options);
  Poco::JSON::Object capabilities;
  capabilities.set("alwaysMatch", always_match);
  Poco::JSON::Object body;
  body.set("capabilities", capabilities);
  session_ =
      command("POST", "/session", body)->getObject("value")->getValue<std::string>("sessionId");
  // Element lookups wait for the page that a click or a form submission is still loading.
  Poco::JSON::Object timeouts;
  timeouts.set("implicit", 10000);
  command("POST", "/session/" + session_ + "/timeouts", timeouts);
}

Browser::~Browser() {
  try {
    if (!session_.empty()) {
      command("DELETE", "/session/" + session_, Poco::JSON::Object());
    }
  } catch (const std::exception&) {
    // the driver is stopped below whatever the browser says
  }
  if (driver_pid_ > 0) {
    ::kill(driver_pid_, SIGTERM);
  }
}

Poco::JSON::Object::Ptr Browser::command(const std::string& method, const std::string& path,
                                         const Poco::JSON::Object& body) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  std::ostringstream json;
  body.stringify(json);
  const std::string payload = method == "GET" ? "" : json.str();
  request.setContentType("application/json");
  request.setContentLength64(static_cast<Poco::Int64>(payload.size()));
  session.sendRequest(request) << payload;
  Poco::Net::HTTPResponse response;
  std::string text;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), text);
  const auto parsed = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
  if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
    throw std::runtime_error("WebDriver " + method + " " + path + " failed: " + text);
  }
  return parsed;
}

void Browser::open(const std::string& url) {
  Poco::JSON::Object body;
  body.set("url", url);
  command("POST", "/session/" + session_ + "/url", body);
}

std::string Browser::find(const std::string& css) {
  Poco::JSON::Object body;
  body.set("using", "css selector");
  body.set("value", css);
  return command("POST", "/session/" + session_ + "/element", body)
      ->getObject("value")
      ->getValue<std::string>(kElementKey);
}

void Browser::type(const std::string& element, const std::string& text) {
  Poco::JSON::Object body;
  body.set("text", text);
  command("POST", "/session/" + session_ + "/element/" + element + "/value", body);
}

void Browser::click(const std::string& element) {
  command("POST", "/session/" + session_ + "/element/" + element + "/click", Poco::JSON::Object());
}

std::string Browser::text(const std::string& element) {
  return command("GET", "/session/" + session_ + "/element/" + element + "/text",
                 Poco::JSON::Object())
      ->getValue<std::string>("value");
}

std::string Browser::source() {
  return command("GET", "/session/" + session_ + "/source", Poco::JSON::Object())
      ->getValue<std::string>("value");
}

std::string Browser::currentUrl() {
  return command("GET", "/session/" + session_ + "/url", Poco::JSON::Object())
      ->getValue<std::string>("value");
}

bool Browser::waitForUrl(const std::string& url) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (currentUrl() == url) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string Browser::script(const std::string& javascript) {
  Poco::JSON::Object body;
  body.set("script", javascript);
  body.set("args", Poco::JSON::Array());
  const auto result = command("POST", "/session/" + session_ + "/execute/sync", body);
  return result->get("value").toString();
}

void Browser::screenshot(const std::string& png_path) {
  const std::string base64 =
      command("GET", "/session/" + session_ + "/screenshot", Poco::JSON::Object())
          ->getValue<std::string>("value");
  std::istringstream encoded(base64);
  Poco::Base64Decoder decoder(encoded);
  std::ofstream file(png_path, std::ios::binary);
  Poco::StreamCopier::copyStream(decoder, file);
}

}  // namespace certbridge::testing
