#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "storage/password.h"
#include "tests/integration/mtls_edge.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"

namespace certbridge::testing {
namespace {

ShellResult run(const std::string& arguments) {
  return shell(quoted(certbridgeBinary()) + " " + arguments);
}

TEST(Cli, HelpForEveryCommand) {
  const ShellResult main_help = run("--help");
  EXPECT_EQ(main_help.exit_code, 0);
  EXPECT_NE(main_help.output.find("Usage: certbridge [--config FILE] COMMAND"), std::string::npos);
  for (const char* command : {"run", "sync", "status", "crl", "doctor"}) {
    const ShellResult help = run(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.output.find(std::string("certbridge [--config FILE] ") + command),
              std::string::npos)
        << help.output;
  }
  EXPECT_EQ(run("--version").output, "certbridge 0.1.0\n");
}

TEST(Cli, UsageErrorsExitTwoWithAReason) {
  const struct {
    const char* arguments;
    const char* reason;
  } cases[] = {
      {"", "no command given"},
      {"--frobnicate sync --once", "unknown option '--frobnicate'"},
      {"launch", "unknown command 'launch'"},
      {"sync", "'sync' needs --once"},
      {"sync --twice", "'sync' does not take '--twice'"},
      {"status --yaml", "'status' does not take '--yaml'"},
      {"--config", "--config needs a file name"},
  };
  for (const auto& usage : cases) {
    const ShellResult result = run(usage.arguments);
    EXPECT_EQ(result.exit_code, 2) << usage.arguments;
    EXPECT_NE(result.output.find(usage.reason), std::string::npos) << result.output;
  }
}

// README: "one line from a pipe: printf '%s\n' "$PW" | certbridge hash-password" prints the
// PBKDF2-SHA256 hash for [web] admin_password_hash.
TEST(Cli, HashPasswordReadsOneLineFromAPipeAndPrintsAHashTheLoginAccepts) {
  const std::string password = "correct horse battery";
  const ShellResult hashed = shell("printf '%s\\n' " + quoted(password) + " 'a second line' | " +
                                   quoted(certbridgeBinary()) + " hash-password");
  ASSERT_EQ(hashed.exit_code, 0) << hashed.output;
  // Only the hash and its line break: nothing to trim before pasting it into the .ini.
  EXPECT_TRUE(std::regex_match(hashed.output,
                               std::regex("pbkdf2-sha256\\$[0-9]+\\$[0-9a-f]{32}\\$[0-9a-f]+\n")))
      << hashed.output;
  const std::string hash = hashed.output.substr(0, hashed.output.size() - 1);
  EXPECT_TRUE(storage::isPasswordHash(hash)) << hash;
  EXPECT_TRUE(storage::verifyPassword(password, hash)) << "the web login checks it this way";
  EXPECT_FALSE(storage::verifyPassword("a second line", hash)) << "only the first line is read";
  EXPECT_FALSE(storage::verifyPassword(password + "\n", hash)) << "the line break is not kept";
}

TEST(Cli, HashPasswordRefusesAPasswordShorterThanEightCharacters) {
  const ShellResult refused =
      shell("printf '%s\\n' 'seven77' | " + quoted(certbridgeBinary()) + " hash-password");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("the password needs at least 8 characters"), std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.output.find("pbkdf2"), std::string::npos) << "no hash printed";
  const ShellResult eight =
      shell("printf '%s\\n' 'eight888' | " + quoted(certbridgeBinary()) + " hash-password");
  EXPECT_EQ(eight.exit_code, 0) << eight.output;
  EXPECT_TRUE(storage::verifyPassword("eight888", eight.output.substr(0, eight.output.find('\n'))));
}

TEST(Cli, ConfigurationErrorsNameTheFileAndKey) {
  TempDir dir;
  writeFile(dir.file("bad.ini"), "[store.main]\ntype = nss\npath = sql:/x\npolicy = often\n");
  const ShellResult result = run("--config " + dir.file("bad.ini") + " sync --once");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find(dir.file("bad.ini") + ": key 'store.main.policy' is 'often'; "
                                                     "expected auto or manual"),
            std::string::npos)
      << result.output;

  const ShellResult missing = run("--config " + dir.file("absent.ini") + " status");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("cannot read configuration file " + dir.file("absent.ini")),
            std::string::npos)
      << missing.output;
}

using StatusCommand = MtlsEdge;

TEST_F(StatusCommand, ShowsTrustExpiryAndLastResults) {
  publishAndStartNginx();
  const ShellResult text = certbridge("status");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("demo  nss:sql:" + nssdb() + "  policy auto"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("Last publish: "), std::string::npos);
  EXPECT_NE(text.output.find("published"), std::string::npos);
  EXPECT_NE(text.output.find("CN=alice,O=certbridge demo [demo/alice]"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("trusted"), std::string::npos);

  const ShellResult json = certbridge("status --json");
  EXPECT_EQ(json.exit_code, 0);
  writeFile(root_.file("status.json"), json.output);
  const ShellResult parsed = shell(
      "python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); "
      "a=[c for c in s[\"certificates\"] if c[\"subject\"].startswith(\"CN=alice\")][0]; "
      "print(a[\"trust\"], a[\"role\"], 360 <= a[\"days_left\"] <= 365, len(a[\"sha1\"]), "
      "s[\"last_publish\"][\"result\"], s[\"stores\"][0][\"last_sync_ok\"])' " +
      root_.file("status.json"));
  EXPECT_EQ(parsed.output, "trusted client True 40 published True\n") << json.output;
}

// A store nickname is text from outside: one holding a line break must not forge a log line.
// The certificate goes into a real NSS database under such a nickname with certutil, and the real
// binary logs its arrival.
TEST_F(StatusCommand, ANicknameWithALineBreakCannotForgeALogLine) {
  ASSERT_EQ(demoPki("client", "dave intermediate").exit_code, 0);
  const std::string forged = "2026-01-01 00:00:00 Critical: forged by a nickname";
  const ShellResult imported =
      shell("certutil -A -d " + quoted("sql:" + nssdb()) + " -t ,, -i " + quoted(pki("dave.pem")) +
            " -n \"$(printf 'dave\\r\\n%s' " + quoted(forged) + ")\"");
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  ASSERT_NE(shell("certutil -L -d " + quoted("sql:" + nssdb())).output.find("Critical: forged"),
            std::string::npos)
      << "NSS kept the nickname with its line break";

  const ShellResult synced = certbridge("sync --once");
  EXPECT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_NE(synced.output.find("dave\\r\\n" + forged), std::string::npos)
      << "the nickname is logged, escaped:\n"
      << synced.output;
  std::istringstream lines(synced.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_FALSE(line.starts_with(forged)) << synced.output;
    EXPECT_EQ(line.find('\r'), std::string::npos) << synced.output;
  }
}

// [storage] history_days: attempts older than that are deleted when a sync records its own, and
// what they counted is kept for /metrics' counters.
TEST_F(StatusCommand, OldPublishAttemptsArePrunedAfterHistoryDays) {
  ASSERT_EQ(shell("sed -i 's/^busy_timeout_ms = .*/&\\nhistory_days = 1/' " + quoted(configFile()))
                .exit_code,
            0);
  ASSERT_NE(readFile(configFile()).find("\nhistory_days = 1\n"), std::string::npos);
  ASSERT_EQ(certbridge("sync --once").exit_code, 0);
  const std::string two_days_ago = "(strftime('%s', 'now') - 2 * 86400)";
  ASSERT_EQ(shell("sqlite3 " + quoted(database()) +
                  " \"INSERT INTO publish_history (at, result, client_ca_sha256, "
                  "clients_map_sha256, mtls_conf_sha256, detail) VALUES (" +
                  two_days_ago + ", 'published', '', '', '', 'old'), (" + two_days_ago +
                  ", 'failed', '', '', '', 'old'), (" + two_days_ago +
                  ", 'unchanged', '', '', '', 'old')\"")
                .exit_code,
            0);
  // The next sync publishes a change, so that the old rows are neither the last attempt nor the
  // last change.
  ASSERT_EQ(demoPki("remove", "carol").exit_code, 0);
  const ShellResult synced = certbridge("sync --once");
  ASSERT_EQ(synced.exit_code, 0) << synced.output;
  EXPECT_EQ(shell("sqlite3 " + quoted(database()) +
                  " \"SELECT COUNT(*) FROM publish_history WHERE detail = 'old'\"")
                .output,
            "0\n");
  EXPECT_EQ(shell("sqlite3 " + quoted(database()) +
                  " \"SELECT result, pruned FROM publish_totals ORDER BY result\"")
                .output,
            "failed|1\npublished|1\nunchanged|1\n");
  const ShellResult status = certbridge("status");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("Last publish: "), std::string::npos) << status.output;
}

}  // namespace
}  // namespace certbridge::testing
