// certbridge_test_command.exe: stands in for nginx as certbridge.exe's test_command and
// reload_command inside the Wine run. Under Wine a Windows process can start a Linux program
// (nginx) but cannot read its exit code (GetExitCodeProcess fails), so certbridge.exe cannot be
// shown a real nginx's verdict there; this Windows program records each call and exits with the
// code it is told to, which is what certbridge.exe acts on.
//   certbridge_test_command RECORD-FILE EXIT-CODE NAME
// appends "NAME" and a line end to RECORD-FILE, then exits with EXIT-CODE.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: certbridge_test_command RECORD-FILE EXIT-CODE NAME\n";
    return 2;
  }
  std::ofstream record(argv[1], std::ios::app);
  record << argv[3] << "\n";
  if (!record.flush()) {
    std::cerr << "certbridge_test_command: cannot append to " << argv[1] << "\n";
    return 2;
  }
  std::cout << argv[3] << ": exit " << argv[2] << "\n";
  return std::atoi(argv[2]);
}
