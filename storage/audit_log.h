#pragma once

#include <optional>
#include <vector>

#include "storage/database.h"
#include "storage/records.h"

namespace certbridge::storage {

// Append-only record of who changed what, when and from where. Borrows the Database; as
// thread-safe as the Database.
class AuditLog {
 public:
  explicit AuditLog(Database& database) : database_(database) {}

  // Joins the caller's transaction when there is one.
  void append(const AuditEntry& entry);
  // Newest first.
  std::vector<AuditEntry> recent(int limit);
  std::optional<AuditEntry> find(std::int64_t id);

 private:
  Database& database_;
};

// The outcome of every publish attempt, kept for [storage] history_days (see prune()). Borrows
// the Database; as thread-safe as the Database.
class PublishHistory {
 public:
  explicit PublishHistory(Database& database) : database_(database) {}

  void append(const PublishRecord& record);
  std::optional<PublishRecord> last();
  // The last attempt that changed files or failed: what an operator wants to see.
  std::optional<PublishRecord> lastChange();
  // How many publishes reloaded nginx, and how many failed, ever (pruned rows included).
  std::pair<std::int64_t, std::int64_t> countPublishedAndFailed();
  // Deletes the attempts made before `older_than`, except the last attempt and the last change,
  // keeping their count for countPublishedAndFailed(); returns how many were deleted.
  std::int64_t prune(UnixTime older_than);

 private:
  std::optional<PublishRecord> selectOne(const char* sql);

  Database& database_;
};

}  // namespace certbridge::storage
