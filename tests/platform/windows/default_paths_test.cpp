#include "platform/default_paths.h"

#include <gtest/gtest.h>

namespace certbridge::platform {
namespace {

// Under Wine as on Windows, %ProgramData% is C:\ProgramData unless moved.
TEST(DefaultPaths, ConfigurationAndStateLiveUnderProgramData) {
  EXPECT_EQ(defaultConfigFile(), "C:\\ProgramData\\certbridge\\certbridge.ini");
  EXPECT_EQ(defaultStateDirectory(), "C:\\ProgramData\\certbridge");
}

}  // namespace
}  // namespace certbridge::platform
