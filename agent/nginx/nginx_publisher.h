#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/nginx/nginx_files.h"

namespace certbridge::agent {

struct NginxSettings {
  std::string output_dir;
  std::string test_command;       // e.g. "nginx -t"
  std::string reload_command;     // used when pid_file is empty
  std::string pid_file;           // when set, reload is SIGHUP to the pid in this file
  std::string dump_command;       // prints the effective configuration, for `doctor`
  std::string working_directory;  // where the commands run; empty: certbridge's own
  // How long test, reload and dump commands may run before their process group is killed.
  std::chrono::seconds command_timeout{30};
  // How long a publish waits for another one holding the output directory's lock; zero:
  // twice command_timeout plus 5 s, time for the other to run its test and reload commands.
  std::chrono::milliseconds lock_timeout{0};
};

struct PublishOutcome {
  enum class Result { unchanged, published, failed };
  Result result = Result::unchanged;
  std::vector<std::string> changed_files;
  bool reloaded = false;  // false after a publish when nginx was not running
  std::string detail;     // on failure: what failed, with nginx's own output
  // From the first new file renamed into place until the test command accepted them (or the
  // previous files were back): how long an outside reload could have loaded untested files.
  std::chrono::microseconds untested_window{0};
  std::string hash_of(const std::string& name) const;
  std::vector<std::pair<std::string, std::string>> hashes;  // file name → SHA-256 of content
};

std::string toString(PublishOutcome::Result result);

// Puts rendered files in place for nginx without ever reloading it with a broken or
// half-written set: each changed file is written to a temporary name and fsynced; the current
// files are kept as *.certbridge-previous; the new ones are renamed into place; the test command
// checks the whole configuration (it can only read them in place: nginx.conf names the paths);
// nginx is reloaded; on any failure, a command past its deadline included, the previous files
// come back before anything reloads. Between the rename and the test's verdict the files in
// place are untested (PublishOutcome::untested_window). Identical content is neither written nor
// reloaded. A publish interrupted by a crash is rolled back at the start of the next one. One
// NginxPublisher per output directory; an advisory lock, taken with a timeout, keeps two agents
// from publishing into the same directory at once.
class NginxPublisher {
 public:
  explicit NginxPublisher(NginxSettings settings);

  PublishOutcome publish(const std::vector<OutputFile>& files) const;

 private:
  NginxSettings settings_;
};

}  // namespace certbridge::agent
