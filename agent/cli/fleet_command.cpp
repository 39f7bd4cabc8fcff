#include <ostream>
#include <string>

#include "agent/cli/cli_command.h"
#include "agent/config/config.h"
#include "agent/fleet/fleet_member.h"

namespace certbridge::agent {
namespace {

constexpr const char* kFleetHelp =
    R"(Usage: certbridge [--config FILE] fleet init [--postgres CONNINFO]

Creates the fleet's tables in PostgreSQL (schema "certbridge"), or upgrades them to this
version of certbridge, in one transaction; run it once, and after upgrading certbridge, as a
role that may create them (their owner). The database is [fleet] postgres of the configuration
unless --postgres names another (a libpq conninfo or postgresql:// URI, without a password: libpq
reads it from a passfile or PGPASSFILE). Agents then connect as a least-privilege role (README,
Fleet). Exits 0 when the schema is current, 1 with the reason otherwise. Linux only.
)";

int commandFleet(const CommandLine& line) {
  const std::vector<std::string>& options = line.options;
  if (options.empty() || options.front() != "init") {
    throw UsageError("'fleet' needs a subcommand: fleet init [--postgres CONNINFO]");
  }
  std::string conninfo;
  for (std::size_t i = 1; i < options.size(); ++i) {
    if (options[i] == "--postgres" && i + 1 < options.size()) {
      conninfo = options[++i];
    } else {
      throw UsageError("'fleet init' does not take '" + options[i] + "'");
    }
  }
  if (conninfo.empty()) {
    conninfo = loadConfig(line.config_path).fleet.postgres;
    if (conninfo.empty()) {
      throw ConfigError(line.config_path +
                        " sets no [fleet] postgres; set it, or name the database with --postgres");
    }
  }
  fleet::initFleetDatabase(conninfo, line.out);
  return kExitOk;
}

}  // namespace

const Command kFleetCommand{"fleet", kFleetHelp, commandFleet};

}  // namespace certbridge::agent
