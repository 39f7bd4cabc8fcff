#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "platform/child_process.h"

namespace certbridge::platform {
namespace {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe makePipe(const std::string& program) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw std::runtime_error("cannot run '" + program + "': pipe: " + std::strerror(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// The child side between fork and exec: only async-signal-safe calls (the agent has threads).
[[noreturn]] void execChild(char* const* argv, const char* working_directory, int null_input,
                            int output, int exec_error) {
  ::setpgid(0, 0);
  // The agent may ignore or block signals; the program starts with the defaults.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &default_action, nullptr);
  if (::dup2(null_input, STDIN_FILENO) < 0 || ::dup2(output, STDOUT_FILENO) < 0 ||
      ::dup2(output, STDERR_FILENO) < 0 ||
      (working_directory != nullptr && ::chdir(working_directory) != 0)) {
    const int error = errno;
    [[maybe_unused]] const auto written = ::write(exec_error, &error, sizeof error);
    ::_exit(127);
  }
  ::execvp(argv[0], argv);
  const int error = errno;
  [[maybe_unused]] const auto written = ::write(exec_error, &error, sizeof error);
  ::_exit(127);
}

}  // namespace

ChildProcessResult runChildProcess(const std::vector<std::string>& arguments,
                                   const std::string& working_directory,
                                   std::chrono::milliseconds timeout) {
  if (arguments.empty()) {
    throw std::invalid_argument("empty command");
  }
  const std::string& program = arguments.front();
  std::vector<std::string> argument_copies = arguments;
  std::vector<char*> argv;
  for (std::string& argument : argument_copies) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);

  const UniqueFd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_input.get() < 0) {
    throw std::runtime_error("cannot run '" + program + "': /dev/null: " + std::strerror(errno));
  }
  Pipe output = makePipe(program);
  Pipe exec_error = makePipe(program);
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("cannot run '" + program + "': fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    execChild(argv.data(), working_directory.empty() ? nullptr : working_directory.c_str(),
              null_input.get(), output.write_end.get(), exec_error.write_end.get());
  }
  // Also here, so that the group exists before anything could signal it.
  ::setpgid(pid, pid);
  output.write_end.reset();
  exec_error.write_end.reset();

  int start_error = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_error.read_end.get(), &start_error, sizeof start_error);
  } while (got < 0 && errno == EINTR);
  if (got == sizeof start_error) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("cannot run '" + program + "': " + std::strerror(start_error) +
                             (working_directory.empty() ? "" : " (in " + working_directory + ")"));
  }

  ChildProcessResult result;
  bool output_open = true;
  bool exited = false;
  int status = 0;
  std::array<char, 4096> chunk{};
  while (output_open || !exited) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      // Past the deadline: the program, or something it started and left holding its output.
      ::kill(-pid, SIGKILL);
      if (!exited) {
        ::waitpid(pid, &status, 0);
        result.timed_out = true;
      }
      break;
    }
    if (!exited) {
      const pid_t waited = ::waitpid(pid, &status, WNOHANG);
      exited = waited == pid;
    }
    if (output_open) {
      // Wake up now and then to notice an exit while a helper keeps the output open.
      pollfd poll_output{output.read_end.get(), POLLIN, 0};
      const int ready =
          ::poll(&poll_output, 1,
                 static_cast<int>(std::min<long long>(left.count(), exited ? left.count() : 50)));
      if (ready > 0) {
        const ssize_t count = ::read(output.read_end.get(), chunk.data(), chunk.size());
        if (count > 0) {
          result.output.append(chunk.data(), static_cast<std::size_t>(count));
        } else if (count == 0 || errno != EINTR) {
          output_open = false;
        }
      }
    } else if (!exited) {
      pollfd nothing{-1, 0, 0};
      ::poll(&nothing, 0, static_cast<int>(std::min<long long>(left.count(), 20)));
    }
  }
  if (!result.timed_out) {
    result.exit_code = exitCodeOf(status);
  }
  return result;
}

}  // namespace certbridge::platform
