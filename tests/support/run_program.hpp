#pragma once

// Runs a command line through the shell and takes its output: for tests of strata's
// command-line tools (strata-chaos, strata-timeline). Header-only.

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include <catch2/catch.hpp>

namespace strata::test {

struct run_result {
  int status = -1; // the exit code; -1 if it did not exit (a signal)
  std::string out; // stdout and stderr together
};

/// Runs `program args` with stderr joined to stdout, and waits for it.
inline run_result run_program(const std::string& program, const std::string& args) {
  run_result result;
  auto cmd = program + " " + args + " 2>&1";
  auto pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    result.out.append(buf.data(), n);
  auto status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

} // namespace strata::test
