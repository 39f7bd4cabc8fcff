#include "agent/cli/fleet_command.h"

#include <ostream>
#include <stdexcept>

#include "agent/cli/cli.h"
#include "agent/cli/log_text.h"
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
reads it from a passfile or PGPASSFILE). Agents run as a least-privilege role afterwards
(README, Fleet). Exits 0 when the schema is current, 1 with the reason otherwise.
)";

}  // namespace

int commandFleet(const std::vector<std::string>& options, const std::string& config_path,
                 std::ostream& out, std::ostream& err) {
  const auto usage = [&](const std::string& problem) {
    err << "certbridge: " << problem << "\nTry 'certbridge fleet --help'.\n";
    return kExitUsage;
  };
  if (options.empty()) {
    return usage("'fleet' needs a subcommand: fleet init [--postgres CONNINFO]");
  }
  for (const std::string& option : options) {
    if (option == "--help") {
      out << kFleetHelp;
      return kExitOk;
    }
  }
  if (options.front() != "init") {
    return usage("unknown fleet subcommand '" + options.front() + "'");
  }
  std::string conninfo;
  for (std::size_t i = 1; i < options.size(); ++i) {
    if (options[i] == "--postgres" && i + 1 < options.size()) {
      conninfo = options[++i];
    } else {
      return usage("'fleet init' does not take '" + options[i] + "'");
    }
  }
  try {
    if (conninfo.empty()) {
      conninfo = loadConfig(config_path).fleet.postgres;
      if (conninfo.empty()) {
        err << "certbridge: " << config_path
            << " sets no [fleet] postgres; set it, or name the database with --postgres\n";
        return kExitUsage;
      }
    }
    fleet::initFleetDatabase(conninfo, out);
    return kExitOk;
  } catch (const ConfigError& error) {
    err << "certbridge: " << error.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& error) {
    err << "certbridge: " << escapeControlCharacters(error.what()) << "\n";
    return kExitFailure;
  }
}

}  // namespace certbridge::agent
