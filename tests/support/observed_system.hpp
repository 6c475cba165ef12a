#pragma once

// A test's strata system with the observer on a free loopback port (tests of /tree, /metrics,
// the live page, faults and strata-chaos).

#include <functional>
#include <sstream>

#include <catch2/catch.hpp>

#include "strata/strata.hpp"

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

  /// Starts the top-level `simple_one_for_one` supervisor "pool" with `n` "echo" children
  /// (intensity `intensity`).
  caf::actor start_pool(int n, uint32_t intensity = 1) {
    supervisor_spec spec;
    spec.strategy = strategy::simple_one_for_one;
    spec.intensity = intensity;
    spec.children = {child("w", "echo")};
    auto sup = sys->start_supervisor("pool", spec);
    REQUIRE(sup);
    for (int i = 0; i < n; ++i)
      REQUIRE(start_child(*sup, caf::make_message()));
    return *sup;
  }
};

} // namespace strata::test
