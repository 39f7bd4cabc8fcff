#include "agent/cli/log_text.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace certbridge::agent {
namespace {

TEST(EscapeControlCharacters, WritesOutEveryControlCharacter) {
  EXPECT_EQ(escapeControlCharacters("a\r\nb\tc"), "a\\r\\nb\\tc");
  EXPECT_EQ(escapeControlCharacters(std::string("\x1b[31m\x7f\0z", 8)), "\\x1b[31m\\x7f\\x00z");
  EXPECT_EQ(escapeControlCharacters("C:\\ProgramData\\certbridge"), "C:\\ProgramData\\certbridge")
      << "backslashes stay: a forged line needs a real line break";
  EXPECT_EQ(escapeControlCharacters("CN=J\xc3\xa9r\xc3\xb4me"), "CN=J\xc3\xa9r\xc3\xb4me")
      << "UTF-8 is kept";
}

// Collects what reaches the end of the channel chain.
class RecordingChannel final : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override { texts.push_back(message.getText()); }
  std::vector<std::string> texts;
};

TEST(ControlCharacterEscapingChannel, EscapesWhatAnyCallerLogs) {
  const auto recording = Poco::makeAuto<RecordingChannel>();
  Poco::Logger& logger = Poco::Logger::get("log_text_test");
  logger.setChannel(Poco::makeAuto<ControlCharacterEscapingChannel>(recording));
  logger.warning("store %s: added %s", std::string("demo"), std::string("dave\nforged line"));
  ASSERT_EQ(recording->texts.size(), 1U);
  EXPECT_EQ(recording->texts.front(), "store demo: added dave\\nforged line");
}

}  // namespace
}  // namespace certbridge::agent
