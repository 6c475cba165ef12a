// strata-chaos against a live tree: seeded runs reproduce the same fault sequence, a
// different seed draws a different one, and a wrong flag, an unreachable observer or faults
// left off are reported clearly.

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "observed_system.hpp"
#include "run_program.hpp"
#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// Runs strata-chaos with `args`, stdout and stderr together.
run_result chaos(const std::string& args) {
  return run_program(STRATA_CHAOS, args);
}

// The fault lines' "#seq target kind", without the time offset and the result.
std::vector<std::string> sequence(const std::string& out) {
  std::vector<std::string> result;
  std::istringstream in{out};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '+')
      continue;
    std::istringstream fields{line};
    std::string offset, seq, target, kind;
    fields >> offset >> seq >> target >> kind;
    result.push_back(seq + " " + target + " " + kind);
  }
  return result;
}

struct observed : observed_system {
  explicit observed(bool faults = true) : observed_system(faults) {
    // nop
  }

  std::string connect() const {
    return "--connect=127.0.0.1:" + std::to_string(sys->observer_port());
  }
};

supervisor_spec six_children() {
  supervisor_spec spec;
  spec.intensity = 1000;
  for (auto id : {"f", "b", "d", "a", "e", "c"})
    spec.children.push_back(child(id, "echo"));
  return spec;
}

} // namespace

TEST_CASE("two seeded runs of strata-chaos against the same tree inject the same faults") {
  observed f;
  REQUIRE(f.sys->start_supervisor("root", six_children()));
  auto args = f.connect() + " --target=random:root --kind=mix --hang=20ms --every=5ms --count=12";
  auto first = chaos(args + " --seed=42");
  INFO(first.out);
  REQUIRE(first.status == 0);
  auto second = chaos(args + " --seed=42");
  INFO(second.out);
  REQUIRE(second.status == 0);
  auto seq = sequence(first.out);
  REQUIRE(seq.size() == 12);
  CHECK(seq == sequence(second.out));
  CHECK_THAT(first.out, Catch::Contains("-> ok: "));
  CHECK_THAT(first.out, Catch::Contains("repeat with --seed=42"));
  // A dry run draws the same sequence without injecting anything.
  CHECK(sequence(chaos(args + " --seed=42 --dry-run").out) == seq);
  auto other = chaos(args + " --seed=43");
  REQUIRE(other.status == 0);
  CHECK(sequence(other.out) != seq);
  // The faults landed: the supervisor saw exits carrying the run's tags.
  auto ev = f.wait_for(event_kind::exited);
  CHECK_THAT(ev.fault, Catch::StartsWith("chaos-4"));
}

TEST_CASE("strata-chaos reports a wrong flag, an unreachable observer and faults left off") {
  auto wrong = chaos("--connect=127.0.0.1:1 --target=random:root --count=1 --kind=explode");
  CHECK(wrong.status == 64);
  CHECK_THAT(wrong.out, Catch::Contains("bad --kind 'explode'"));
  auto neither = chaos("--connect=127.0.0.1:1 --target=random:root");
  CHECK(neither.status == 64);
  CHECK_THAT(neither.out, Catch::Contains("--count=N and --for=DURATION"));
  auto endless = chaos("--connect=127.0.0.1:1 --target=random:root --for=1s --every=0ms");
  CHECK(endless.status == 64);
  CHECK_THAT(endless.out, Catch::Contains("--for needs --every above 0 ms"));
  // Port 1 on loopback: nobody listens there.
  auto unreachable = chaos("--connect=127.0.0.1:1 --target=random:root --count=1");
  CHECK(unreachable.status == 69);
  CHECK_THAT(unreachable.out, Catch::Contains("cannot reach the observer at 127.0.0.1:1"));
  observed off{false};
  REQUIRE(off.sys->start_supervisor("root", six_children()));
  auto refused = chaos(off.connect() + " --target=child:root/a --count=1");
  CHECK(refused.status == 77);
  CHECK_THAT(refused.out, Catch::Contains("faults are not enabled"));
  auto nowhere = chaos(off.connect() + " --target=random:root/nope --count=1");
  CHECK(nowhere.status == 69);
  CHECK_THAT(nowhere.out, Catch::Contains("no supervisor at 'root/nope'"));
  auto not_a_node = chaos(off.connect() + " --target=node:root/a --count=1");
  CHECK(not_a_node.status == 69);
  CHECK_THAT(not_a_node.out, Catch::Contains("not in a node of its own"));
}
