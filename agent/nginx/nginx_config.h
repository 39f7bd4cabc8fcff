#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace certbridge::agent {

// nginx's effective configuration could not be read from `nginx -T`'s output.
class NginxConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One directive as nginx reads it, with the file and line it was written on. A block
// directive (http, server, location, if, map, ...) holds its directives, includes resolved.
struct NginxDirective {
  std::string name;
  std::vector<std::string> arguments;  // quotes and escapes removed, as nginx sees them
  std::string file;
  int line = 0;
  bool is_block = false;
  std::vector<NginxDirective> children;

  // "file:line", for messages.
  std::string where() const { return file + ":" + std::to_string(line); }
  // The last child directive called `name` (nginx takes the last of repeated ones), if any.
  const NginxDirective* find(const std::string& child_name) const;
};

// What `nginx -T` printed: every configuration file it read, and the main file's directives with
// every include expanded in place.
struct NginxConfig {
  std::string main_file;
  std::map<std::string, std::string> files;  // path → text
  NginxDirective root;                       // name "main", children = the main file's directives

  // A path as nginx resolves the paths in these directives: relative ones against the directory
  // of the main configuration file.
  std::string resolve(const std::string& path) const;
};

// Parses the output of `nginx -T` (stdout and stderr together; anything before the first
// "# configuration file NAME:" line is ignored). Throws NginxConfigError naming the file and line
// of anything it cannot parse.
NginxConfig parseNginxDump(const std::string& output);

}  // namespace certbridge::agent
