// windows.h first (through windows_text.h): the other Windows headers rely on it.
#include <memory>
#include <stdexcept>
#include <thread>

#include "platform/child_process.h"
#include "platform/windows/windows_text.h"

namespace certbridge::platform {
namespace {

struct HandleCloser {
  void operator()(HANDLE handle) const {
    if (handle != nullptr && handle != INVALID_HANDLE_VALUE) {
      CloseHandle(handle);
    }
  }
};
using Handle = std::unique_ptr<void, HandleCloser>;

// Quotes one argument the way CommandLineToArgvW and the C runtime read it back.
std::wstring quoted(const std::wstring& argument) {
  if (!argument.empty() && argument.find_first_of(L" \t\"") == std::wstring::npos) {
    return argument;
  }
  std::wstring text = L"\"";
  std::size_t backslashes = 0;
  for (const wchar_t c : argument) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      text.append(backslashes * 2 + 1, L'\\');
    } else {
      text.append(backslashes, L'\\');
    }
    backslashes = 0;
    text.push_back(c);
  }
  text.append(backslashes * 2, L'\\');
  text.push_back(L'"');
  return text;
}

[[noreturn]] void failToStart(const std::string& program, const std::string& what) {
  throw std::runtime_error("cannot run '" + program + "': " + what + ": " +
                           windows::errorText(GetLastError()));
}

}  // namespace

ChildProcessResult runChildProcess(const std::vector<std::string>& arguments,
                                   const std::string& working_directory,
                                   std::chrono::milliseconds timeout) {
  if (arguments.empty()) {
    throw std::invalid_argument("empty command");
  }
  const std::string& program = arguments.front();
  std::wstring command_line;
  for (const std::string& argument : arguments) {
    command_line += (command_line.empty() ? L"" : L" ") + quoted(windows::toWide(argument));
  }

  // A job that kills everything in it when its last handle closes: the program and whatever it
  // starts go together, at the deadline or when the agent itself dies.
  const Handle job(CreateJobObjectW(nullptr, nullptr));
  if (!job) {
    failToStart(program, "CreateJobObject");
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits,
                               sizeof limits)) {
    failToStart(program, "SetInformationJobObject");
  }

  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE raw_read = nullptr;
  HANDLE raw_write = nullptr;
  if (!CreatePipe(&raw_read, &raw_write, &inheritable, 0)) {
    failToStart(program, "CreatePipe");
  }
  const Handle output_read(raw_read);
  Handle output_write(raw_write);
  SetHandleInformation(output_read.get(), HANDLE_FLAG_INHERIT, 0);
  Handle null_input(CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                &inheritable, OPEN_EXISTING, 0, nullptr));

  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = null_input.get();
  startup.hStdOutput = output_write.get();
  startup.hStdError = output_write.get();
  PROCESS_INFORMATION process{};
  const std::wstring directory = windows::toWide(working_directory);
  // Suspended until it is in the job, so that nothing it starts escapes the job.
  if (!CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, TRUE,
                      CREATE_SUSPENDED | CREATE_NO_WINDOW, nullptr,
                      directory.empty() ? nullptr : directory.c_str(), &startup, &process)) {
    failToStart(program, working_directory.empty() ? "CreateProcess"
                                                   : "CreateProcess in " + working_directory);
  }
  const Handle process_handle(process.hProcess);
  const Handle thread_handle(process.hThread);
  if (!AssignProcessToJobObject(job.get(), process_handle.get())) {
    TerminateProcess(process_handle.get(), 1);
    failToStart(program, "AssignProcessToJobObject");
  }
  ResumeThread(thread_handle.get());
  output_write.reset();
  null_input.reset();

  ChildProcessResult result;
  // ReadFile blocks; a reader thread collects the output until every writer is gone.
  std::thread reader([&result, handle = output_read.get()] {
    char chunk[4096];
    DWORD count = 0;
    while (ReadFile(handle, chunk, sizeof chunk, &count, nullptr) && count > 0) {
      result.output.append(chunk, count);
    }
  });
  const DWORD waited =
      WaitForSingleObject(process_handle.get(), static_cast<DWORD>(timeout.count()));
  if (waited != WAIT_OBJECT_0) {
    result.timed_out = true;
  }
  // Ends the program at the deadline, and whatever it left running in any case, so that the
  // reader sees the end of the output.
  TerminateJobObject(job.get(), 1);
  WaitForSingleObject(process_handle.get(), INFINITE);
  reader.join();
  DWORD exit_code = 0;
  if (!result.timed_out && GetExitCodeProcess(process_handle.get(), &exit_code)) {
    result.exit_code = static_cast<int>(exit_code);
  }
  return result;
}

}  // namespace certbridge::platform
