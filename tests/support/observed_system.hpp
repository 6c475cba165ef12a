#pragma once

// A test's strata system with the observer on a free loopback port (tests of /tree, /metrics,
// the live page, faults and strata-chaos).

#include <functional>
#include <sstream>

#include <catch2/catch.hpp>

#include "test_workers.hpp"

namespace strata::test {

struct observed_system : fixture {
  /// `faults` also lets the system take injected faults (`--strata.observer.faults`);
  /// `customize` then changes the configuration further (e.g. adds workers).
  explicit observed_system(bool faults = false, std::function<void(config&)> customize = nullptr)
    : fixture([faults, customize](config& cfg) {
        std::istringstream none;
        config::string_list args{"--strata.observer.listen=127.0.0.1:0"};
        if (faults)
          args.emplace_back("--strata.observer.faults");
        REQUIRE_FALSE(cfg.parse(args, none));
        if (customize)
          customize(cfg);
      }) {
    REQUIRE_FALSE(sys->observer_error());
    REQUIRE(sys->observer_port() != 0);
  }

  uint16_t port() const {
    return sys->observer_port();
  }
};

} // namespace strata::test
