#include "storage/certificate_page.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

#include "storage/certificate_repository.h"

namespace certbridge::storage {
namespace {

// Present: some store holds it now.
constexpr std::string_view kPresent =
    "EXISTS (SELECT 1 FROM certificate_sources s WHERE s.sha256 = c.sha256 AND s.gone_at IS NULL)";

// The state as storage knows it (CertificateQuery::state), from the decision and whether the
// last render left the client out of clients.map.
constexpr std::string_view kState =
    "(CASE WHEN t.state IS NULL THEN 'none' "
    "WHEN t.state = 'trusted' AND l.sha1 IS NOT NULL THEN 'left out' ELSE t.state END)";

constexpr std::string_view kJoins =
    " FROM certificates c LEFT JOIN trust_decisions t ON t.sha256 = c.sha256"
    " LEFT JOIN left_out_clients l ON l.sha1 = c.sha1 ";

constexpr std::array<std::string_view, 5> kStates = {"trusted", "left out", "pending", "blocked",
                                                     "none"};

std::string lowerAscii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string upperAscii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

bool isHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isxdigit(c) != 0; });
}

// "AB:cd ef" -> "abcdef".
std::string normalisedFingerprint(const std::string& text) {
  std::string hex;
  for (const char c : text) {
    if (c != ':' && c != ' ') {
      hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return hex;
}

struct Cursor {
  UnixTime not_after = 0;
  std::string sha256;
};

// "<not_after>.<sha256>": where the previous page ended.
std::optional<Cursor> parseCursor(const std::string& text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string::npos || dot == 0) {
    return std::nullopt;
  }
  Cursor cursor;
  const char* end = text.data() + dot;
  const auto [parsed_to, error] = std::from_chars(text.data(), end, cursor.not_after);
  cursor.sha256 = text.substr(dot + 1);
  if (error != std::errc() || parsed_to != end || cursor.sha256.size() != 64 ||
      !isHex(cursor.sha256)) {
    return std::nullopt;
  }
  return cursor;
}

// The WHERE clause of a query (present certificates and the filters), with its parameters in
// order; the SQL text depends only on which filters are set, so statements stay cached.
struct Filter {
  std::string where;
  std::vector<std::string> parameters;
};

Filter filterOf(const CertificateQuery& query) {
  Filter filter;
  filter.where = " WHERE " + std::string(kPresent);
  if (!query.subject.empty()) {
    filter.where += " AND instr(lower(c.subject), ?) > 0";
    filter.parameters.push_back(lowerAscii(query.subject));
  }
  if (!query.issuer.empty()) {
    filter.where += " AND instr(lower(c.issuer), ?) > 0";
    filter.parameters.push_back(lowerAscii(query.issuer));
  }
  if (!query.serial.empty()) {
    filter.where += " AND c.serial = ?";
    filter.parameters.push_back(upperAscii(query.serial));
  }
  if (!query.fingerprint.empty()) {
    // A prefix as a range, so the SHA-256 key and the SHA-1 index answer it.
    filter.where +=
        " AND ((c.sha256 >= ? AND c.sha256 < ? || 'g') OR (c.sha1 >= ? AND c.sha1 < ? || 'g'))";
    const std::string hex = normalisedFingerprint(query.fingerprint);
    filter.parameters.insert(filter.parameters.end(), {hex, hex, hex, hex});
  }
  if (!query.state.empty()) {
    filter.where += " AND " + std::string(kState) + " = ?";
    filter.parameters.push_back(query.state);
  }
  return filter;
}

int bindAll(Statement& statement, const std::vector<std::string>& parameters) {
  int index = 1;
  for (const std::string& parameter : parameters) {
    statement.bind(index++, parameter);
  }
  return index;
}

CertificateStatus statusOf(CertificateRepository& repository, const std::string& sha256,
                           const std::string& state) {
  CertificateStatus status;
  if (std::optional<CertificateView> view = repository.certificateView(sha256)) {
    status.view = std::move(*view);
  }
  status.trust = state == "none" ? "" : state;
  return status;
}

}  // namespace

void CertificateQuery::validate() const {
  if (limit < 1 || limit > kMaxPageLimit) {
    throw BadCertificateQuery("limit must be between 1 and " + std::to_string(kMaxPageLimit) +
                              ", not " + std::to_string(limit));
  }
  if (!state.empty() && std::find(kStates.begin(), kStates.end(), state) == kStates.end()) {
    throw BadCertificateQuery("state '" + state +
                              "' is not one of trusted, left out, pending, blocked, none");
  }
  if (!fingerprint.empty()) {
    const std::string hex = normalisedFingerprint(fingerprint);
    if (hex.empty() || hex.size() > 64 || !isHex(hex)) {
      throw BadCertificateQuery("fingerprint '" + fingerprint +
                                "' is not hexadecimal (the start of a SHA-256 or SHA-1, colons "
                                "allowed)");
    }
  }
  if (!cursor.empty() && !parseCursor(cursor)) {
    throw BadCertificateQuery("cursor '" + cursor +
                              "' is not one this server gave (use next_cursor of a page)");
  }
}

CertificatePage readCertificatePage(Database& database, const CertificateQuery& query,
                                    bool count_matches) {
  query.validate();
  const Filter filter = filterOf(query);
  const std::string order = query.soonest_first ? "ASC" : "DESC";
  std::string page_sql =
      "SELECT c.sha256, c.not_after, " + std::string(kState) + std::string(kJoins) + filter.where;
  const std::optional<Cursor> cursor =
      query.cursor.empty() ? std::nullopt : parseCursor(query.cursor);
  if (cursor) {
    const char* after = query.soonest_first ? ">" : "<";
    page_sql += std::string(" AND (c.not_after ") + after + " ? OR (c.not_after = ? AND c.sha256 " +
                after + " ?))";
  }
  page_sql += " ORDER BY c.not_after " + order + ", c.sha256 " + order + " LIMIT ?";
  const std::string count_sql = "SELECT COUNT(*)" + std::string(kJoins) + filter.where;

  CertificatePage page;
  database.read([&] {
    struct Found {
      std::string sha256;
      UnixTime not_after;
      std::string state;
    };
    std::vector<Found> found;
    {
      Statement select = database.prepare(page_sql.c_str());
      int index = bindAll(select, filter.parameters);
      if (cursor) {
        select.bind(index, cursor->not_after);
        select.bind(index + 1, cursor->not_after);
        select.bind(index + 2, cursor->sha256);
        index += 3;
      }
      select.bind(index, query.limit + 1);
      while (select.step()) {
        found.push_back({select.text(0), select.integer(1), select.text(2)});
      }
    }
    if (static_cast<std::int64_t>(found.size()) > query.limit) {
      found.pop_back();  // only there to say that another page follows
      page.next_cursor = std::to_string(found.back().not_after) + "." + found.back().sha256;
    }
    CertificateRepository repository(database);
    for (const Found& row : found) {
      page.rows.push_back(statusOf(repository, row.sha256, row.state));
    }
    if (count_matches) {
      Statement count = database.prepare(count_sql.c_str());
      bindAll(count, filter.parameters);
      page.matched = count.step() ? count.integer(0) : 0;
    }
  });
  return page;
}

CertificateSummary readCertificateSummary(Database& database, UnixTime now, std::int64_t soonest) {
  constexpr std::int64_t kDay = 86400;
  CertificateSummary summary;
  database.read([&] {
    // One scan for both: by state and expiry band.
    static const std::string counts_sql =
        "SELECT " + std::string(kState) +
        ", CASE WHEN c.not_after < ?1 THEN 0 WHEN c.not_after < ?1 + ?2 THEN 1 "
        "WHEN c.not_after < ?1 + ?3 THEN 2 ELSE 3 END, COUNT(*)" +
        std::string(kJoins) + " WHERE " + std::string(kPresent) + " GROUP BY 1, 2";
    std::map<std::string, std::int64_t> counts;
    std::array<std::int64_t, 4> bands{};
    Statement select_counts = database.prepare(counts_sql.c_str());
    select_counts.bind(1, now).bind(2, 7 * kDay).bind(3, 30 * kDay);
    while (select_counts.step()) {
      counts[select_counts.text(0)] += select_counts.integer(2);
      bands.at(static_cast<std::size_t>(select_counts.integer(1))) += select_counts.integer(2);
    }
    for (const std::string_view state : kStates) {
      const std::int64_t count = counts[std::string(state)];
      summary.by_state.emplace_back(std::string(state), count);
      summary.total += count;
    }
    summary.expired = bands[0];
    summary.within_week = bands[1];
    summary.within_month = bands[2];
    summary.later = bands[3];

    static const std::string next_sql = "SELECT c.sha256, " + std::string(kState) +
                                        std::string(kJoins) + " WHERE " + std::string(kPresent) +
                                        " AND c.not_after >= ? ORDER BY c.not_after, c.sha256 "
                                        "LIMIT ?";
    CertificateRepository repository(database);
    std::vector<std::pair<std::string, std::string>> next;
    {
      Statement select = database.prepare(next_sql.c_str());
      select.bind(1, now).bind(2, std::max<std::int64_t>(soonest, 1));
      while (select.step()) {
        next.emplace_back(select.text(0), select.text(1));
      }
    }
    for (const auto& [sha256, state] : next) {
      summary.next_to_expire.push_back(statusOf(repository, sha256, state));
    }
    if (!summary.next_to_expire.empty()) {
      summary.soonest_expiry = summary.next_to_expire.front().view.certificate.not_after;
    }
  });
  return summary;
}

bool CertificateQuery::filtered() const {
  return !subject.empty() || !issuer.empty() || !serial.empty() || !fingerprint.empty() ||
         !state.empty();
}

std::string certificateDataVersion(Database& database) {
  std::string version;
  database.read([&] {
    Statement select = database.prepare(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM audit_log), "
        "(SELECT COALESCE(MAX(id), 0) FROM publish_history)");
    if (select.step()) {
      version = std::to_string(select.integer(0)) + "/" + std::to_string(select.integer(1));
    }
  });
  return version;
}

std::vector<CertificateView> readPresentCas(Database& database) {
  return CertificateRepository(database).listPresentCas();
}

std::vector<CertificateStatus> readSoonestExpiring(Database& database, std::int64_t at_least,
                                                   UnixTime until) {
  std::vector<CertificateStatus> rows;
  database.read([&] {
    static const std::string within_sql = "SELECT COUNT(*) FROM certificates c WHERE " +
                                          std::string(kPresent) + " AND c.not_after < ?";
    Statement within = database.prepare(within_sql.c_str());
    within.bind(1, until);
    const std::int64_t limit = std::max(at_least, within.step() ? within.integer(0) : 0);

    static const std::string soonest_sql = "SELECT c.sha256, " + std::string(kState) +
                                           std::string(kJoins) + " WHERE " + std::string(kPresent) +
                                           " ORDER BY c.not_after, c.sha256 LIMIT ?";
    std::vector<std::pair<std::string, std::string>> found;
    {
      Statement select = database.prepare(soonest_sql.c_str());
      select.bind(1, limit);
      while (select.step()) {
        found.emplace_back(select.text(0), select.text(1));
      }
    }
    CertificateRepository repository(database);
    for (const auto& [sha256, state] : found) {
      rows.push_back(statusOf(repository, sha256, state));
    }
  });
  return rows;
}

void recordLeftOutClients(Database& database, const std::vector<std::string>& sha1s) {
  database.transaction([&] {
    std::set<std::string> wanted(sha1s.begin(), sha1s.end());
    std::vector<std::string> stale;
    {
      Statement select = database.prepare("SELECT sha1 FROM left_out_clients");
      while (select.step()) {
        std::string sha1 = select.text(0);
        if (wanted.erase(sha1) == 0) {
          stale.push_back(std::move(sha1));
        }
      }
    }
    Statement remove = database.prepare("DELETE FROM left_out_clients WHERE sha1 = ?");
    for (const std::string& sha1 : stale) {
      remove.bind(1, sha1).run();
    }
    Statement insert = database.prepare("INSERT INTO left_out_clients (sha1) VALUES (?)");
    for (const std::string& sha1 : wanted) {
      insert.bind(1, sha1).run();
    }
  });
}

}  // namespace certbridge::storage
