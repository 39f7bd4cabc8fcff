#include "storage/database.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>
#include <tuple>

#include "agent/pki/certificate.h"
#include "storage/audit_log.h"
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

// A SQLite file without certbridge's application_id is another application's, even with
// user_version 0 and no tables: it is refused and left byte for byte as it was.
TEST(Database, RefusesAForeignFileWithoutApplicationIdByteForByte) {
  testing::TempDir dir;
  sqlite(dir.file("v0.db"), "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');");
  const std::string before = testing::readFile(dir.file("v0.db"));
  const std::string error = openError(dir.file("v0.db"));
  EXPECT_NE(error.find("is not a certbridge database (application_id 0"), std::string::npos)
      << error;
  EXPECT_EQ(testing::readFile(dir.file("v0.db")), before);
  EXPECT_FALSE(std::filesystem::exists(dir.file("v0.db") + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("v0.db.created")));
}

TEST(Database, RefusesAnEmptyFileItDidNotCreate) {
  testing::TempDir dir;
  testing::writeFile(dir.file("empty.db"), "");
  const std::string error = openError(dir.file("empty.db"));
  EXPECT_NE(error.find("database " + dir.file("empty.db") + " is empty"), std::string::npos)
      << error;
  EXPECT_NE(error.find("restore it from backup, or delete it to start over"), std::string::npos)
      << error;
  EXPECT_EQ(std::filesystem::file_size(dir.file("empty.db")), 0U);
}

// A new database leaves a marker; with the marker there, a missing database is an error, not a
// fresh start. Deleting the marker starts over.
TEST(Database, MarkerMakesADeletedDatabaseAnError) {
  testing::TempDir dir;
  { Database database(dir.file("a.db")); }
  ASSERT_TRUE(std::filesystem::exists(Database::existenceMarker(dir.file("a.db"))));
  std::filesystem::remove(dir.file("a.db"));
  std::filesystem::remove(dir.file("a.db-wal"));
  std::filesystem::remove(dir.file("a.db-shm"));
  const std::string error = openError(dir.file("a.db"));
  EXPECT_NE(error.find("database " + dir.file("a.db") + " is gone"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.db")));
  std::filesystem::remove(Database::existenceMarker(dir.file("a.db")));
  EXPECT_EQ(openError(dir.file("a.db")), "opened");
}

// Databases made before the marker existed get one on their next open.
TEST(Database, AnExistingCertbridgeDatabaseGetsItsMarker) {
  testing::TempDir dir;
  { Database database(dir.file("a.db")); }
  std::filesystem::remove(Database::existenceMarker(dir.file("a.db")));
  { Database database(dir.file("a.db")); }
  EXPECT_TRUE(std::filesystem::exists(Database::existenceMarker(dir.file("a.db"))));
}

// A database made at version 1 (before CRLs): exactly the current schema minus what
// migrateToV2 adds, with data in it. Upgrading keeps the data and adds the CRL tables.
TEST(Database, UpgradesAVersionOneDatabaseKeepingItsData) {
  testing::TempDir dir;
  { Database database(dir.file("v1.db")); }
  sqlite(dir.file("v1.db"),
         "DROP TABLE fleet_link; DROP TABLE fleet_position; DROP TABLE fleet_event_effects; "
         "DROP TABLE fleet_decisions; "
         "DROP TABLE publish_totals; DROP INDEX publish_history_at; "
         "DROP TABLE crls; DROP TABLE revoked_serials; DROP TABLE crl_fetches; "
         "ALTER TABLE audit_log DROP COLUMN previous; ALTER TABLE stores DROP COLUMN change_token; "
         "ALTER TABLE publish_history DROP COLUMN crl_pem_sha256; "
         "ALTER TABLE publish_history DROP COLUMN input_digest; "
         "ALTER TABLE publish_history DROP COLUMN valid_until; "
         "ALTER TABLE publish_history DROP COLUMN warnings; "
         "DROP TABLE left_out_clients; DROP INDEX certificates_by_expiry; "
         "DROP INDEX certificates_serial; DROP INDEX certificates_ca; "
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

// A database made at version 3, with serials written the old way: a certificate's as OpenSSL's
// BN_bn2hex ("-01" for -1), a CRL entry's as its magnitude ("FF" for -1, the text of 255).
// Upgrading derives every serial again from the DER stored beside it.
TEST(Database, UpgradesAVersionThreeDatabaseToExactSerials) {
  using testing::TestCertificate;
  testing::TempDir dir;
  const std::string path = dir.file("v3.db");
  { Database database(path); }
  const TestCertificate ca = TestCertificate::issue({.common_name = "CA", .ca = true}, nullptr);
  const auto hex = [](const std::vector<unsigned char>& der) {
    return "X'" + agent::toHex(der) + "'";
  };
  std::string rows =
      "DROP TABLE fleet_link; DROP TABLE fleet_position; DROP TABLE fleet_event_effects; "
      "DROP TABLE fleet_decisions; "
      "DROP TABLE left_out_clients; DROP INDEX certificates_by_expiry; "
      "DROP INDEX certificates_serial; DROP INDEX certificates_ca; PRAGMA user_version = 3; ";
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
  const std::string path = dir.file("v3.db");
  { Database database(path); }
  sqlite(path,
         "DROP TABLE fleet_link; DROP TABLE fleet_position; DROP TABLE fleet_event_effects; "
         "DROP TABLE fleet_decisions; "
         "PRAGMA user_version = 3; INSERT INTO crls VALUES ('ca', 'CN=CA', '01', 0, NULL, "
         "'store:x', 0, 'h', 1, X'3003020101'); INSERT INTO revoked_serials VALUES ('ca', 'FF');");
  const std::string error = openError(path);
  EXPECT_NE(error.find("the stored CRL of CA ca cannot be read again"), std::string::npos) << error;
  EXPECT_EQ(sqlite(path, "PRAGMA user_version"), "3\n");
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
  EXPECT_NE(error.find("application_id 12345"), std::string::npos) << error;
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

// Version 2 had no publish_totals; the upgrade adds it and keeps the history.
TEST(Database, UpgradesAVersionTwoDatabaseKeepingItsHistory) {
  testing::TempDir dir;
  { Database database(dir.file("v2.db")); }
  sqlite(dir.file("v2.db"),
         "DROP TABLE fleet_link; DROP TABLE fleet_position; DROP TABLE fleet_event_effects; "
         "DROP TABLE fleet_decisions; "
         "DROP TABLE publish_totals; DROP INDEX publish_history_at; "
         "DROP TABLE left_out_clients; DROP INDEX certificates_by_expiry; "
         "DROP INDEX certificates_serial; DROP INDEX certificates_ca; PRAGMA user_version = 2; "
         "INSERT INTO publish_history (at, result, client_ca_sha256, clients_map_sha256, "
         "mtls_conf_sha256, detail) VALUES (7, 'published', 'a', 'b', 'c', 'kept');");
  { Database database(dir.file("v2.db")); }
  EXPECT_EQ(sqlite(dir.file("v2.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(sqlite(dir.file("v2.db"), "SELECT detail FROM publish_history"), "kept\n");
  EXPECT_EQ(sqlite(dir.file("v2.db"), "SELECT COUNT(*) FROM publish_totals"), "0\n");
}

// Version 4 had no page indexes nor left_out_clients; the upgrade adds them and makes the last
// publish stale, so that the first sync renders again and records the clients it leaves out.
TEST(Database, UpgradesAVersionFourDatabaseSoTheNextSyncRecordsTheClientsLeftOut) {
  testing::TempDir dir;
  { Database database(dir.file("v4.db")); }
  sqlite(dir.file("v4.db"),
         "DROP TABLE fleet_link; DROP TABLE fleet_position; DROP TABLE fleet_event_effects; "
         "DROP TABLE fleet_decisions; "
         "DROP TABLE left_out_clients; DROP INDEX certificates_by_expiry; "
         "DROP INDEX certificates_serial; DROP INDEX certificates_ca; PRAGMA user_version = 4; "
         "INSERT INTO publish_history (at, result, client_ca_sha256, clients_map_sha256, "
         "mtls_conf_sha256, detail, input_digest, valid_until) "
         "VALUES (7, 'published', 'a', 'b', 'c', 'kept', 'digest', 99999);");
  { Database database(dir.file("v4.db")); }
  EXPECT_EQ(sqlite(dir.file("v4.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(
      sqlite(dir.file("v4.db"), "SELECT detail, input_digest, valid_until FROM publish_history"),
      "kept|digest|0\n");
  EXPECT_EQ(sqlite(dir.file("v4.db"), "SELECT COUNT(*) FROM left_out_clients"), "0\n");
  EXPECT_EQ(sqlite(dir.file("v4.db"),
                   "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE "
                   "'certificates_%' ORDER BY name"),
            "certificates_by_expiry\ncertificates_ca\ncertificates_serial\ncertificates_sha1\n");
}

// Version 5 knew no fleet; the upgrade adds where the fleet's applied position is kept, empty,
// and keeps everything else.
TEST(Database, UpgradesAVersionFiveDatabaseWithAnEmptyFleetPosition) {
  testing::TempDir dir;
  { Database database(dir.file("v5.db")); }
  sqlite(dir.file("v5.db"),
         "DROP TABLE fleet_link; DROP TABLE fleet_position; DROP TABLE fleet_event_effects; "
         "DROP TABLE fleet_decisions; "
         "PRAGMA user_version = 5; "
         "INSERT INTO audit_log (at, actor, origin, action, target, detail) "
         "VALUES (1, 'me', 'cli', 'kept', 'y', 'z');");
  { Database database(dir.file("v5.db")); }
  EXPECT_EQ(sqlite(dir.file("v5.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(sqlite(dir.file("v5.db"), "SELECT action FROM audit_log"), "kept\n");
  EXPECT_EQ(sqlite(dir.file("v5.db"), "SELECT COUNT(*) FROM fleet_position"), "0\n");
  EXPECT_EQ(sqlite(dir.file("v5.db"), "SELECT COUNT(*) FROM fleet_event_effects"), "0\n");
  EXPECT_EQ(sqlite(dir.file("v5.db"), "SELECT COUNT(*) FROM fleet_decisions"), "0\n");
}

// Version 6 knew no fleet link; the upgrade adds it, empty (the host is in no fleet until its
// agent opens the link).
TEST(Database, UpgradesAVersionSixDatabaseWithNoFleetLink) {
  testing::TempDir dir;
  { Database database(dir.file("v6.db")); }
  sqlite(dir.file("v6.db"),
         "DROP TABLE fleet_link; PRAGMA user_version = 6; "
         "INSERT INTO fleet_position (singleton, applied_event_id, applied_at) VALUES (1, 9, 1);");
  { Database database(dir.file("v6.db")); }
  EXPECT_EQ(sqlite(dir.file("v6.db"), "PRAGMA user_version"),
            std::to_string(Database::kSchemaVersion) + "\n");
  EXPECT_EQ(sqlite(dir.file("v6.db"), "SELECT applied_event_id FROM fleet_position"), "9\n");
  EXPECT_EQ(sqlite(dir.file("v6.db"), "SELECT COUNT(*) FROM fleet_link"), "0\n");
}

PublishRecord attempt(UnixTime at, const std::string& result) {
  PublishRecord record;
  record.at = at;
  record.result = result;
  return record;
}

// Old attempts go; the last attempt and the last change stay whatever their age, and the
// counters behind /metrics never go down.
TEST(PublishHistory, PruningKeepsTheLastAttemptTheLastChangeAndTheCounts) {
  testing::TempDir dir;
  Database database(dir.file("a.db"));
  PublishHistory history(database);
  history.append(attempt(10, "published"));
  history.append(attempt(20, "failed"));
  history.append(attempt(30, "unchanged"));
  history.append(attempt(40, "unchanged"));
  EXPECT_EQ(history.prune(35), 2);  // 10 and 30; 20 is the last change, 40 the last attempt
  EXPECT_EQ(history.last()->at, 40);
  EXPECT_EQ(history.lastChange()->at, 20);
  EXPECT_EQ(history.countPublishedAndFailed(), std::make_pair(std::int64_t{1}, std::int64_t{1}));

  history.append(attempt(50, "published"));
  EXPECT_EQ(history.prune(45), 2);  // 20 and 40 are neither last any more
  EXPECT_EQ(history.countPublishedAndFailed(), std::make_pair(std::int64_t{2}, std::int64_t{1}));
  EXPECT_EQ(history.prune(45), 0);
  EXPECT_EQ(history.lastChange()->at, 50);
  Statement rows = database.prepare("SELECT COUNT(*) FROM publish_history");
  ASSERT_TRUE(rows.step());
  EXPECT_EQ(rows.integer(0), 1);
}

// The writer holds a write transaction open (a CRL ingest, a sync) until the reader on another
// thread has answered: a reader that waited behind it would never answer. Real file, two threads.
TEST(Database, AReaderAnswersWhileTheWriterHoldsAWriteTransaction) {
  testing::TempDir dir;
  Database database(dir.file("a.db"));
  PublishHistory history(database);
  AuditLog audit(database);
  history.append(attempt(10, "published"));

  std::promise<void> writer_inside;
  std::promise<void> reader_answered;
  std::future<void> reader_has_answered = reader_answered.get_future();
  std::thread writer([&] {
    database.transaction([&] {
      audit.append({.at = 1, .actor = "writer", .origin = "test", .action = "x", .target = "y"});
      history.append(attempt(20, "failed"));
      writer_inside.set_value();
      reader_has_answered.wait_for(std::chrono::seconds(30));
    });
  });
  writer_inside.get_future().wait();
  auto reader = std::async(std::launch::async, [&] {
    // One read transaction: both answers from the same picture, the one before the writer's.
    std::pair<std::optional<PublishRecord>, std::size_t> seen;
    database.read([&] { seen = {history.last(), audit.recent(10).size()}; });
    return seen;
  });
  const bool answered = reader.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  reader_answered.set_value();
  writer.join();
  ASSERT_TRUE(answered) << "the reader waited behind the writer's transaction";
  const auto [last, audit_entries] = reader.get();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->at, 10) << "the writer's uncommitted attempt is not seen";
  EXPECT_EQ(audit_entries, 0U);
  EXPECT_EQ(history.last()->at, 20) << "and is seen once committed";
}

// Read paths never write: a write inside read() is refused, by certbridge and by SQLite.
TEST(Database, AWriteInsideAReadIsRefused) {
  testing::TempDir dir;
  Database database(dir.file("a.db"));
  try {
    database.read([&] { AuditLog(database).append({.at = 1, .actor = "a", .action = "x"}); });
    ADD_FAILURE() << "the write went through";
  } catch (const StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("a write was attempted inside a read"),
              std::string::npos)
        << error.what();
  }
  try {
    database.read([&] { database.execute("DELETE FROM audit_log"); });
    ADD_FAILURE() << "the write went through";
  } catch (const StorageError& error) {
    EXPECT_NE(std::string(error.what()).find("readonly"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(AuditLog(database).recent(1).empty());
}

// The same SQL prepared twice at once (a statement still stepping while the same query runs
// again) gets a statement of its own instead of disturbing the first.
TEST(Database, NestedUseOfTheSameCachedStatement) {
  testing::TempDir dir;
  Database database(dir.file("a.db"));
  PublishHistory history(database);
  history.append(attempt(10, "published"));
  history.append(attempt(20, "unchanged"));
  database.read([&] {
    const char* sql = "SELECT at FROM publish_history ORDER BY id";
    Statement outer = database.prepare(sql);
    std::vector<std::int64_t> seen;
    while (outer.step()) {
      Statement inner = database.prepare(sql);
      ASSERT_TRUE(inner.step());
      EXPECT_EQ(inner.integer(0), 10);
      seen.push_back(outer.integer(0));
    }
    EXPECT_EQ(seen, (std::vector<std::int64_t>{10, 20}));
  });
}

}  // namespace
}  // namespace certbridge::storage
