#include "web/request_body.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/PartHandler.h>

#include <sstream>
#include <string>
#include <typeinfo>

#include "web/agent_control.h"

namespace certbridge::web {
namespace {

constexpr int kFormFieldLimit = 100;

// Keeps the file parts of a multipart upload, capped like every body.
class UploadCollector final : public Poco::Net::PartHandler {
 public:
  explicit UploadCollector(std::size_t limit) : limit_(limit) {}
  void handlePart(const Poco::Net::MessageHeader&, std::istream& stream) override {
    std::string content;
    std::vector<char> chunk(16 * 1024);
    while (stream) {
      stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      content.append(chunk.data(), static_cast<std::size_t>(stream.gcount()));
      if (content.size() > limit_) {
        throw BodyTooLarge("upload larger than the limit");
      }
    }
    files.push_back(std::move(content));
  }
  std::vector<std::string> files;

 private:
  std::size_t limit_;
};

}  // namespace

FormBody parseFormBody(const std::string& content_type, const std::string& body,
                       std::size_t max_body) {
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/");
  request.setContentType(content_type);
  Poco::Net::HTMLForm form;
  form.setFieldLimit(kFormFieldLimit);
  UploadCollector uploads(max_body);
  std::istringstream stream(body);
  try {
    form.load(request, stream, uploads);
  } catch (const Poco::Exception& error) {
    // A bad %-escape, a broken multipart boundary, too many fields: the sender's mistake (400),
    // not the server's (500).
    throw BadInput("the form cannot be read (at most " + std::to_string(kFormFieldLimit) +
                   " fields): " + error.displayText());
  }
  FormBody parsed;
  parsed.fields = form;  // the fields alone; HTMLForm's own state is not needed past here
  parsed.files = std::move(uploads.files);
  return parsed;
}

std::string trustStateFromJson(const std::string& body) {
  Poco::Dynamic::Var parsed;
  try {
    parsed = Poco::JSON::Parser().parse(body);
  } catch (const Poco::Exception& error) {
    throw BadInput("body is not JSON: " + error.displayText());
  }
  // An array, a string or a number parses as JSON too, but is not the object asked for.
  if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
    throw BadInput("body is not a JSON object; expected {\"state\": \"trusted\"}");
  }
  const auto object = parsed.extract<Poco::JSON::Object::Ptr>();
  try {
    return object ? object->optValue<std::string>("state", "") : "";
  } catch (const Poco::Exception& error) {
    throw BadInput("\"state\" is not a string: " + error.displayText());
  }
}

}  // namespace certbridge::web
