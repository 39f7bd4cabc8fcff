#include "web/web_app.h"

namespace certbridge::web {

namespace {

// Bodies up to this size are read and dropped before a 413, so that the client, still sending,
// sees the answer instead of a reset connection. Larger ones are cut off.
constexpr std::uint64_t kDrainLimit = 8 * 1024 * 1024;

std::string readBody(HTTPServerRequest& request, std::size_t limit) {
  if (request.hasContentLength() &&
      static_cast<std::uint64_t>(request.getContentLength64()) > limit) {
    if (static_cast<std::uint64_t>(request.getContentLength64()) <= kDrainLimit) {
      request.stream().ignore(std::numeric_limits<std::streamsize>::max());
    }
    throw BodyTooLarge("request body of " + std::to_string(request.getContentLength64()) +
                       " bytes is over the limit of " + std::to_string(limit));
  }
  std::string body;
  std::vector<char> chunk(16 * 1024);
  std::istream& stream = request.stream();
  while (stream) {
    stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    body.append(chunk.data(), static_cast<std::size_t>(stream.gcount()));
    if (body.size() > limit) {
      throw BodyTooLarge("request body is over the limit of " + std::to_string(limit) + " bytes");
    }
  }
  // The stream ends early, without an exception, when a read times out or the client closes.
  if (request.hasContentLength() &&
      body.size() < static_cast<std::uint64_t>(request.getContentLength64())) {
    throw IncompleteBody("the request body ended before its Content-Length of " +
                         std::to_string(request.getContentLength64()) +
                         " bytes: nothing came for too long, or the client closed");
  }
  return body;
}

}  // namespace

void WebApp::handle(HTTPServerRequest& request, HTTPServerResponse& response) {
  Reply reply;
  const std::string path = Poco::URI(request.getURI()).getPath();
  const bool wants_json = path.starts_with("/api/");
  try {
    const std::string body = readBody(request, settings_.max_body);
    reply = route(request, body);
  } catch (const IncompleteBody& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_REQUEST_TIMEOUT, error.what())
                       : Reply{HTTPResponse::HTTP_REQUEST_TIMEOUT, "text/plain; charset=utf-8",
                               std::string(error.what()) + "\n"};
  } catch (const BodyTooLarge& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, error.what())
                       : Reply{HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE,
                               "text/plain; charset=utf-8", std::string(error.what()) + "\n"};
  } catch (const Unauthorised& error) {
    if (!wants_json && error.status() == HTTPResponse::HTTP_UNAUTHORIZED) {
      reply = redirect("/login");
    } else {
      reply = wants_json ? jsonError(error.status(), error.what())
                         : Reply{error.status(), "text/plain; charset=utf-8",
                                 std::string(error.what()) + "\n"};
    }
  } catch (const MalformedRequest& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_BAD_REQUEST, error.what())
                       : Reply{HTTPResponse::HTTP_BAD_REQUEST, "text/plain; charset=utf-8",
                               std::string(error.what()) + "\n"};
  } catch (const BadInput& error) {
    reply = wants_json ? jsonError(HTTPResponse::HTTP_BAD_REQUEST, error.what())
                       : redirect("/?message=" + urlEncoded(error.what()));
  } catch (const std::exception& error) {
    logger_.error("web: %s %s failed: %s", request.getMethod(), path, std::string(error.what()));
    reply = wants_json
                ? jsonError(HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, error.what())
                : Reply{HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                        "certbridge could not answer: " + std::string(error.what()) + "\n"};
  }

  response.setStatusAndReason(reply.status, reasonPhrase(reply.status));
  if (reply.status == HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE ||
      reply.status == HTTPResponse::HTTP_REQUEST_TIMEOUT) {
    response.setKeepAlive(false);  // the rest of the body may still come
  }
  response.setContentType(reply.content_type);
  // Nothing on these pages comes from elsewhere, and nothing inline runs: the style sheet and
  // the filter script are served files, so injected markup could neither run nor restyle.
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  response.set("Cache-Control", "no-store");
  for (Poco::Net::HTTPCookie& cookie : reply.cookies) {
    response.addCookie(cookie);
  }
  if (!reply.location.empty()) {
    response.set("Location", reply.location);
  }
  response.setContentLength64(static_cast<Poco::Int64>(reply.body.size()));
  if (request.getMethod() == "HEAD") {
    response.send();
    return;
  }
  response.send() << reply.body;
}

namespace {

class AppHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit AppHandler(std::shared_ptr<WebApp> app) : app_(std::move(app)) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    app_->handle(request, response);
  }

 private:
  std::shared_ptr<WebApp> app_;
};

class AppHandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit AppHandlerFactory(std::shared_ptr<WebApp> app) : app_(std::move(app)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new AppHandler(app_);  // Poco's interface: the caller owns and deletes the handler
  }

 private:
  std::shared_ptr<WebApp> app_;
};

// Tells whether Poco has already read part of the next request into its buffer: such a
// connection cannot go back to the gate, which only sees what is still in the socket.
class RequestSession final : public Poco::Net::HTTPServerSession {
 public:
  using HTTPServerSession::HTTPServerSession;
  bool holdsUnreadInput() const { return buffered() > 0; }
};

}  // namespace

// Poco's HTTP request parsing and response writing, one request per call from the
// ConnectionGate (as Poco's HTTPServerConnection does for a whole connection).
class PocoServer {
 public:
  PocoServer(const Poco::Net::ServerSocket& socket, std::shared_ptr<WebApp> app,
             const WebSettings& settings, Poco::Logger& logger)
      : parameters_(Poco::makeAuto<Poco::Net::HTTPServerParams>()), factory_(std::move(app)) {
    parameters_->setTimeout(Poco::Timespan(settings.request_timeout.count(), 0));
    parameters_->setKeepAlive(true);
    parameters_->setServerName("certbridge");
    ConnectionLimits limits = settings.connection_limits;
    limits.threads = settings.threads;
    gate_ = std::make_unique<ConnectionGate>(
        socket, limits, settings.trusted_proxies,
        [this](const Poco::Net::StreamSocket& connection) { return serveOne(connection); }, logger);
  }
  ~PocoServer() { gate_->stop(); }
  void start() { gate_->start(); }

 private:
  // True when the connection may carry another request.
  bool serveOne(const Poco::Net::StreamSocket& connection) {
    // Poco's server session only keeps these for its own polls: every read and write of the
    // body and the response gets them here.
    Poco::Net::StreamSocket socket(connection);
    socket.setReceiveTimeout(parameters_->getTimeout());
    socket.setSendTimeout(parameters_->getTimeout());
    RequestSession session(socket, parameters_);
    const bool keep = serveOne(session);
    if (keep) {
      session.detachSocket();  // a session closes its socket when it ends
    }
    return keep;
  }

  bool serveOne(RequestSession& session) {
    // Request and response end (and flush) before the connection goes back to the gate.
    Poco::Net::HTTPServerResponseImpl response(session);
    try {
      Poco::Net::HTTPServerRequestImpl request(response, session, parameters_.get());
      response.setDate(Poco::Timestamp());
      response.setVersion(request.getVersion());
      response.setKeepAlive(request.getKeepAlive());
      response.set("Server", "certbridge");
      if (request.getExpectContinue()) {
        response.sendContinue();
      }
      const std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          factory_.createRequestHandler(request));
      handler->handleRequest(request, response);
      return response.getKeepAlive() && !session.holdsUnreadInput();
    } catch (const Poco::Net::NoMessageException&) {
      return false;  // closed before sending a request
    } catch (const Poco::Net::MessageException&) {
      if (!response.sent()) {
        response.setStatusAndReason(HTTPResponse::HTTP_BAD_REQUEST);
        response.setKeepAlive(false);
        response.setContentLength(0);
        response.send();
      }
      return false;
    }
  }

  Poco::Net::HTTPServerParams::Ptr parameters_;
  AppHandlerFactory factory_;
  std::unique_ptr<ConnectionGate> gate_;
};

WebServer::WebServer(WebSettings settings, storage::Database& database, AgentControl& agent,
                     Poco::Logger& logger)
    : settings_(std::move(settings)),
      app_(std::make_shared<WebApp>(settings_, database, agent, logger)),
      logger_(logger) {}

WebServer::~WebServer() {
  stop();
}

void WebServer::start() {
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(Poco::Net::SocketAddress(settings_.listen), true);
    socket.listen(64);
  } catch (const Poco::Exception& error) {
    throw std::runtime_error("cannot listen on " + settings_.listen +
                             " ([web] listen): " + error.displayText());
  }
  port_ = socket.address().port();
  server_ = std::make_unique<PocoServer>(socket, app_, settings_, logger_);
  server_->start();
}

void WebServer::stop() {
  server_.reset();
}

}  // namespace certbridge::web
