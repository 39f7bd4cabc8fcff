#include "agent/nginx/nginx_publisher.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "agent/nginx/command.h"
#include "agent/pki/certificate.h"
#include "platform/durable_file.h"
#include "platform/process_signal.h"

namespace certbridge::agent {
namespace fs = std::filesystem;
namespace {

constexpr const char* kNewSuffix = ".certbridge-new";
constexpr const char* kPreviousSuffix = ".certbridge-previous";
constexpr const char* kAbsentMarkerSuffix = ".certbridge-absent";

// Compares a file with `content` in chunks, so that a large crl.pem is not read whole.
bool fileHolds(const fs::path& path, const std::string& content) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error || size != content.size()) {
    return false;
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
  }
  std::vector<char> chunk(64 * 1024);
  for (std::size_t offset = 0; offset < content.size();) {
    stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto count = static_cast<std::size_t>(stream.gcount());
    if (count == 0 || content.compare(offset, count, chunk.data(), count) != 0) {
      return false;
    }
    offset += count;
  }
  return true;
}

fs::path withSuffix(const fs::path& path, const char* suffix) {
  return fs::path(path.string() + suffix);
}

// Undoes a swap: every file that had a previous version gets it back; a file that did not exist
// before is removed again.
void restorePrevious(const fs::path& directory, const std::vector<std::string>& names) {
  bool restored = false;
  for (const std::string& name : names) {
    const fs::path target = directory / name;
    const fs::path previous = withSuffix(target, kPreviousSuffix);
    const fs::path absent = withSuffix(target, kAbsentMarkerSuffix);
    if (fs::exists(previous)) {
      fs::rename(previous, target);
      restored = true;
    } else if (fs::exists(absent)) {
      fs::remove(target);
      fs::remove(absent);
      restored = true;
    }
  }
  if (restored) {
    platform::syncDirectory(directory);
  }
}

void discardBackups(const fs::path& directory, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    fs::remove(withSuffix(directory / name, kPreviousSuffix));
    fs::remove(withSuffix(directory / name, kAbsentMarkerSuffix));
  }
}

// Long enough for another publish to run its test and reload commands to their deadlines.
std::chrono::milliseconds lockTimeout(const NginxSettings& settings) {
  return settings.lock_timeout.count() > 0 ? settings.lock_timeout
                                           : 2 * settings.command_timeout + std::chrono::seconds(5);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string toString(PublishOutcome::Result result) {
  switch (result) {
    case PublishOutcome::Result::unchanged: return "unchanged";
    case PublishOutcome::Result::published: return "published";
    case PublishOutcome::Result::failed: return "failed";
  }
  return "failed";
}

std::string PublishOutcome::hash_of(const std::string& name) const {
  for (const auto& [file, hash] : hashes) {
    if (file == name) {
      return hash;
    }
  }
  return {};
}

NginxPublisher::NginxPublisher(NginxSettings settings) : settings_(std::move(settings)) {}

PublishOutcome NginxPublisher::publish(const std::vector<OutputFile>& files) const {
  const fs::path directory(settings_.output_dir);
  PublishOutcome outcome;
  for (const OutputFile& file : files) {
    outcome.hashes.emplace_back(file.name, sha256Hex(file.content));
  }

  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    outcome.result = PublishOutcome::Result::failed;
    outcome.detail =
        "cannot create output directory " + directory.string() + ": " + error.message();
    return outcome;
  }
  std::optional<platform::FileLock> lock;
  try {
    lock.emplace(directory / ".certbridge.lock", lockTimeout(settings_));
  } catch (const std::exception& failure) {
    outcome.result = PublishOutcome::Result::failed;
    outcome.detail = failure.what();
    return outcome;
  }

  std::vector<std::string> names;
  for (const OutputFile& file : files) {
    names.push_back(file.name);
  }
  std::vector<std::string> swapped;
  try {
    // Leftovers of a publish that was interrupted between swap and reload: nginx never loaded
    // those files, so put the previous ones back and publish again from a known state.
    restorePrevious(directory, names);

    std::vector<const OutputFile*> changed;
    for (const OutputFile& file : files) {
      if (!fileHolds(directory / file.name, file.content)) {
        changed.push_back(&file);
        outcome.changed_files.push_back(file.name);
      }
    }
    if (changed.empty()) {
      outcome.result = PublishOutcome::Result::unchanged;
      return outcome;
    }

    for (const OutputFile* file : changed) {
      platform::writeFileDurably(withSuffix(directory / file->name, kNewSuffix), file->content);
    }
    for (const OutputFile* file : changed) {
      const fs::path target = directory / file->name;
      if (fs::exists(target)) {
        fs::remove(withSuffix(target, kPreviousSuffix));
        fs::create_hard_link(target, withSuffix(target, kPreviousSuffix));
      } else {
        platform::writeFileDurably(withSuffix(target, kAbsentMarkerSuffix), "");
      }
    }
    platform::syncDirectory(directory);
    const auto swap_started = std::chrono::steady_clock::now();
    for (const OutputFile* file : changed) {
      const fs::path target = directory / file->name;
      swapped.push_back(file->name);
      fs::rename(withSuffix(target, kNewSuffix), target);
    }
    platform::syncDirectory(directory);

    const CommandResult test =
        runCommand(settings_.test_command, settings_.working_directory, settings_.command_timeout);
    outcome.untested_window = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - swap_started);
    if (test.exit_code != 0 || test.timed_out) {
      restorePrevious(directory, swapped);
      outcome.untested_window = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - swap_started);
      outcome.result = PublishOutcome::Result::failed;
      outcome.detail =
          test.timed_out
              ? describeFailure(settings_.test_command, test, settings_.command_timeout) +
                    "; previous files restored, nothing reloaded: " + trimmed(test.output)
              : "'" + settings_.test_command + "' rejected the new files (exit " +
                    std::to_string(test.exit_code) +
                    "); previous files restored: " + trimmed(test.output);
      return outcome;
    }

    if (!settings_.pid_file.empty()) {
      outcome.reloaded = platform::signalNginxReload(settings_.pid_file);
    } else {
      const CommandResult reload = runCommand(settings_.reload_command, settings_.working_directory,
                                              settings_.command_timeout);
      if (reload.exit_code != 0 || reload.timed_out) {
        restorePrevious(directory, swapped);
        outcome.result = PublishOutcome::Result::failed;
        outcome.detail =
            reload.timed_out
                ? describeFailure(settings_.reload_command, reload, settings_.command_timeout) +
                      "; previous files restored: " + trimmed(reload.output)
                : "'" + settings_.reload_command + "' failed (exit " +
                      std::to_string(reload.exit_code) +
                      "); previous files restored: " + trimmed(reload.output);
        return outcome;
      }
      outcome.reloaded = true;
    }
    discardBackups(directory, swapped);
    outcome.result = PublishOutcome::Result::published;
  } catch (const std::exception& failure) {
    for (const OutputFile& file : files) {
      fs::remove(withSuffix(directory / file.name, kNewSuffix), error);
    }
    try {
      restorePrevious(directory, swapped);
    } catch (const std::exception& restore_failure) {
      outcome.detail =
          std::string(" (restoring the previous files failed too: ") + restore_failure.what() + ")";
    }
    outcome.result = PublishOutcome::Result::failed;
    outcome.detail = std::string(failure.what()) + outcome.detail;
  }
  return outcome;
}

}  // namespace certbridge::agent
