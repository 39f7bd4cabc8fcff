#include "agent/crl/crl_refresh.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <sstream>

#include "agent/crl/url_fetcher.h"
#include "agent/pki/crl.h"
#include "agent/pki/der_reader.h"
#include "storage/certificate_repository.h"

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

void addUnique(std::vector<std::string>& texts, const std::string& text) {
  if (std::find(texts.begin(), texts.end(), text) == texts.end()) {
    texts.push_back(text);
  }
}

// The host of an http:// URL, for [crl] allowed_hosts; empty when it has none.
std::string hostOf(const std::string& url) {
  try {
    return Poco::URI(url).getHost();
  } catch (const Poco::Exception&) {
    return "";
  }
}

// Whether a certificate is held by an OS store, not only by the web page's "uploads"
// pseudo-store. `sources` lists "store/nickname" pairs; the nickname of an upload is "uploaded by
// ACTOR", and no OS store may be called "uploads" (the configuration refuses the name).
bool heldByAnOsStore(const storage::CertificateView& view) {
  const std::string upload_prefix = std::string(storage::CertificateRepository::kUploadStore) + "/";
  std::size_t start = 0;
  while (start < view.sources.size()) {
    std::size_t end = view.sources.find(", ", start);
    if (end == std::string::npos) {
      end = view.sources.size();
    }
    if (view.sources.compare(start, upload_prefix.size(), upload_prefix) != 0) {
      return true;
    }
    start = end + 2;
  }
  return false;
}

}  // namespace

std::string toString(CrlRefreshOutcome outcome) {
  switch (outcome) {
    case CrlRefreshOutcome::updated: return "updated";
    case CrlRefreshOutcome::unchanged: return "unchanged";
    case CrlRefreshOutcome::failed: return "failed";
    case CrlRefreshOutcome::not_due: return "not due";
  }
  return "failed";
}

CrlSources findCrlSources(const Certificate& ca,
                          const std::vector<storage::CertificateView>& certificates,
                          const std::vector<std::pair<std::string, platform::StoreCrl>>& store_crls,
                          const CrlSettings& settings) {
  CrlSources sources;
  for (const auto& [store, crl] : store_crls) {
    sources.store_crls.emplace_back("store:" + store, crl.der);
  }
  const auto addPoints = [&](const std::string& points, const std::string& named_by,
                             bool uploaded) {
    std::istringstream words(points);
    for (std::string url; words >> url;) {
      const std::string where = url + " (named by " + named_by + ")";
      if (uploaded && !settings.upload_cdps) {
        addUnique(sources.refused, where +
                                       ": not fetched, the certificate was uploaded through "
                                       "the web page and [crl] upload_cdps is off");
      } else if (url.starts_with("file://")) {
        addUnique(sources.refused, where + ": file:// is read only from [crl.urls]");
      } else if (!url.starts_with("http://")) {
        continue;  // https://, ldap://: not fetched, as documented
      } else if (!settings.allowed_hosts.empty() &&
                 !hostMatches(hostOf(url), settings.allowed_hosts)) {
        addUnique(sources.refused,
                  where + ": host '" + hostOf(url) + "' is not in [crl] allowed_hosts");
      } else if (std::find(sources.urls.begin(), sources.urls.end(), CrlUrl{url, false}) ==
                 sources.urls.end()) {
        sources.urls.push_back(CrlUrl{url, false});
      }
    }
  };
  if (ca.isSelfSigned()) {
    addPoints(ca.record().crl_distribution_points, "the CA itself", false);
  }
  for (const storage::CertificateView& view : certificates) {
    if (view.present && view.certificate.issuer == ca.record().subject &&
        view.certificate.sha256 != ca.record().sha256) {
      addPoints(view.certificate.crl_distribution_points, "'" + view.certificate.subject + "'",
                !heldByAnOsStore(view));
    }
  }
  if (const auto extra = settings.extra_urls.find(ca.record().sha256);
      extra != settings.extra_urls.end()) {
    for (const std::string& url : extra->second) {
      if (std::find(sources.urls.begin(), sources.urls.end(), CrlUrl{url, true}) ==
          sources.urls.end()) {
        sources.urls.push_back(CrlUrl{url, true});
      }
    }
  }
  return sources;
}

CrlRefresher::CrlRefresher(const CrlSettings& settings, storage::Database& database,
                           Poco::Logger& logger)
    : settings_(settings), crls_(database), logger_(logger), random_(std::random_device{}()) {}

CrlRefresher::Consideration CrlRefresher::consider(const Certificate& ca,
                                                   std::span<const unsigned char> der,
                                                   const std::string& source, std::int64_t now) {
  const auto refused = [](std::string reason) {
    return Consideration{Verdict::refused, std::move(reason)};
  };
  std::optional<Crl> parsed;
  try {
    parsed.emplace(Crl::parse(der, "CRL from " + source));
    if (!parsed->isIssuedBy(ca)) {
      return refused("issued by '" + parsed->issuer() + "', not by this CA");
    }
    parsed->verifySignature(ca);
  } catch (const CrlError& error) {
    return refused(error.what());
  } catch (const DerError& error) {
    return refused(error.what());
  }
  const Crl& crl = *parsed;
  if (crl.thisUpdate() > now + kClockSkew) {
    return refused("thisUpdate is in the future");
  }
  if (crl.nextUpdate() && *crl.nextUpdate() <= now) {
    return refused("expired (nextUpdate has passed)");
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
      return refused("older than the CRL held (number " + held->number.value_or("none") + ")");
    }
    if (order == 0) {
      return Consideration{Verdict::not_newer, "not newer than the CRL held"};
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
  try {
    crls_.replace(record, der, [&](const auto& insert) {
      return static_cast<std::int64_t>(crl.forEachRevokedSerial(insert));
    });
  } catch (const CrlError& error) {
    // A malformed revoked entry, found while storing them (the transaction is rolled back).
    return refused(error.what());
  }
  return Consideration{Verdict::stored, ""};
}

CrlRefreshResult CrlRefresher::refresh(const Certificate& ca, const CrlSources& sources,
                                       std::int64_t now, bool force) {
  const std::string& ca_sha256 = ca.record().sha256;
  CrlRefreshResult result{ca.record().subject, CrlRefreshOutcome::not_due, ""};
  storage::CrlFetchState state = crls_.fetchState(ca_sha256).value_or(
      storage::CrlFetchState{ca_sha256, std::nullopt, std::nullopt, "", "", 0});
  std::optional<storage::CrlRecord> held = crls_.current(ca_sha256);
  const bool due = force || !held || !state.next_fetch_at || *state.next_fetch_at <= now;

  std::vector<std::string> reasons;
  bool updated = false;
  // Whether every source that answered gave a CRL no newer than the one held, and none failed.
  bool only_not_newer = true;
  const auto attempt = [&](const std::string& source, std::span<const unsigned char> der) {
    const Consideration consideration = consider(ca, der, source, now);
    if (consideration.verdict == Verdict::stored) {
      updated = true;
      logger_.information("CRL for '%s' updated from %s", ca.record().subject, source);
      return;
    }
    if (consideration.verdict != Verdict::not_newer) {
      only_not_newer = false;
    }
    reasons.push_back(source + ": " + consideration.reason);
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
      result.result = CrlRefreshOutcome::updated;
    }
    return result;
  }

  for (const CrlUrl& source : sources.urls) {
    if (updated) {
      break;
    }
    FetchLimits limits{settings_.max_size, settings_.connect_timeout, settings_.read_timeout, 3};
    limits.allow_file = source.configured;
    if (!source.configured) {
      limits.allowed_hosts = settings_.allowed_hosts;
    }
    std::vector<unsigned char> der;
    try {
      der = crlDerFromBytes(fetchUrl(source.url, limits), source.url);
    } catch (const FetchError& error) {
      only_not_newer = false;
      reasons.push_back(error.what());
      continue;
    } catch (const CrlError& error) {
      only_not_newer = false;
      reasons.push_back(error.what());
      continue;
    }
    attempt(source.url, der);
  }
  held = crls_.current(ca_sha256);

  state.last_attempt_at = now;
  if (updated) {
    result.result = CrlRefreshOutcome::updated;
    state.last_result = toString(result.result);
    state.last_error.clear();
    state.failures = 0;
    state.next_fetch_at = plannedFetch(*held, now);
  } else {
    const bool held_valid = held && (!held->next_update || *held->next_update > now);
    const bool nothing_newer_yet = held_valid && !reasons.empty() && only_not_newer;
    if (sources.store_crls.empty() && sources.urls.empty()) {
      reasons.assign(1,
                     "no source: no store holds its CRL, no certificate it issued names a usable "
                     "CRL distribution point, and [crl.urls] has none for it");
    }
    reasons.insert(reasons.end(), sources.refused.begin(), sources.refused.end());
    std::string detail;
    for (const std::string& reason : reasons) {
      detail += (detail.empty() ? "" : "; ") + reason;
    }
    result.result = nothing_newer_yet ? CrlRefreshOutcome::unchanged : CrlRefreshOutcome::failed;
    state.last_result = toString(result.result);
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
