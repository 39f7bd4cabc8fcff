#include <iostream>

#include "agent/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  return certbridge::agent::runCli(arguments, std::cout, std::cerr);
}
