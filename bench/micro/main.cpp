// bench_micro: local messaging workloads on raw CAF or on strata, one measurement per run.
//
//   bench_micro --system=caf|strata --suite=SUITE --n=N
//
// SUITE: ping-pong, counting, fan-in, skynet, spawn, thread-ring, chameneos, big,
// fork-join-throughput, fork-join-creation.
//
// Prints one JSON line per metric (bench/common/harness.hpp); a wrong result fails the run
// (exit 3). scripts/bench.sh runs it once per run and system.

#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "strata/strata.hpp"

#include "harness.hpp"
#include "workloads.hpp"

using namespace strata::bench;

namespace {

void run(caf::actor_system& sys, const std::string& system, const std::string& suite, long long n) {
  if (suite == "ping-pong") {
    emit(suite, system, "round trip", "us", ping_pong(sys, n), true);
  } else if (suite == "counting") {
    emit(suite, system, "messages per second", "M/s", counting(sys, n) / 1e6, false);
  } else if (suite == "fan-in") {
    emit(suite, system, "messages per second (2 senders)", "M/s", fan_in(sys, 2, n) / 1e6, false);
  } else if (suite == "skynet") {
    auto leaves = n;
    while (leaves % 10 == 0)
      leaves /= 10;
    if (leaves != 1) {
      std::fprintf(stderr, "skynet needs --n a power of 10, not %lld\n", n);
      std::exit(2);
    }
    emit(suite, system, "time", "s", skynet(sys, n), true);
  } else if (suite == "spawn") {
    auto cost = spawn_idle(sys, n);
    emit(suite, system, "time per spawn", "us", cost.us_per_spawn, true, n);
    emit(suite, system, "resident bytes per idle actor", "B", cost.bytes_per_actor, true, n);
    emit(suite, system, "time per message to an idle actor", "us", cost.us_per_message, true, n);
  } else if (suite == "thread-ring") {
    emit(suite, system, "hops per second (503 actors)", "M/s", thread_ring(sys, 503, n) / 1e6,
         false);
  } else if (suite == "chameneos") {
    emit(suite, system, "meetings per second (100 creatures)", "M/s", chameneos(sys, 100, n) / 1e6,
         false);
  } else if (suite == "big") {
    emit(suite, system, "messages per second (120 actors)", "M/s", big(sys, 120, n) / 1e6, false);
  } else if (suite == "fork-join-throughput") {
    emit(suite, system, "messages per second (60 workers)", "M/s",
         fork_join_throughput(sys, 60, n) / 1e6, false);
  } else if (suite == "fork-join-creation") {
    emit(suite, system, "time per actor", "us", fork_join_creation(sys, n), true);
  } else {
    std::fprintf(stderr, "unknown suite '%s'\n", suite.c_str());
    std::exit(2);
  }
}

} // namespace

int main(int argc, char** argv) {
  arguments args{argc, argv};
  auto system = args.text("system", "strata");
  auto suite = args.text("suite", "ping-pong");
  auto n = args.number("n", 100000);
  if (n < 1) {
    std::fprintf(stderr, "--n must be at least 1\n");
    return 2;
  }
  if (system == "caf") {
    caf::actor_system_config cfg;
    cfg.parse(args.caf_options());
    caf::actor_system sys{cfg};
    run(sys, system, suite, n);
  } else if (system == "strata") {
    strata::config cfg;
    if (auto err = cfg.parse(args.caf_options())) {
      std::fprintf(stderr, "bad CAF option: %s\n", caf::to_string(err).c_str());
      return 2;
    }
    strata::system sys{cfg};
    run(sys.actors(), system, suite, n);
  } else {
    std::fprintf(stderr, "unknown system '%s' (caf or strata)\n", system.c_str());
    return 2;
  }
  return 0;
}
