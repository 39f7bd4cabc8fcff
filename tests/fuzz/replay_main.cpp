// A main() for fuzz targets built without libFuzzer (GCC, or clang without CERTBRIDGE_FUZZ): runs
// LLVMFuzzerTestOneInput on every file of the folders and files given, so the committed seed
// corpus and every input that once crashed a parser are replayed by ctest in the normal build.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int index = 1; index < argc; ++index) {
    const std::filesystem::path argument(argv[index]);
    if (std::filesystem::is_directory(argument)) {
      for (const auto& entry : std::filesystem::directory_iterator(argument)) {
        if (entry.is_regular_file()) {
          inputs.push_back(entry.path());
        }
      }
    } else if (std::filesystem::is_regular_file(argument)) {
      inputs.push_back(argument);
    } else {
      std::cerr << "replay: " << argument.string() << " is neither a file nor a folder\n";
      return 2;
    }
  }
  // A fixed order, so that a failure reproduces the same way every time.
  std::sort(inputs.begin(), inputs.end());
  for (const std::filesystem::path& input : inputs) {
    std::ifstream file(input, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                  std::istreambuf_iterator<char>());
    std::cout << "replay: " << input.string() << " (" << bytes.size() << " bytes)" << std::endl;
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << "replay: " << inputs.size() << " input(s), no crash" << std::endl;
  return inputs.empty() ? 1 : 0;
}
