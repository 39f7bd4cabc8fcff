#include "platform/nss/nss_cert_store.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "tests/support/shell.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace certbridge::platform::nss {
namespace {

using testing::shell;
using testing::TestCertificate;

// Runs `work` in a forked child that has dropped root for user nobody (setresgid, setgroups,
// setresuid), so that a case about unreadable files runs in CI, where the tests run as root.
// Returns what `work` returned, or why the child could not become nobody.
std::string runAsNobody(const std::function<std::string()>& work) {
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) {
    return "there is no user nobody";
  }
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) {
    return "pipe failed";
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_ends[0]);
    std::string result;
    if (::setgroups(0, nullptr) != 0 ||
        ::setresgid(nobody->pw_gid, nobody->pw_gid, nobody->pw_gid) != 0 ||
        ::setresuid(nobody->pw_uid, nobody->pw_uid, nobody->pw_uid) != 0) {
      result = "cannot become user nobody";
    } else {
      result = work();
    }
    const ssize_t written = ::write(pipe_ends[1], result.data(), result.size());
    ::_exit(written == static_cast<ssize_t>(result.size()) ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  std::string result;
  char buffer[4096];
  for (ssize_t got; (got = ::read(pipe_ends[0], buffer, sizeof(buffer))) > 0;) {
    result.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return result;
}

// A real NSS database made with certutil, as an operator would make it.
class NssCertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto created = shell("certutil -N -d sql:" + db() + " --empty-password");
    ASSERT_EQ(created.exit_code, 0) << created.output;
  }

  std::string db() const { return dir_.path().string(); }

  void add(const TestCertificate& certificate, const std::string& nickname,
           const std::string& trust) {
    const std::string file = dir_.file(nickname + ".pem");
    testing::writeFile(file, certificate.pem());
    const auto added = shell("certutil -A -d sql:" + db() + " -n " + testing::quoted(nickname) +
                             " -t " + testing::quoted(trust) + " -i " + file);
    ASSERT_EQ(added.exit_code, 0) << added.output;
  }

  const StoreCertificate& find(const StoreSnapshot& snapshot, const std::string& nickname) {
    const auto found = std::find_if(
        snapshot.certificates.begin(), snapshot.certificates.end(),
        [&](const StoreCertificate& certificate) { return certificate.nickname == nickname; });
    if (found == snapshot.certificates.end()) {
      throw std::runtime_error("no certificate " + nickname + " in the snapshot");
    }
    return *found;
  }

  std::string readError(const std::string& path) {
    try {
      NssCertStore(path).read();
    } catch (const StoreError& error) {
      return error.what();
    }
    return "read fine";
  }

  testing::TempDir dir_;
  TestCertificate root_ = TestCertificate::issue({.common_name = "Root", .ca = true}, nullptr);
  TestCertificate alice_ = TestCertificate::issue({.common_name = "alice"}, &root_);
};

TEST_F(NssCertStoreTest, ListsEveryCertificateWithNicknameTrustAndDer) {
  add(root_, "root", "CT,,");
  add(alice_, "alice", ",,");
  const StoreSnapshot snapshot = NssCertStore("sql:" + db()).read();
  ASSERT_EQ(snapshot.certificates.size(), 2u);
  const StoreCertificate& root = find(snapshot, "root");
  EXPECT_TRUE(root.trust.trusted_client_ca);
  EXPECT_TRUE(root.trust.trusted_server_ca);
  EXPECT_EQ(root.der, root_.der());
  const StoreCertificate& alice = find(snapshot, "alice");
  EXPECT_FALSE(alice.trust.trusted_client_ca);
  EXPECT_FALSE(alice.trust.trusted_peer);
  EXPECT_EQ(alice.der, alice_.der());
}

TEST_F(NssCertStoreTest, ClientCaTrustAloneIsSeen) {
  add(root_, "root", "T,,");
  const StoreSnapshot snapshot = NssCertStore(db()).read();
  const StoreCertificate& root = find(snapshot, "root");
  EXPECT_TRUE(root.trust.trusted_client_ca);
  EXPECT_FALSE(root.trust.trusted_server_ca);
}

TEST_F(NssCertStoreTest, TrustedPeerIsSeen) {
  add(alice_, "alice", "P,,");
  const StoreSnapshot snapshot = NssCertStore(db()).read();
  EXPECT_TRUE(find(snapshot, "alice").trust.trusted_peer);
}

TEST_F(NssCertStoreTest, ListsCrlsTheDatabaseHolds) {
  add(root_, "root", "CT,,");
  const auto crl = root_.crlDer({"1234"});
  testing::writeFile(dir_.file("root.crl"),
                     std::string(reinterpret_cast<const char*>(crl.data()), crl.size()));
  const auto imported = shell("crlutil -I -d sql:" + db() + " -i " + dir_.file("root.crl"));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const StoreSnapshot snapshot = NssCertStore(db()).read();
  ASSERT_EQ(snapshot.crls.size(), 1u);
  EXPECT_EQ(snapshot.crls[0].der, crl);
}

TEST_F(NssCertStoreTest, EmptyDatabaseIsAnEmptySnapshot) {
  const StoreSnapshot snapshot = NssCertStore(db()).read();
  EXPECT_TRUE(snapshot.certificates.empty());
  EXPECT_TRUE(snapshot.crls.empty());
}

TEST_F(NssCertStoreTest, SeesChangesBetweenReads) {
  add(root_, "root", "CT,,");
  const NssCertStore store(db());
  EXPECT_EQ(store.read().certificates.size(), 1u);
  add(alice_, "alice", ",,");
  EXPECT_EQ(store.read().certificates.size(), 2u);
  ASSERT_EQ(shell("certutil -D -d sql:" + db() + " -n alice").exit_code, 0);
  EXPECT_EQ(store.read().certificates.size(), 1u);
}

TEST_F(NssCertStoreTest, ReadingDoesNotModifyTheDatabase) {
  add(root_, "root", "CT,,");
  const std::string before = testing::readFile(dir_.file("cert9.db"));
  NssCertStore(db()).read();
  EXPECT_EQ(testing::readFile(dir_.file("cert9.db")), before);
}

TEST_F(NssCertStoreTest, MissingDirectoryNamesIt) {
  const std::string error = readError("sql:" + db() + "/absent");
  EXPECT_NE(error.find(db() + "/absent"), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
}

TEST_F(NssCertStoreTest, DirectoryWithoutADatabaseSaysHowToMakeOne) {
  testing::TempDir empty;
  const std::string error = readError(empty.path().string());
  EXPECT_NE(error.find("cert9.db not found"), std::string::npos) << error;
  EXPECT_NE(error.find("certutil -N"), std::string::npos) << error;
}

TEST_F(NssCertStoreTest, CorruptDatabaseIsAnErrorWithNssText) {
  add(root_, "root", "CT,,");
  testing::writeFile(dir_.file("cert9.db"), std::string(8192, '\x5a'));
  const std::string error = readError(db());
  EXPECT_NE(error.find("cannot open NSS database"), std::string::npos) << error;
  EXPECT_NE(error.find("SEC_ERROR"), std::string::npos) << error;
}

TEST_F(NssCertStoreTest, UnreadableDatabaseNamesTheFile) {
  add(root_, "root", "CT,,");
  ::chmod(dir_.file("cert9.db").c_str(), 0);
  if (::geteuid() != 0) {
    const std::string error = readError(db());
    EXPECT_NE(error.find("cannot read " + dir_.file("cert9.db")), std::string::npos) << error;
    return;
  }
  // Root reads any file: the read runs as nobody, who may enter the folders and read the rest.
  for (std::filesystem::path folder = dir_.path(); folder != folder.parent_path();
       folder = folder.parent_path()) {
    struct stat info {};
    if (::stat(folder.c_str(), &info) == 0 && (info.st_mode & S_IXOTH) == 0) {
      ::chmod(folder.c_str(), info.st_mode | S_IXOTH);
    }
  }
  for (const char* name : {"key4.db", "pkcs11.txt"}) {
    ::chmod(dir_.file(name).c_str(), 0644);
  }
  const std::string error = runAsNobody([&] { return readError(db()); });
  EXPECT_NE(error.find("cannot read " + dir_.file("cert9.db")), std::string::npos) << error;
}

TEST_F(NssCertStoreTest, DescribesItselfAndWatchesItsDirectory) {
  const NssCertStore store("sql:" + db());
  EXPECT_EQ(store.describe(), "nss:sql:" + db());
  EXPECT_EQ(store.watchLocations(), std::vector<std::string>{db()});
  EXPECT_THROW(NssCertStore("sql:"), StoreError);
}

TEST(OpenCertStore, CryptoApiStoresAreWindowsOnly) {
  try {
    openCertStore({.type = "cryptoapi", .path = "local_machine", .system_stores = {"Root"}});
    FAIL() << "opened a CryptoAPI store on Linux";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("exists only on Windows"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace certbridge::platform::nss
