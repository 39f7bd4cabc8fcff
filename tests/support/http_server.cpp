#include "tests/support/http_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include <thread>

namespace certbridge::testing {
namespace {

class ReplyHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ReplyHandler(TestHttpServer& server) : server_(server) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    // Counted for the whole call, also when writing to a client that left throws.
    struct Active {
      std::atomic<int>& count;
      explicit Active(std::atomic<int>& c) : count(c) { ++count; }
      ~Active() { --count; }
    } active(server_.activeHandlers());
    HttpReply reply = server_.replyFor(request.getURI());
    server_.pause(reply.delay);
    if (reply.echo_headers) {
      std::string text;
      for (const auto& [name, value] : request) {
        text += name + ": " + value + "\n";
      }
      reply.body.assign(text.begin(), text.end());
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    for (const auto& [name, value] : reply.headers) {
      response.set(name, value);
    }
    response.setContentLength64(static_cast<Poco::Int64>(reply.body.size()));
    std::ostream& body = response.send();
    body.write(reinterpret_cast<const char*>(reply.body.data()),
               static_cast<std::streamsize>(reply.body.size()));
  }

 private:
  TestHttpServer& server_;
};

class ReplyFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit ReplyFactory(TestHttpServer& server) : server_(server) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new ReplyHandler(server_);  // Poco's interface: the server takes ownership
  }

 private:
  TestHttpServer& server_;
};

}  // namespace

TestHttpServer::TestHttpServer() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  port_ = socket.address().port();
  auto parameters = Poco::makeAuto<Poco::Net::HTTPServerParams>();
  parameters->setMaxThreads(8);
  server_ = std::make_unique<Poco::Net::HTTPServer>(Poco::makeShared<ReplyFactory>(*this), socket,
                                                    parameters);
  server_->start();
}

// Poco does not wait for handler threads to finish; a handler still running would touch a
// destroyed server.
TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  server_->stopAll(true);
  while (active_handlers_.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let Poco finish the connection
}

void TestHttpServer::pause(std::chrono::milliseconds delay) const {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (!stopping_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string TestHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void TestHttpServer::set(const std::string& path, HttpReply reply) {
  set(path, std::function<HttpReply()>([reply] { return reply; }));
}

void TestHttpServer::set(const std::string& path, std::function<HttpReply()> reply) {
  const std::lock_guard lock(mutex_);
  replies_[path] = std::move(reply);
}

int TestHttpServer::requests(const std::string& path) const {
  const std::lock_guard lock(mutex_);
  const auto found = requests_.find(path);
  return found == requests_.end() ? 0 : found->second;
}

HttpReply TestHttpServer::replyFor(const std::string& path) {
  std::function<HttpReply()> reply;
  {
    const std::lock_guard lock(mutex_);
    ++requests_[path];
    const auto found = replies_.find(path);
    if (found == replies_.end()) {
      return HttpReply{.status = 404, .body = {'n', 'o'}};
    }
    reply = found->second;
  }
  return reply();
}

}  // namespace certbridge::testing
