#include "agent/crl_refresh.h"

#include <algorithm>
#include <sstream>

#include "agent/crl.h"
#include "agent/url_fetcher.h"

namespace certbridge::agent {
namespace {

// Clocks disagree a little; a CRL issued a few minutes "in the future" is still accepted.
constexpr std::int64_t kClockSkew = 300;

// Compares CRL numbers given as upper-case hex without leading zeros.
int compareNumbers(const std::string& left, const std::string& right) {
  if (left.size() != right.size()) {
    return left.size() < right.size() ? -1 : 1;
  }
  return left.compare(right);
}

void addUnique(std::vector<std::string>& urls, const std::string& url) {
  if (std::find(urls.begin(), urls.end(), url) == urls.end()) {
    urls.push_back(url);
  }
}

}  // namespace

CrlSources findCrlSources(const Certificate& ca,
                          const std::vector<storage::CertificateView>& certificates,
                          const std::vector<std::pair<std::string, platform::StoreCrl>>& store_crls,
                          const CrlSettings& settings) {
  CrlSources sources;
  for (const auto& [store, crl] : store_crls) {
    sources.store_crls.emplace_back("store:" + store, crl.der);
  }
  const auto addPoints = [&](const std::string& points) {
    std::istringstream words(points);
    for (std::string url; words >> url;) {
      if (url.starts_with("http://") || url.starts_with("file://")) {
        addUnique(sources.urls, url);
      }
    }
  };
  if (ca.isSelfSigned()) {
    addPoints(ca.record().crl_distribution_points);
  }
  for (const storage::CertificateView& view : certificates) {
    if (view.present && view.certificate.issuer == ca.record().subject &&
        view.certificate.sha256 != ca.record().sha256) {
      addPoints(view.certificate.crl_distribution_points);
    }
  }
  if (const auto extra = settings.extra_urls.find(ca.record().sha256);
      extra != settings.extra_urls.end()) {
    for (const std::string& url : extra->second) {
      addUnique(sources.urls, url);
    }
  }
  return sources;
}

CrlRefresher::CrlRefresher(const CrlSettings& settings, storage::Database& database,
                           Poco::Logger& logger)
    : settings_(settings), crls_(database), logger_(logger), random_(std::random_device{}()) {}

std::string CrlRefresher::consider(const Certificate& ca, std::span<const unsigned char> der,
                                   const std::string& source, std::int64_t now, bool& stored) {
  stored = false;
  try {
    const Crl crl = Crl::parse(der, "CRL from " + source);
    if (!crl.isIssuedBy(ca)) {
      return "issued by '" + crl.issuer() + "', not by this CA";
    }
    crl.verifySignature(ca);
    if (crl.thisUpdate() > now + kClockSkew) {
      return "thisUpdate is in the future";
    }
    if (crl.nextUpdate() && *crl.nextUpdate() <= now) {
      return "expired (nextUpdate has passed)";
    }
    const std::optional<storage::CrlRecord> held = crls_.current(ca.record().sha256);
    if (held) {
      int order = 0;
      if (held->number && crl.number()) {
        order = compareNumbers(*crl.number(), *held->number);
      }
      if (order == 0) {
        order = crl.thisUpdate() < held->this_update ? -1 : crl.thisUpdate() > held->this_update;
      }
      if (order < 0) {
        return "older than the CRL held (number " + held->number.value_or("none") + ")";
      }
      if (order == 0) {
        return "not newer than the CRL held";
      }
    }
    storage::CrlRecord record;
    record.ca_sha256 = ca.record().sha256;
    record.issuer = crl.issuer();
    record.number = crl.number();
    record.this_update = crl.thisUpdate();
    record.next_update = crl.nextUpdate();
    record.source = source;
    record.fetched_at = now;
    record.sha256 = sha256Hex(der);
    crls_.replace(record, der, [&](const auto& insert) {
      return static_cast<std::int64_t>(crl.forEachRevokedSerial(insert));
    });
    stored = true;
    return "";
  } catch (const std::exception& error) {
    return error.what();
  }
}

CrlRefreshResult CrlRefresher::refresh(const Certificate& ca, const CrlSources& sources,
                                       std::int64_t now, bool force) {
  const std::string& ca_sha256 = ca.record().sha256;
  CrlRefreshResult result{ca.record().subject, "not due", ""};
  storage::CrlFetchState state = crls_.fetchState(ca_sha256).value_or(
      storage::CrlFetchState{ca_sha256, std::nullopt, std::nullopt, "", "", 0});
  std::optional<storage::CrlRecord> held = crls_.current(ca_sha256);
  const bool due = force || !held || !state.next_fetch_at || *state.next_fetch_at <= now;

  std::vector<std::string> reasons;
  bool updated = false;
  const auto attempt = [&](const std::string& source, std::span<const unsigned char> der) {
    bool stored = false;
    const std::string reason = consider(ca, der, source, now, stored);
    if (stored) {
      updated = true;
      logger_.information("CRL for '%s' updated from %s", ca.record().subject, source);
    } else {
      reasons.push_back(source + ": " + reason);
    }
  };

  for (const auto& [source, der] : sources.store_crls) {
    if (!held || sha256Hex(der) != held->sha256) {
      attempt(source, der);
      held = crls_.current(ca_sha256);
    }
  }
  if (!due) {
    if (updated) {
      state.next_fetch_at = plannedFetch(*held, now);
      crls_.saveFetchState(state);
      result.result = "updated";
    }
    return result;
  }

  const FetchLimits limits{settings_.max_size, settings_.connect_timeout, settings_.read_timeout,
                           3};
  for (const std::string& url : sources.urls) {
    if (updated) {
      break;
    }
    try {
      const std::vector<unsigned char> der = crlDerFromBytes(fetchUrl(url, limits), url);
      attempt(url, der);
    } catch (const std::exception& error) {
      reasons.push_back(error.what());
    }
  }
  held = crls_.current(ca_sha256);

  state.last_attempt_at = now;
  if (updated) {
    result.result = state.last_result = "updated";
    state.last_error.clear();
    state.failures = 0;
    state.next_fetch_at = plannedFetch(*held, now);
  } else {
    std::string detail;
    for (const std::string& reason : reasons) {
      detail += (detail.empty() ? "" : "; ") + reason;
    }
    if (sources.store_crls.empty() && sources.urls.empty()) {
      detail =
          "no source: no store holds its CRL, no certificate it issued names a CRL "
          "distribution point, and [crl.urls] has none for it";
    }
    const bool held_valid = held && (!held->next_update || *held->next_update > now);
    const bool nothing_newer_yet = held_valid && !reasons.empty() &&
                                   std::all_of(reasons.begin(), reasons.end(), [](const auto& r) {
                                     return r.find("not newer than") != std::string::npos;
                                   });
    result.result = state.last_result = nothing_newer_yet ? "unchanged" : "failed";
    state.last_error = detail;
    const std::int64_t planned = held_valid ? plannedFetch(*held, now) : now;
    if (planned > now) {
      state.failures = 0;
      state.next_fetch_at = planned;
    } else {
      ++state.failures;
      state.next_fetch_at = backoff(state.failures, now);
    }
    result.detail = detail;
  }
  crls_.saveFetchState(state);
  return result;
}

std::int64_t CrlRefresher::plannedFetch(const storage::CrlRecord& crl, std::int64_t now) {
  if (!crl.next_update) {
    return now + settings_.retry_max.count();
  }
  const std::int64_t window = std::max<std::int64_t>(*crl.next_update - crl.this_update, 1);
  std::int64_t at = crl.this_update + window * settings_.refresh_at_percent / 100;
  at = std::min(at, *crl.next_update - settings_.min_lead.count());
  // Jitter: up to 5 % of the window earlier, so that many agents do not fetch at once.
  const std::int64_t spread = window / 20;
  if (spread > 0) {
    at -= std::uniform_int_distribution<std::int64_t>(0, spread)(random_);
  }
  return at;
}

std::int64_t CrlRefresher::backoff(int failures, std::int64_t now) const {
  std::int64_t delay = settings_.retry_initial.count();
  for (int i = 1; i < failures && delay < settings_.retry_max.count(); ++i) {
    delay *= 2;
  }
  return now + std::min(delay, static_cast<std::int64_t>(settings_.retry_max.count()));
}

std::optional<std::int64_t> CrlRefresher::nextDue() {
  std::optional<std::int64_t> earliest;
  for (const storage::CrlFetchState& state : crls_.fetchStates()) {
    if (state.next_fetch_at && (!earliest || *state.next_fetch_at < *earliest)) {
      earliest = state.next_fetch_at;
    }
  }
  return earliest;
}

}  // namespace certbridge::agent
