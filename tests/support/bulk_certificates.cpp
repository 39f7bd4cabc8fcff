#include "tests/support/bulk_certificates.h"

#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "storage/digest.h"

namespace certbridge::testing {

void addBulkClients(storage::Database& database, int count, std::int64_t now, bool mixed_states) {
  // Rows keyed by SHA-256 land all over five B-trees: with SQLite's default 2 MB page cache the
  // insert spends its time re-reading pages. A large cache for the fill, then the default again.
  database.execute("PRAGMA cache_size = -524288");
  database.transaction([&] {
    database
        .prepare(
            "INSERT INTO stores (name, type, location, policy) "
            "VALUES ('bulk', 'nss', 'sql:/bulk', 'auto')")
        .run();
    storage::Statement certificate = database.prepare(
        "INSERT INTO certificates (sha256, sha1, der, subject, issuer, serial, not_before, "
        "not_after, key_type, extended_key_usage, is_ca, crl_distribution_points) "
        "VALUES (?, ?, ?, ?, 'CN=Bulk Issuing CA', ?, ?, ?, 'EC prime256v1', 'clientAuth', 0, "
        "'')");
    storage::Statement source = database.prepare(
        "INSERT INTO certificate_sources (sha256, store_name, nickname, role, first_seen, "
        "last_seen) VALUES (?, 'bulk', ?, 'client', ?, ?)");
    storage::Statement decision = database.prepare(
        "INSERT INTO trust_decisions (sha256, state, decided_by, decided_at) "
        "VALUES (?, ?, 'policy:auto', ?)");
    storage::Statement left_out = database.prepare("INSERT INTO left_out_clients VALUES (?)");
    const std::vector<unsigned char> der = {0x30, 0x00};
    char name[32];
    for (int i = 0; i < count; ++i) {
      std::snprintf(name, sizeof(name), "bulk-%06d", i);
      const std::string sha256 = storage::sha256Hex(std::string("256 ") + name);
      const std::string sha1 = storage::sha256Hex(std::string("1 ") + name).substr(0, 40);
      certificate.bind(1, sha256)
          .bind(2, sha1)
          .bind(3, std::span<const unsigned char>(der))
          .bind(4, std::string("CN=") + name)
          .bind(5, std::to_string(100000 + i))
          .bind(6, now - 30 * 86400)
          .bind(7, now - 5 * 86400 + std::int64_t{i} * 600)
          .run();
      source.bind(1, sha256).bind(2, std::string(name)).bind(3, now).bind(4, now).run();
      const char* state = !mixed_states ? "pending"
                          : i % 10 == 0 ? "blocked"
                          : i % 10 == 1 ? "pending"
                                        : "trusted";
      decision.bind(1, sha256).bind(2, std::string(state)).bind(3, now).run();
      if (mixed_states && i % 100 == 2) {
        left_out.bind(1, sha1).run();
      }
    }
  });
  database.execute("PRAGMA cache_size = -2000");
}

}  // namespace certbridge::testing
