#pragma once

// A whole file as a string, for tests that check what a tool wrote or what /proc says.

#include <fstream>
#include <iterator>
#include <string>

namespace strata::test {

/// The contents of the file at `path`; empty if it cannot be read. A file under /proc can fail
/// between its open and its read, when its process ends (ESRCH): libstdc++'s filebuf throws
/// that from the read, past the stream, so it is caught here.
inline std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  try {
    return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  } catch (const std::ios_base::failure&) {
    return {};
  }
}

} // namespace strata::test
