#include "storage/crl_repository.h"

#include <algorithm>

namespace certbridge::storage {
namespace {

constexpr const char* kCrlColumns =
    "ca_sha256, issuer, crl_number, this_update, next_update, source, fetched_at, sha256, "
    "revoked_count";

CrlRecord readCrl(const Statement& row) {
  CrlRecord record;
  record.ca_sha256 = row.text(0);
  record.issuer = row.text(1);
  if (!row.isNull(2)) {
    record.number = row.text(2);
  }
  record.this_update = row.integer(3);
  record.next_update = row.optionalInteger(4);
  record.source = row.text(5);
  record.fetched_at = row.integer(6);
  record.sha256 = row.text(7);
  record.revoked_count = row.integer(8);
  return record;
}

CrlFetchState readFetchState(const Statement& row) {
  return CrlFetchState{
      row.text(0), row.optionalInteger(1),          row.optionalInteger(2), row.text(3),
      row.text(4), static_cast<int>(row.integer(5))};
}

constexpr const char* kFetchColumns =
    "ca_sha256, next_fetch_at, last_attempt_at, last_result, last_error, failures";

}  // namespace

std::string crlLevel(const std::optional<CrlRecord>& crl, UnixTime now,
                     std::int64_t warning_margin) {
  if (!crl || (crl->next_update && *crl->next_update <= now)) {
    return "error";
  }
  return crl->next_update && *crl->next_update - now < warning_margin ? "warning" : "ok";
}

std::optional<CrlRecord> CrlRepository::current(const std::string& ca_sha256) {
  std::optional<CrlRecord> record;
  database_.read([&] {
    Statement select = database_.prepare(
        (std::string("SELECT ") + kCrlColumns + " FROM crls WHERE ca_sha256 = ?").c_str());
    select.bind(1, ca_sha256);
    if (select.step()) {
      record = readCrl(select);
    }
  });
  return record;
}

std::vector<CrlRecord> CrlRepository::list() {
  std::vector<CrlRecord> records;
  database_.read([&] {
    Statement select = database_.prepare(
        (std::string("SELECT ") + kCrlColumns + " FROM crls ORDER BY issuer").c_str());
    while (select.step()) {
      records.push_back(readCrl(select));
    }
  });
  return records;
}

std::vector<unsigned char> CrlRepository::der(const std::string& ca_sha256) {
  std::vector<unsigned char> der;
  database_.read([&] {
    Statement select = database_.prepare("SELECT der FROM crls WHERE ca_sha256 = ?");
    select.bind(1, ca_sha256);
    if (select.step()) {
      der = select.blob(0);
    }
  });
  return der;
}

void CrlRepository::replace(const CrlRecord& record, std::span<const unsigned char> der,
                            const SerialSource& serials) {
  database_.transaction([&] {
    database_.prepare("DELETE FROM revoked_serials WHERE ca_sha256 = ?")
        .bind(1, record.ca_sha256)
        .run();
    Statement insert = database_.prepare(
        "INSERT OR IGNORE INTO revoked_serials (ca_sha256, serial) VALUES (?, ?)");
    const std::int64_t revoked_count = serials(
        [&](const std::string& serial) { insert.bind(1, record.ca_sha256).bind(2, serial).run(); });
    Statement upsert = database_.prepare(R"sql(
        INSERT OR REPLACE INTO crls (ca_sha256, issuer, crl_number, this_update, next_update,
                                     source, fetched_at, sha256, revoked_count, der)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql");
    upsert.bind(1, record.ca_sha256).bind(2, record.issuer);
    if (record.number) {
      upsert.bind(3, *record.number);
    } else {
      upsert.bindNull(3);
    }
    upsert.bind(4, record.this_update)
        .bind(5, record.next_update)
        .bind(6, record.source)
        .bind(7, record.fetched_at)
        .bind(8, record.sha256)
        .bind(9, revoked_count)
        .bindUncopied(10, der)
        .run();
  });
}

bool CrlRepository::isRevoked(const std::string& ca_sha256, const std::string& serial) {
  bool revoked = false;
  database_.read([&] {
    Statement select =
        database_.prepare("SELECT 1 FROM revoked_serials WHERE ca_sha256 = ? AND serial = ?");
    select.bind(1, ca_sha256).bind(2, serial);
    revoked = select.step();
  });
  return revoked;
}

void CrlRepository::saveFetchState(const CrlFetchState& state) {
  database_.transaction([&] {
    database_
        .prepare(R"sql(
        INSERT OR REPLACE INTO crl_fetches (ca_sha256, next_fetch_at, last_attempt_at,
                                            last_result, last_error, failures)
        VALUES (?, ?, ?, ?, ?, ?))sql")
        .bind(1, state.ca_sha256)
        .bind(2, state.next_fetch_at)
        .bind(3, state.last_attempt_at)
        .bind(4, state.last_result)
        .bind(5, state.last_error)
        .bind(6, std::int64_t{state.failures})
        .run();
  });
}

std::optional<CrlFetchState> CrlRepository::fetchState(const std::string& ca_sha256) {
  std::optional<CrlFetchState> state;
  database_.read([&] {
    Statement select = database_.prepare(
        (std::string("SELECT ") + kFetchColumns + " FROM crl_fetches WHERE ca_sha256 = ?").c_str());
    select.bind(1, ca_sha256);
    if (select.step()) {
      state = readFetchState(select);
    }
  });
  return state;
}

void CrlRepository::retainFetchStates(const std::vector<std::string>& ca_sha256s) {
  const std::vector<CrlFetchState> states = fetchStates();
  database_.transaction([&] {
    Statement remove = database_.prepare("DELETE FROM crl_fetches WHERE ca_sha256 = ?");
    for (const CrlFetchState& state : states) {
      if (std::find(ca_sha256s.begin(), ca_sha256s.end(), state.ca_sha256) == ca_sha256s.end()) {
        remove.bind(1, state.ca_sha256).run();
      }
    }
  });
}

std::vector<CrlFetchState> CrlRepository::fetchStates() {
  std::vector<CrlFetchState> states;
  database_.read([&] {
    Statement select =
        database_.prepare((std::string("SELECT ") + kFetchColumns + " FROM crl_fetches").c_str());
    while (select.step()) {
      states.push_back(readFetchState(select));
    }
  });
  return states;
}

}  // namespace certbridge::storage
