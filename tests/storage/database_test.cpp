#include "storage/database.h"

#include <gtest/gtest.h>

#include <tuple>

#include "agent/certificate.h"
#include "storage/crl_repository.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::storage {
namespace {

using testing::shell;

std::string sqlite(const std::string& file, const std::string& sql) {
  return shell("sqlite3 " + testing::quoted(file) + " " + testing::quoted(sql)).output;
}

std::string openError(const std::string& path) {
  try {
    Database database(path);
  } catch (const StorageError& error) {
    return error.what();
  }
  return "opened";
}

TEST(Database, NewDatabaseGetsTheCurrentSchemaInWalMode) {
  testing::TempDir dir;
  { Database database(dir.file("new.db")); }
  EXPECT_EQ(sqlite(dir.file("new.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(sqlite(dir.file("new.db"), "PRAGMA application_id"),
            std::to_string(Database::kApplicationId) + "\n");
  EXPECT_EQ(sqlite(dir.file("new.db"), "PRAGMA journal_mode"), "wal\n");
}

// Version 0 is an empty SQLite file, e.g. one an installer created; the ladder must build the
// whole schema from it.
TEST(Database, MigratesAnEmptyVersionZeroFileToTheCurrentVersion) {
  testing::TempDir dir;
  sqlite(dir.file("v0.db"),
         "PRAGMA user_version = 0; CREATE TABLE unrelated_probe (x); "
         "DROP TABLE unrelated_probe;");
  ASSERT_EQ(sqlite(dir.file("v0.db"), "PRAGMA user_version"), "0\n");
  { Database database(dir.file("v0.db")); }
  EXPECT_EQ(sqlite(dir.file("v0.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  const std::string tables =
      sqlite(dir.file("v0.db"), "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1");
  for (const char* table :
       {"audit_log", "certificate_sources", "certificates", "publish_history", "stores",
        "trust_decisions", "crls", "revoked_serials", "crl_fetches"}) {
    EXPECT_NE(tables.find(table), std::string::npos) << table;
  }
}

// A database made at version 1 (before CRLs): exactly the current schema minus what
// migrateToV2 adds, with data in it. Upgrading keeps the data and adds the CRL tables.
TEST(Database, UpgradesAVersionOneDatabaseKeepingItsData) {
  testing::TempDir dir;
  { Database database(dir.file("v1.db")); }
  sqlite(dir.file("v1.db"),
         "DROP TABLE crls; DROP TABLE revoked_serials; DROP TABLE crl_fetches; "
         "ALTER TABLE audit_log DROP COLUMN previous; ALTER TABLE stores DROP COLUMN change_token; "
         "ALTER TABLE publish_history DROP COLUMN crl_pem_sha256; "
         "ALTER TABLE publish_history DROP COLUMN input_digest; "
         "ALTER TABLE publish_history DROP COLUMN valid_until; "
         "ALTER TABLE publish_history DROP COLUMN warnings; "
         "PRAGMA user_version = 1; "
         "INSERT INTO audit_log (at, actor, origin, action, target, detail) "
         "VALUES (1, 'me', 'cli', 'kept', 'y', 'z');");
  ASSERT_EQ(sqlite(dir.file("v1.db"), "PRAGMA user_version"), "1\n");
  { Database database(dir.file("v1.db")); }
  EXPECT_EQ(sqlite(dir.file("v1.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(sqlite(dir.file("v1.db"), "SELECT action FROM audit_log"), "kept\n");
  EXPECT_EQ(sqlite(dir.file("v1.db"), "SELECT COUNT(*) FROM crls"), "0\n");
}

// A database made at version 2, with serials written the old way: a certificate's as OpenSSL's
// BN_bn2hex ("-01" for -1), a CRL entry's as its magnitude ("FF" for -1, the text of 255).
// Upgrading derives every serial again from the DER stored beside it.
TEST(Database, UpgradesAVersionTwoDatabaseToExactSerials) {
  using testing::TestCertificate;
  testing::TempDir dir;
  const std::string path = dir.file("v2.db");
  { Database database(path); }
  const TestCertificate ca = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const auto hex = [](const std::vector<unsigned char>& der) {
    return "X'" + agent::toHex(der) + "'";
  };
  std::string rows = "PRAGMA user_version = 2; ";
  for (const auto& [name, serial_hex, old_text] : {std::tuple{"minus1", "-01", "-01"},
                                                   {"plus255", "FF", "FF"},
                                                   {"plus128", "0080", "80"},
                                                   {"minus128", "-80", "-80"}}) {
    const TestCertificate client =
        TestCertificate::issue({.common_name = name, .serial_hex = serial_hex}, &ca);
    rows += std::string("INSERT INTO certificates VALUES ('") + name + "', 's', " +
            hex(client.der()) + ", 'CN=" + name + "', 'CN=CA', '" + old_text +
            "', 0, 0, 'EC', '', 0, ''); ";
  }
  // The CRL revokes -1 and 128; the old rows said "FF" and "80".
  rows += "INSERT INTO crls VALUES ('ca', 'CN=CA', '01', 0, NULL, 'store:x', 0, 'h', 2, " +
          hex(ca.crlDer({"-01", "0080"})) +
          "); INSERT INTO revoked_serials VALUES ('ca', 'FF'), ('ca', '80');";
  sqlite(path, rows);
  ASSERT_EQ(sqlite(path, "SELECT COUNT(*) FROM certificates"), "4\n");

  { Database database(path); }
  EXPECT_EQ(sqlite(path, "PRAGMA user_version"), std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(sqlite(path, "SELECT sha256 || '=' || serial FROM certificates ORDER BY sha256"),
            "minus1=-01\nminus128=-80\nplus128=80\nplus255=FF\n");
  EXPECT_EQ(sqlite(path, "SELECT serial FROM revoked_serials ORDER BY serial"), "-01\n80\n");
  Database database(path);
  CrlRepository crls(database);
  EXPECT_TRUE(crls.isRevoked("ca", "-01"));
  EXPECT_FALSE(crls.isRevoked("ca", "FF")) << "255 is not -1";
  EXPECT_TRUE(crls.isRevoked("ca", "80"));
  EXPECT_FALSE(crls.isRevoked("ca", "-80"));
}

TEST(Database, AStoredCrlThatCannotBeReadStopsTheUpgradeAndChangesNothing) {
  testing::TempDir dir;
  const std::string path = dir.file("v2.db");
  { Database database(path); }
  sqlite(path,
         "PRAGMA user_version = 2; INSERT INTO crls VALUES ('ca', 'CN=CA', '01', 0, NULL, "
         "'store:x', 0, 'h', 1, X'3003020101'); INSERT INTO revoked_serials VALUES ('ca', 'FF');");
  const std::string error = openError(path);
  EXPECT_NE(error.find("the stored CRL of CA ca cannot be read again"), std::string::npos) << error;
  EXPECT_EQ(sqlite(path, "PRAGMA user_version"), "2\n");
  EXPECT_EQ(sqlite(path, "SELECT serial FROM revoked_serials"), "FF\n");
}

TEST(Database, ReopeningKeepsTheData) {
  testing::TempDir dir;
  {
    Database database(dir.file("a.db"));
    database.transaction([&] {
      database.execute(
          "INSERT INTO audit_log (at, actor, origin, action, target, detail) "
          "VALUES (1, 'me', 'cli', 'x', 'y', 'z')");
    });
  }
  Database database(dir.file("a.db"));
  Statement count = database.prepare("SELECT COUNT(*) FROM audit_log");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.integer(0), 1);
}

TEST(Database, RefusesADatabaseFromANewerCertbridge) {
  testing::TempDir dir;
  { Database database(dir.file("future.db")); }
  sqlite(dir.file("future.db"), "PRAGMA user_version = 99");
  const std::string error = openError(dir.file("future.db"));
  EXPECT_NE(error.find("schema version 99"), std::string::npos) << error;
  EXPECT_NE(error.find("newer certbridge"), std::string::npos) << error;
}

TEST(Database, RefusesAnotherApplicationsDatabase) {
  testing::TempDir dir;
  sqlite(dir.file("other.db"), "PRAGMA application_id = 12345; CREATE TABLE t (x);");
  const std::string error = openError(dir.file("other.db"));
  EXPECT_NE(error.find("another application"), std::string::npos) << error;
  EXPECT_EQ(sqlite(dir.file("other.db"), "SELECT name FROM sqlite_master"), "t\n")
      << "the foreign database is left untouched";
}

TEST(Database, GarbageFileIsAClearErrorAndStaysAsItWas) {
  testing::TempDir dir;
  const std::string garbage(4096, 'x');
  testing::writeFile(dir.file("garbage.db"), garbage);
  const std::string error = openError(dir.file("garbage.db"));
  EXPECT_NE(error.find(dir.file("garbage.db")), std::string::npos) << error;
  EXPECT_NE(error.find("not a database"), std::string::npos) << error;
  EXPECT_EQ(testing::readFile(dir.file("garbage.db")), garbage);
}

TEST(Database, DamagedPagesFailTheIntegrityCheck) {
  testing::TempDir dir;
  {
    Database database(dir.file("damaged.db"));
    database.transaction([&] {
      for (int i = 0; i < 200; ++i) {
        database.execute(("INSERT INTO audit_log (at, actor, origin, action, target, detail) "
                          "VALUES (" +
                          std::to_string(i) + ", 'me', 'cli', 'x', 'y', '" + std::string(200, 'z') +
                          "')")
                             .c_str());
      }
    });
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  // Overwrite a page in the middle of the file, leaving the header intact.
  shell("dd if=/dev/urandom of=" + dir.file("damaged.db") +
        " bs=4096 seek=3 count=2 conv=notrunc 2>/dev/null");
  const std::string error = openError(dir.file("damaged.db"));
  EXPECT_NE(error.find(dir.file("damaged.db")), std::string::npos) << error;
  EXPECT_TRUE(error.find("damaged") != std::string::npos ||
              error.find("malformed") != std::string::npos)
      << error;
}

TEST(Database, UnopenablePathNamesTheFile) {
  const std::string error = openError("/nonexistent-dir/certbridge.db");
  EXPECT_NE(error.find("/nonexistent-dir/certbridge.db"), std::string::npos) << error;
}

TEST(Database, ATransactionThatThrowsLeavesNothingBehind) {
  testing::TempDir dir;
  Database database(dir.file("a.db"));
  EXPECT_THROW(database.transaction([&] {
    database.execute(
        "INSERT INTO audit_log (at, actor, origin, action, target, detail) "
        "VALUES (1, 'me', 'cli', 'x', 'y', 'z')");
    throw std::runtime_error("midway");
  }),
               std::runtime_error);
  Statement count = database.prepare("SELECT COUNT(*) FROM audit_log");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.integer(0), 0);
}

}  // namespace
}  // namespace certbridge::storage
