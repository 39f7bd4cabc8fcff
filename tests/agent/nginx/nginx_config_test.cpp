#include "agent/nginx/nginx_config.h"

#include <gtest/gtest.h>

namespace certbridge::agent {
namespace {

// What `nginx -T` prints: its own two lines on stderr, then each file after a marker line and
// followed by one line feed.
std::string dump(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string text =
      "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"
      "nginx: configuration file /etc/nginx/nginx.conf test is successful\n";
  for (const auto& [path, content] : files) {
    text += "# configuration file " + path + ":\n" + content + "\n";
  }
  return text;
}

TEST(NginxConfig, IncludesAreExpandedInPlaceInSortedOrder) {
  const NginxConfig config = parseNginxDump(
      dump({{"/etc/nginx/nginx.conf",
             "user www-data;\nhttp {\n    include conf.d/*.conf;\n    server_tokens off;\n}\n"},
            {"/etc/nginx/conf.d/b.conf", "server { listen 443 ssl; }"},
            {"/etc/nginx/conf.d/a.conf", "map $a $b {\n  default 0;\n}\n"},
            {"/etc/nginx/other/c.conf", "server { listen 8443; }"},
            {"/etc/nginx/conf.d/sub/d.conf", "server { listen 9443; }"}}));
  EXPECT_EQ(config.main_file, "/etc/nginx/nginx.conf");
  ASSERT_EQ(config.root.children.size(), 2u);
  const NginxDirective& http = config.root.children[1];
  ASSERT_EQ(http.children.size(), 3u);
  EXPECT_EQ(http.children[0].name, "map");
  EXPECT_EQ(http.children[0].where(), "/etc/nginx/conf.d/a.conf:1");
  EXPECT_EQ(http.children[1].name, "server");
  EXPECT_EQ(http.children[1].find("listen")->arguments, (std::vector<std::string>{"443", "ssl"}));
  EXPECT_EQ(http.children[2].where(), "/etc/nginx/nginx.conf:4");
  EXPECT_EQ(config.resolve("certs/ca.pem"), "/etc/nginx/certs/ca.pem");
  EXPECT_EQ(config.resolve("/abs/ca.pem"), "/abs/ca.pem");
}

TEST(NginxConfig, QuotesEscapesCommentsAndVariablesAreReadAsNginxDoes) {
  const NginxConfig config =
      parseNginxDump(dump({{"/n/nginx.conf",
                            "# a comment; with { braces }\n"
                            "server {\n"
                            "  ssl_client_certificate \"/etc/my certs/ca;1.pem\";  # trailing\n"
                            "  add_header X-Test 'it\\'s' always;\n"
                            "  set $x ${host}suffix;\n"
                            "  if ($certbridge_client = \"\") {\n"
                            "    return 403;\n"
                            "  }\n"
                            "}\n"}}));
  const NginxDirective& server = config.root.children.at(0);
  EXPECT_EQ(server.find("ssl_client_certificate")->arguments.at(0), "/etc/my certs/ca;1.pem");
  EXPECT_EQ(server.find("ssl_client_certificate")->line, 3);
  EXPECT_EQ(server.find("add_header")->arguments.at(1), "it's");
  EXPECT_EQ(server.find("set")->arguments.at(1), "${host}suffix");
  const NginxDirective* condition = server.find("if");
  ASSERT_NE(condition, nullptr);
  EXPECT_TRUE(condition->is_block);
  EXPECT_EQ(condition->arguments.at(0), "($certbridge_client");
  EXPECT_EQ(condition->find("return")->arguments.at(0), "403");
}

TEST(NginxConfig, LastOfRepeatedDirectivesWins) {
  const NginxConfig config =
      parseNginxDump(dump({{"/n/nginx.conf", "ssl_verify_depth 1;\nssl_verify_depth 3;\n"}}));
  EXPECT_EQ(config.root.find("ssl_verify_depth")->arguments.at(0), "3");
  EXPECT_EQ(config.root.find("absent"), nullptr);
}

TEST(NginxConfig, BrokenTextIsNamedByFileAndLine) {
  try {
    parseNginxDump(dump({{"/n/nginx.conf", "http {\n  server {\n    listen 443\n  }\n"}}));
    FAIL() << "accepted an unterminated directive";
  } catch (const NginxConfigError& error) {
    EXPECT_STREQ(error.what(), "/n/nginx.conf:3: \"listen\" is not terminated by \";\"");
  }
  EXPECT_THROW(parseNginxDump(dump({{"/n/nginx.conf", "http {\n"}})), NginxConfigError);
  EXPECT_THROW(parseNginxDump(dump({{"/n/nginx.conf", "}\n"}})), NginxConfigError);
  EXPECT_THROW(parseNginxDump(dump({{"/n/nginx.conf", "a \"open;\n"}})), NginxConfigError);
  EXPECT_THROW(parseNginxDump("nginx: [emerg] something\n"), NginxConfigError);
}

TEST(NginxConfig, IncludeLoopIsAnErrorNotAHang) {
  EXPECT_THROW(parseNginxDump(dump({{"/n/nginx.conf", "include a.conf;"},
                                    {"/n/a.conf", "include b.conf;"},
                                    {"/n/b.conf", "include a.conf;"}})),
               NginxConfigError);
}

TEST(NginxConfig, IncludePatternsMatchAsGlobDoes) {
  const NginxConfig config = parseNginxDump(
      dump({{"/n/nginx.conf", "include sites/[a-b]?.conf;\ninclude sites/[!a-b]*;\n"},
            {"/n/sites/a1.conf", "one;"},
            {"/n/sites/b22.conf", "never;"},
            {"/n/sites/c.conf", "two;"},
            {"/n/sites/x/d.conf", "never;"}}));
  std::vector<std::string> names;
  for (const NginxDirective& directive : config.root.children) {
    names.push_back(directive.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"one", "two"}));
}

// Found by fuzzing (tests/fuzz/corpus/nginx_config_fuzz/regression-*): each of these once
// overflowed the stack, ran for minutes or grew without bound.
TEST(NginxConfig, CraftedDumpsGetAnErrorNotACrashOrAHang) {
  std::string deep;
  for (int level = 0; level < 20000; ++level) {
    deep += "a{";
  }
  try {
    parseNginxDump(dump({{"/n/nginx.conf", deep}}));
    ADD_FAILURE() << "20000 nested blocks were accepted";
  } catch (const NginxConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("blocks nest deeper than 100 levels"),
              std::string::npos)
        << error.what();
  }

  std::vector<std::pair<std::string, std::string>> doubling{{"/n/nginx.conf", "include f0;"}};
  for (int level = 0; level < 30; ++level) {
    const std::string next = "f" + std::to_string(level + 1);
    doubling.emplace_back("/n/f" + std::to_string(level),
                          "include " + next + "; include " + next + ";");
  }
  doubling.emplace_back("/n/f30", "x;");
  EXPECT_THROW(parseNginxDump(dump(doubling)), NginxConfigError);
}

TEST(NginxConfig, IncludePatternsWithManyStarsMatchWithoutBacktrackingForever) {
  const NginxConfig config = parseNginxDump(
      dump({{"/n/nginx.conf", "include " + std::string(40, '*') + "x;\ninclude s/*a*b*c*.conf;\n"},
            {"/n/" + std::string(200, 'a'), "never;"},
            {"/n/" + std::string(200, 'a') + "x", "one;"},
            {"/n/s/xaybzc.conf", "two;"},
            {"/n/s/abc", "never;"},
            {"/n/s/a/b/c.conf", "never;"}}));
  std::vector<std::string> names;
  for (const NginxDirective& directive : config.root.children) {
    names.push_back(directive.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"one", "two"}));
}

}  // namespace
}  // namespace certbridge::agent
