// A sync after a change reuses what earlier syncs parsed and verified (storage by SHA-256, the
// pipeline's IssuerVerdicts). These tests hold one long-lived pipeline beside a full
// recomputation (a new pipeline on an empty database) on the same real NSS database after each
// change, and expect the same nginx files and the same certificates, trust and roles.
#include <Poco/Logger.h>
#include <gtest/gtest.h>

#include <array>
#include <ctime>
#include <map>
#include <memory>

#include "agent/config/config.h"
#include "agent/sync/status_service.h"
#include "agent/sync/trust_sync.h"
#include "storage/certificate_repository.h"
#include "storage/database.h"
#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::agent {
namespace {

using testing::CrlSpec;
using testing::quoted;
using testing::readFile;
using testing::shell;
using testing::TestCertificate;

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

class IncrementalSync : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(nssdb());
    const auto created = shell("certutil -N -d sql:" + quoted(nssdb()) + " --empty-password");
    ASSERT_EQ(created.exit_code, 0) << created.output;
    add(root_, "root", "T,,");
    add(issuing_, "issuing", ",,");
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      add(clients_[i], "client " + std::to_string(i), ",,");
    }
    incremental_config_ = config("incremental");
    incremental_database_ = std::make_unique<storage::Database>(incremental_config_.storage_path);
    incremental_ = std::make_unique<TrustSync>(incremental_config_, *incremental_database_,
                                               Poco::Logger::get("test"));
    expectIncrementalEqualsFull();
  }

  std::string nssdb() const { return dir_.file("nssdb"); }

  void add(const TestCertificate& certificate, const std::string& nickname,
           const std::string& trust) {
    const std::string file = dir_.file(nickname + ".pem");
    testing::writeFile(file, certificate.pem());
    const auto added = shell("certutil -A -d sql:" + quoted(nssdb()) + " -n " + quoted(nickname) +
                             " -t " + quoted(trust) + " -i " + quoted(file));
    ASSERT_EQ(added.exit_code, 0) << added.output;
  }

  void remove(const std::string& nickname) {
    const auto removed = shell("certutil -D -d sql:" + quoted(nssdb()) + " -n " + quoted(nickname));
    ASSERT_EQ(removed.exit_code, 0) << removed.output;
  }

  void setTrust(const std::string& nickname, const std::string& trust) {
    const auto changed = shell("certutil -M -d sql:" + quoted(nssdb()) + " -n " + quoted(nickname) +
                               " -t " + quoted(trust));
    ASSERT_EQ(changed.exit_code, 0) << changed.output;
  }

  void importCrl(const std::vector<unsigned char>& crl) {
    const std::string file = dir_.file("store.crl");
    testing::writeFile(file, std::string(crl.begin(), crl.end()));
    const auto imported = shell("crlutil -I -d sql:" + quoted(nssdb()) + " -i " + quoted(file));
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
  }

  AgentConfig config(const std::string& name) {
    AgentConfig config;
    config.storage_path = dir_.file(name + ".db");
    config.stores.push_back(
        StoreConfig{.name = "main", .type = "nss", .path = "sql:" + nssdb(), .policy = "auto"});
    config.nginx.output_dir = dir_.file(name + "-out");
    config.nginx.test_command = "true";
    config.nginx.reload_command = "true";
    // CRLs come from the NSS database only; a CA without one is published without ssl_crl.
    config.crl.missing = "omit";
    std::filesystem::create_directories(config.nginx.output_dir);
    return config;
  }

  // The nginx files, with the output directory written as OUT so that two pipelines compare.
  static std::string files(const AgentConfig& config) {
    std::string text;
    for (const char* name : {"client-ca.pem", "crl.pem", "clients.map", "mtls.conf"}) {
      const std::filesystem::path path = std::filesystem::path(config.nginx.output_dir) / name;
      std::string content = std::filesystem::exists(path) ? readFile(path.string()) : "(none)";
      for (std::size_t at = content.find(config.nginx.output_dir); at != std::string::npos;
           at = content.find(config.nginx.output_dir, at)) {
        content.replace(at, config.nginx.output_dir.size(), "OUT");
      }
      text += std::string("== ") + name + "\n" + content;
    }
    return text;
  }

  // Every certificate the stores hold now, with what render decides on.
  static std::string present(storage::Database& database) {
    std::vector<std::string> lines;
    for (const storage::CertificateView& view :
         storage::CertificateRepository(database).listCertificates()) {
      if (view.present) {
        lines.push_back(view.certificate.sha256 + " " + storage::roleLabel(view) + " " +
                        (view.trust ? storage::toString(*view.trust) : "-") + " " + view.sources +
                        " " + view.nickname);
      }
    }
    std::sort(lines.begin(), lines.end());
    std::string text;
    for (const std::string& line : lines) {
      text += line + "\n";
    }
    return text;
  }

  // Syncs the long-lived pipeline, then a new one on an empty database, and expects the same.
  void expectIncrementalEqualsFull() {
    const std::int64_t now = unixNow();
    const SyncReport incremental = incremental_->syncOnce(now);
    EXPECT_TRUE(incremental.ok()) << incremental.summary();

    const AgentConfig full_config = config("full-" + std::to_string(++full_runs_));
    storage::Database full_database(full_config.storage_path);
    TrustSync full(full_config, full_database, Poco::Logger::get("test"));
    const SyncReport recomputed = full.syncOnce(now);
    EXPECT_TRUE(recomputed.ok()) << recomputed.summary();

    EXPECT_EQ(files(incremental_config_), files(full_config));
    EXPECT_EQ(present(*incremental_database_), present(full_database));
    std::vector<std::string> incremental_warnings = incremental.warnings;
    std::vector<std::string> full_warnings = recomputed.warnings;
    std::sort(incremental_warnings.begin(), incremental_warnings.end());
    std::sort(full_warnings.begin(), full_warnings.end());
    EXPECT_EQ(incremental_warnings, full_warnings);
    expectPageAgreesWithSnapshot(*incremental_database_, now);
    expectPageAgreesWithSnapshot(full_database, now);
  }

  // Each certificate's state as the status page shows it (a page read with SQL, made effective
  // for its rows from what the last publish recorded) and as the full snapshot works it out
  // (every chain built): the same after every sync.
  static void expectPageAgreesWithSnapshot(storage::Database& database, std::int64_t now) {
    const storage::StatusOptions options{.now = now, .crl_enabled = true};
    const auto line = [](const storage::CertificateStatus& status) {
      return status.trust + " | " + status.left_out + " | " + status.revocation;
    };
    std::map<std::string, std::string> full;
    for (const storage::CertificateStatus& status :
         sync::takeStatusSnapshot(database, options).certificates) {
      full[status.view.certificate.subject] = line(status);
    }
    std::map<std::string, std::string> paged;
    const storage::CertificatePage page =
        sync::takeCertificatePage(database, {.limit = 1000}, options);
    for (const storage::CertificateStatus& status : page.rows) {
      paged[status.view.certificate.subject] = line(status);
    }
    EXPECT_EQ(paged, full);
    EXPECT_EQ(page.matched, static_cast<std::int64_t>(full.size()));
  }

  std::size_t verified() const { return incremental_->issuerVerdicts().computed(); }

  bool inClientsMap(const TestCertificate& client) const {
    return readFile(incremental_config_.nginx.output_dir + "/clients.map")
               .find(Certificate::fromDer(client.der(), "test").record().sha1) != std::string::npos;
  }

  testing::TempDir dir_;
  TestCertificate root_ = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  TestCertificate issuing_ =
      TestCertificate::issue({.common_name = "Issuing CA", .ca = true}, &root_);
  std::array<TestCertificate, 3> clients_{
      TestCertificate::issue({.common_name = "client 0"}, &issuing_),
      TestCertificate::issue({.common_name = "client 1"}, &issuing_),
      TestCertificate::issue({.common_name = "client 2"}, &issuing_)};
  AgentConfig incremental_config_;
  std::unique_ptr<storage::Database> incremental_database_;
  std::unique_ptr<TrustSync> incremental_;
  int full_runs_ = 0;
};

TEST_F(IncrementalSync, AddedClientIsTheOnlyNewSignatureChecked) {
  const std::size_t before = verified();
  const TestCertificate late = TestCertificate::issue({.common_name = "late"}, &issuing_);
  add(late, "late", ",,");
  expectIncrementalEqualsFull();
  EXPECT_TRUE(inClientsMap(late));
  // The new client's own two questions (self-issued? issued by the issuing CA?), nothing else.
  EXPECT_EQ(verified() - before, 2u);
}

// `run` after a restart: its first sync finds nothing changed and builds no chain; with the chains
// prepared then, the first change checks only its own two pairs, not every client's.
TEST_F(IncrementalSync, PreparedChainsMakeTheFirstChangeAfterARestartCheap) {
  TrustSync restarted(incremental_config_, *incremental_database_, Poco::Logger::get("test"));
  const SyncReport unchanged = restarted.syncOnce(unixNow());
  ASSERT_TRUE(unchanged.ok()) << unchanged.summary();
  EXPECT_FALSE(unchanged.rendered);
  EXPECT_EQ(restarted.issuerVerdicts().computed(), 0u);
  restarted.prepareForChanges(unixNow());
  const std::size_t prepared = restarted.issuerVerdicts().computed();
  EXPECT_GT(prepared, 0u);
  restarted.prepareForChanges(unixNow());
  EXPECT_EQ(restarted.issuerVerdicts().computed(), prepared) << "done once";

  add(TestCertificate::issue({.common_name = "late"}, &issuing_), "late", ",,");
  const SyncReport changed = restarted.syncOnce(unixNow());
  ASSERT_TRUE(changed.ok()) << changed.summary();
  EXPECT_TRUE(changed.rendered);
  EXPECT_EQ(restarted.issuerVerdicts().computed() - prepared, 2u);
}

// A sync that finds every store unchanged still records each store's sync and the attempt
// (in one transaction with the publish record).
TEST_F(IncrementalSync, UnchangedSyncRecordsTheStoresAndTheAttempt) {
  const std::int64_t later = unixNow() + 5;
  const SyncReport unchanged = incremental_->syncOnce(later);
  ASSERT_TRUE(unchanged.ok()) << unchanged.summary();
  EXPECT_FALSE(unchanged.rendered);
  const auto stores = storage::CertificateRepository(*incremental_database_).listStores();
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_EQ(stores[0].last_sync_at, later);
  EXPECT_TRUE(stores[0].last_sync_ok);
  const auto last = storage::PublishHistory(*incremental_database_).last();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->at, later);
  EXPECT_EQ(last->result, "unchanged");
}

TEST_F(IncrementalSync, RemovedClient) {
  ASSERT_TRUE(inClientsMap(clients_[1]));
  remove("client 1");
  expectIncrementalEqualsFull();
  EXPECT_FALSE(inClientsMap(clients_[1]));
}

TEST_F(IncrementalSync, ClientAddedAgainAfterRemoval) {
  remove("client 1");
  expectIncrementalEqualsFull();
  add(clients_[1], "client 1", ",,");  // the same DER and nickname as before
  expectIncrementalEqualsFull();
  EXPECT_TRUE(inClientsMap(clients_[1]));
}

TEST_F(IncrementalSync, TrustMovedFromRootToIssuingCa) {
  setTrust("issuing", "T,,");
  expectIncrementalEqualsFull();
  setTrust("root", ",,");
  expectIncrementalEqualsFull();
  EXPECT_TRUE(inClientsMap(clients_[0]));
  setTrust("issuing", ",,");
  // No anchor left: nothing can be published, in both pipelines alike.
  const std::int64_t now = unixNow();
  EXPECT_FALSE(incremental_->syncOnce(now).ok());
}

TEST_F(IncrementalSync, CaAddedLateCompletesAChain) {
  const TestCertificate second_ca =
      TestCertificate::issue({.common_name = "Second Issuing CA", .ca = true}, &root_);
  const TestCertificate orphan = TestCertificate::issue({.common_name = "orphan"}, &second_ca);
  add(orphan, "orphan", ",,");
  expectIncrementalEqualsFull();
  EXPECT_FALSE(inClientsMap(orphan));
  add(second_ca, "second issuing", ",,");
  expectIncrementalEqualsFull();
  EXPECT_TRUE(inClientsMap(orphan));
}

TEST_F(IncrementalSync, CrlChangeRevokesAnotherClient) {
  const auto serial = [](const TestCertificate& certificate) {
    const std::string text = Certificate::fromDer(certificate.der(), "test").record().serial;
    return text;
  };
  importCrl(issuing_.crlDer(
      CrlSpec{.revoked_serials = {serial(clients_[0])}, .this_update_offset = -120, .number = 1}));
  expectIncrementalEqualsFull();
  EXPECT_FALSE(inClientsMap(clients_[0]));
  EXPECT_TRUE(inClientsMap(clients_[2]));
  importCrl(issuing_.crlDer(
      CrlSpec{.revoked_serials = {serial(clients_[2])}, .this_update_offset = -60, .number = 2}));
  expectIncrementalEqualsFull();
  EXPECT_TRUE(inClientsMap(clients_[0]));
  EXPECT_FALSE(inClientsMap(clients_[2]));
}

TEST_F(IncrementalSync, UnchangedStoreChecksNoSignature) {
  const std::size_t before = verified();
  add(TestCertificate::issue({.common_name = "server", .extended_key_usage = "serverAuth"}, &root_),
      "server", ",,");
  expectIncrementalEqualsFull();
  // A certificate that is no trusted client changes no chain to build.
  EXPECT_EQ(verified(), before);
}

}  // namespace
}  // namespace certbridge::agent
