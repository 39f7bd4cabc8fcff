#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Message.h>

#include <string>
#include <string_view>

namespace certbridge::agent {

// `text` with every control character written out: CR, LF and tab as \r, \n and \t, the others
// (and DEL) as \xHH. Store nicknames, subjects, URLs and nginx's output come from outside; one
// holding a line break must not be able to start a log line of its own. Backslashes are kept as
// they are (Windows paths stay readable): a forged line needs a real line break, and there is
// none left.
std::string escapeControlCharacters(std::string_view text);

// Passes every message on to `next` with its text escaped as above, so that no caller can forget
// it. Thread-safe as far as `next` is.
class ControlCharacterEscapingChannel final : public Poco::Channel {
 public:
  explicit ControlCharacterEscapingChannel(Poco::AutoPtr<Poco::Channel> next)
      : next_(std::move(next)) {}

  void open() override { next_->open(); }
  void close() override { next_->close(); }
  void log(const Poco::Message& message) override;

 private:
  Poco::AutoPtr<Poco::Channel> next_;
};

}  // namespace certbridge::agent
