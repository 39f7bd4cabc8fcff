#pragma once

#include <cstddef>
#include <string>

namespace certbridge::bench {

// Imports the certificates of a `certutil -B` batch file (lines "-A -n NAME -t ,, -i FILE.pem")
// into the NSS database DATABASE_DIR through NSS's PKCS#11 API: one certificate object per line
// with the attributes PK11_ImportCert gives it (class, token, type, CKA_ID from the public key,
// label, value, issuer, subject, DER serial), so the database is the one certutil -B makes.
// certutil -B grows with the database: each certificate it adds is looked up by issuer and serial
// (several times by NSS's certificate layer, once more by softoken), the issuer index narrows each
// lookup to the certificates of the same issuer only, and NSS reads those rows into the empty page
// cache of a new SQLite connection for every write. Here softoken's lookup is the only one, and
// SQLite's shared cache, made large enough, keeps the pages between writes (20,000 clients: 10.5 s
// where certutil -B takes about 2 minutes; 100,000: 104 s). DATABASE_DIR must hold a database
// already (certutil -N). Only lines without trust (",,") are accepted, since PK11_ImportCert makes
// no trust object for those; any other line is an error naming it (give those to certutil -B).
// Returns the number of certificates imported.
std::size_t importUntrustedCertificates(const std::string& database_dir,
                                        const std::string& batch_path);

}  // namespace certbridge::bench
