#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/integration/mtls_edge.h"

namespace certbridge::testing {
namespace {

// Each failure must give a clear one-line reason, exit 1, and lose nothing: the published files
// stay byte for byte, nginx keeps serving, and the database still knows every certificate.
class SyncFailures : public MtlsEdge {
 protected:
  void SetUp() override {
    MtlsEdge::SetUp();
    publishAndStartNginx();
    bundle_ = readFile(out("client-ca.pem"));
    map_ = readFile(out("clients.map"));
  }

  void expectNothingLost() {
    EXPECT_EQ(readFile(out("client-ca.pem")), bundle_);
    EXPECT_EQ(readFile(out("clients.map")), map_);
    EXPECT_EQ(statusFor("alice"), 200);
    EXPECT_EQ(statusFor("bob"), 200);
    const ShellResult status = certbridge("status --json");
    EXPECT_NE(status.output.find("CN=alice"), std::string::npos) << "alice is not marked gone";
    EXPECT_NE(status.output.find("CN=bob"), std::string::npos);
  }

  std::string bundle_;
  std::string map_;
};

TEST_F(SyncFailures, CorruptNssDatabase) {
  writeFile(nssdb() + "/cert9.db", std::string(16384, 'Z'));
  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("certbridge: sync failed: cannot open NSS database sql:" + nssdb()),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("SEC_ERROR"), std::string::npos) << result.output;
  expectNothingLost();
  const ShellResult status = certbridge("status");
  EXPECT_EQ(status.exit_code, 1) << "a failed store sync shows in status";
  EXPECT_NE(status.output.find("FAILED: cannot open NSS database"), std::string::npos)
      << status.output;
}

TEST_F(SyncFailures, MissingNssDatabase) {
  ASSERT_EQ(shell("rm -rf " + quoted(nssdb())).exit_code, 0);
  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find(nssdb() + " does not exist"), std::string::npos) << result.output;
  expectNothingLost();
}

TEST_F(SyncFailures, UnreadableStoreKeepsPublishedFiles) {
  std::string run_as;
  if (::geteuid() == 0) {
    // root reads everything: run certbridge as nobody, who owns the state and output folders
    // but cannot enter the NSS database's folder.
    ASSERT_EQ(shell("chown nobody " + quoted(root_.path().string()) + " " + quoted(database()) +
                    "* && chown -R nobody " + quoted(root_.file("out")) + " && chmod 700 " +
                    quoted(nssdb()))
                  .exit_code,
              0);
    run_as = "setpriv --reuid=nobody --regid=nogroup --clear-groups ";
  } else {
    ASSERT_EQ(shell("chmod 000 " + quoted(nssdb() + "/cert9.db")).exit_code, 0);
  }
  const ShellResult result = shell(run_as + quoted(certbridgeBinary()) + " --config " +
                                   quoted(configFile()) + " sync --once");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("cannot read " + nssdb() + "/cert9.db: Permission denied"),
            std::string::npos)
      << result.output;
  expectNothingLost();
}

// NSS keeps a certificate whose basicConstraints extension is not valid DER (here a SET where a
// SEQUENCE belongs); certbridge must name it and leave the store's state alone.
TEST_F(SyncFailures, MalformedCertificateInTheStore) {
  ASSERT_EQ(demoPki("remove", "carol").exit_code, 0);  // a change that must not be applied
  const ShellResult corrupted =
      shell("db=" + quoted(nssdb() + "/cert9.db") +
            "; old=$(sqlite3 \"$db\" \"SELECT hex(a11) FROM nssPublic WHERE hex(a11) LIKE "
            "'%0603551D1304023000%' AND hex(a3) LIKE '616C696365%'\")"
            "; [ -n \"$old\" ] || { echo no alice certificate found; exit 1; }"
            "; new=$(echo \"$old\" | sed s/0603551D1304023000/0603551D1304023100/)"
            "; sqlite3 \"$db\" \"UPDATE nssPublic SET a11 = X'$new' WHERE hex(a11) = '$old'\"");
  ASSERT_EQ(corrupted.exit_code, 0) << corrupted.output;
  ASSERT_NE(shell("certutil -L -d sql:" + nssdb()).output.find("alice"), std::string::npos)
      << "NSS still lists the malformed certificate";

  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("certificate 'alice': certificate has malformed extensions"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(statusFor("carol"), 200) << "the store's snapshot was not applied at all";
  expectNothingLost();
}

TEST_F(SyncFailures, LockedDatabase) {
  ASSERT_EQ(demoPki("remove", "carol").exit_code, 0);
  shell(
      "{ (printf 'BEGIN EXCLUSIVE; DELETE FROM audit_log;\\n'; sleep 4; printf 'ROLLBACK;\\n') | "
      "sqlite3 " +
      quoted(database()) + "; } >/dev/null 2>&1 &");
  // Wait until the lock is held: a write with no busy timeout fails with "database is locked".
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (shell("sqlite3 -cmd '.timeout 0' " + quoted(database()) +
               " 'BEGIN IMMEDIATE; ROLLBACK;' 2>&1")
             .output.find("locked") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sqlite3 never took the lock";
  }

  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("database is locked"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(database()), std::string::npos) << result.output;
  EXPECT_EQ(readFile(out("clients.map")), map_);
  EXPECT_EQ(statusFor("carol"), 200);
}

TEST_F(SyncFailures, GarbageDatabaseFileIsRefusedAndKept) {
  const std::string garbage(8192, 'G');
  writeFile(database(), garbage);
  shell("rm -f " + quoted(database() + "-wal") + " " + quoted(database() + "-shm"));
  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find(database()), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("not a database"), std::string::npos) << result.output;
  EXPECT_EQ(readFile(database()), garbage);
  EXPECT_EQ(readFile(out("clients.map")), map_);
  EXPECT_EQ(statusFor("alice"), 200);
}

// Truncated to 0 bytes (a full disk, a careless `> certbridge.db`), the database must not be
// taken as a new one: under policy = auto every client a person had blocked would be trusted and
// published again.
TEST_F(SyncFailures, EmptiedDatabaseIsRefusedAndNothingIsRepublished) {
  shell("rm -f " + quoted(database() + "-wal") + " " + quoted(database() + "-shm"));
  writeFile(database(), "");
  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("database " + database() + " is empty"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("restore it from backup, or delete it to start over"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(readFile(database()), "") << "the empty file is left as it was";
  EXPECT_EQ(readFile(out("clients.map")), map_);
  EXPECT_EQ(statusFor("alice"), 200);
}

// Deleted or moved away, the same: the marker beside it remembers that it existed.
TEST_F(SyncFailures, DeletedDatabaseIsNoticedThroughItsMarker) {
  ASSERT_EQ(shell("test -f " + quoted(database() + ".created")).exit_code, 0);
  shell("rm -f " + quoted(database()) + " " + quoted(database() + "-wal") + " " +
        quoted(database() + "-shm"));
  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("database " + database() + " is gone"), std::string::npos)
      << result.output;
  EXPECT_FALSE(std::filesystem::exists(database())) << "no empty database made in its place";
  EXPECT_EQ(readFile(out("clients.map")), map_);

  // Deleting the marker is how an operator says "start over".
  shell("rm -f " + quoted(database() + ".created"));
  EXPECT_EQ(certbridge("sync --once").exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(database() + ".created"));
}

// Another application's SQLite file (application_id 0, as most have) is refused byte for byte.
TEST_F(SyncFailures, ForeignSqliteDatabaseIsRefusedUntouched) {
  shell("rm -f " + quoted(database()) + " " + quoted(database() + "-wal") + " " +
        quoted(database() + "-shm"));
  ASSERT_EQ(shell("sqlite3 " + quoted(database()) +
                  " 'CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1);'")
                .exit_code,
            0);
  const std::string before = readFile(database());
  const ShellResult result = certbridge("sync --once");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find(database() + " is not a certbridge database (application_id 0"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(readFile(database()), before) << "byte-identical";
  EXPECT_FALSE(std::filesystem::exists(database() + "-wal"));
  EXPECT_EQ(readFile(out("clients.map")), map_);
}

}  // namespace
}  // namespace certbridge::testing
