#pragma once

// What every benchmark program of bench/ shares: its command line, one JSON line per
// measurement on stdout, result checks that fail the run loudly, and the process's resident
// memory. scripts/bench.sh runs the programs and bench_report turns their lines into tables.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace strata::bench {

/// `--key=value` arguments; anything else is an error.
class arguments {
public:
  arguments(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string_view arg{argv[i]};
      auto eq = arg.find('=');
      if (arg.substr(0, 2) != "--" || eq == std::string_view::npos) {
        std::fprintf(stderr, "bad argument '%s' (expected --key=value)\n", argv[i]);
        std::exit(2);
      }
      values_[std::string{arg.substr(2, eq - 2)}] = std::string{arg.substr(eq + 1)};
    }
  }

  std::string text(const std::string& key, std::string fallback = {}) const {
    auto i = values_.find(key);
    return i == values_.end() ? fallback : i->second;
  }

  long long number(const std::string& key, long long fallback) const {
    auto i = values_.find(key);
    if (i == values_.end())
      return fallback;
    char* end = nullptr;
    auto x = std::strtoll(i->second.c_str(), &end, 10);
    if (end == i->second.c_str() || *end != '\0' || x < 0) {
      std::fprintf(stderr, "--%s wants a number >= 0, not '%s'\n", key.c_str(), i->second.c_str());
      std::exit(2);
    }
    return x;
  }

  /// The `--caf.KEY=VALUE` arguments as CAF options (`--KEY=VALUE`), for an
  /// `actor_system_config`'s `parse`: e.g. `--caf.scheduler.max-threads=2` to compare
  /// scheduler settings without rebuilding. `=true` gives a flag (`--KEY`), as CAF wants.
  std::vector<std::string> caf_options() const {
    std::vector<std::string> out;
    for (auto& [key, value] : values_)
      if (key.rfind("caf.", 0) == 0)
        out.push_back("--" + key.substr(4) + (value == "true" ? "" : "=" + value));
    return out;
  }

private:
  std::map<std::string, std::string> values_;
};

/// Prints one measurement: `{"suite":..,"system":..,"metric":..,"unit":..,"value":..,
/// "n":..}` (`n`: the size parameter of a scaling suite, 0 otherwise). `lower_is_better`
/// tells the report which way a ratio goes.
inline void emit(const std::string& suite, const std::string& system, const std::string& metric,
                 const std::string& unit, double value, bool lower_is_better, long long n = 0) {
  std::printf("{\"suite\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\",\"unit\":\"%s\","
              "\"value\":%.6g,\"n\":%lld,\"better\":\"%s\"}\n",
              suite.c_str(), system.c_str(), metric.c_str(), unit.c_str(), value, n,
              lower_is_better ? "lower" : "higher");
  std::fflush(stdout);
}

/// Fails the run loudly when a workload computed the wrong result: a benchmark that does
/// not do its work measures nothing. `what` is a fixed text, so that a check on a workload's
/// message path builds no string.
inline void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "WRONG RESULT: %s\n", what);
    std::exit(3);
  }
}

/// The same for a text built at the check (outside the measured paths).
inline void expect(bool ok, const std::string& what) {
  expect(ok, what.c_str());
}

/// Resident memory of this process in bytes (/proc/self/statm).
inline long long resident_bytes() {
  std::ifstream in{"/proc/self/statm"};
  long long pages = 0;
  long long resident = 0;
  in >> pages >> resident;
  return resident * static_cast<long long>(::sysconf(_SC_PAGESIZE));
}

using clock = std::chrono::steady_clock;

/// Seconds since `start`.
inline double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

} // namespace strata::bench
