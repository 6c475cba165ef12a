#pragma once

// A whole file as a string, for tests that check what a tool wrote or what /proc says.

#include <fstream>
#include <iterator>
#include <string>

namespace strata::test {

/// The contents of the file at `path`; empty if it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

} // namespace strata::test
