#pragma once

#include <stdexcept>

namespace certbridge::storage {

// Any failure to open, migrate, read or write the database; the message names the file and
// carries SQLite's own text.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace certbridge::storage
