// A small supervision tree, start to finish:
//
//   root (one_for_one)
//   ├── events    worker: prints every supervision event as it happens
//   ├── counter   worker: answers (add, n) and (get) requests
//   └── jobs      supervisor (one_for_all)
//       ├── flaky   worker: ticks every 400 ms and throws on every n-th tick
//       └── tally   worker: another counter, restarted with flaky (one_for_all)
//
// Run it, watch flaky crash and get restarted, and try:
//   supervision_tree --crash-every=1                   (jobs gives up, root restarts it,
//                                                       until root gives up too)
//   supervision_tree --strata.placement.flaky=thread   (flaky on its own OS thread)
//   supervision_tree --strata.event-log=events.jsonl   (the same events as JSON lines)

#include <chrono>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include <caf/all.hpp>

#include "strata/strata.hpp"

namespace {

using namespace std::chrono_literals;

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

// -- workers: plain CAF function-based actors ---------------------------------------------

struct counter_state {
  int64_t count = 0;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  return {
    [self](add_atom, int64_t n) { return self->state.count += n; },
    [self](get_atom) { return self->state.count; },
  };
}

// Throws on every `crash_every`-th tick. The exception becomes the actor's exit reason, and
// its supervisor restarts it.
caf::behavior flaky(caf::event_based_actor* self, int32_t crash_every) {
  auto ticks = std::make_shared<int32_t>(0);
  self->delayed_send(self, 400ms, tick_atom::value);
  return {
    [self, ticks, crash_every](tick_atom) {
      if (++*ticks == crash_every)
        throw std::runtime_error("crashed on tick " + std::to_string(*ticks));
      self->delayed_send(self, 400ms, tick_atom::value);
    },
  };
}

// One readable line per event: time, supervisor, child, placement, event, reason.
std::string describe(const strata::supervision_event& ev) {
  auto secs = static_cast<std::time_t>(ev.wall_ms / 1000);
  std::tm local{};
  localtime_r(&secs, &local);
  std::ostringstream out;
  out << std::put_time(&local, "%H:%M:%S") << '.' << std::setfill('0') << std::setw(3)
      << ev.wall_ms % 1000 << std::setfill(' ') << std::left << "  " << std::setw(10)
      << ev.supervisor << ' ' << std::setw(8) << (ev.child.empty() ? "-" : ev.child) << ' '
      << std::setw(7) << to_string(ev.placement) << ' ' << to_string(ev.kind);
  if (!ev.reason.empty())
    out << ": " << ev.reason;
  out << '\n';
  return out.str();
}

caf::behavior print_events(caf::event_based_actor* self) {
  strata::subscribe(self);
  return {
    [](const strata::supervision_event& ev) { std::cout << describe(ev) << std::flush; },
  };
}

// -- the tree: supervisor specs are data -------------------------------------------------

strata::supervisor_spec jobs(int32_t crash_every) {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_all;
  spec.intensity = 5; // more than 5 restarts within 5 s: jobs gives up and exits
  spec.period = 5s;
  spec.children = {
    {"flaky", strata::start("flaky", crash_every)},
    {"tally", strata::start("counter")},
  };
  return spec;
}

strata::supervisor_spec root(int32_t crash_every) {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_one;
  spec.intensity = 2; // jobs may give up twice within 10 s; the third time, root gives up
  spec.period = 10s;
  spec.children = {
    // First, so it has subscribed before its siblings start (children start in order).
    {"events", strata::start("print_events")},
    {"counter", strata::start("counter")},
    {"jobs", strata::start("jobs", crash_every)},
  };
  return spec;
}

// The configuration: CAF's options plus the factories children are started from, by name.
class demo_config : public strata::config {
public:
  size_t duration = 10;
  int32_t crash_every = 4;

  demo_config() {
    opt_group{custom_options_, "global"}
      .add(duration, "duration", "seconds to run before shutting down (default: 10)")
      .add(crash_every, "crash-every", "flaky crashes on every n-th tick (default: 4)");
    add_worker("print_events", print_events);
    add_worker("counter", counter);
    add_worker("flaky", flaky);
    add_supervisor("jobs", jobs);
  }
};

caf::actor find_child(const caf::actor& sup, const std::string& id) {
  if (auto children = strata::which_children(sup))
    for (auto& child : *children)
      if (child.id == id)
        return child.handle;
  return {};
}

} // namespace

int main(int argc, char** argv) {
  demo_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "error: " << strata::to_text(err) << '\n';
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.crash_every < 1) {
    std::cerr << "error: --crash-every must be at least 1\n";
    return 1;
  }

  strata::system sys{cfg};
  if (auto& err = sys.event_log_error())
    std::cerr << "warning: no event log: " << strata::to_text(err) << '\n';
  auto tree = sys.start_supervisor("root", root(cfg.crash_every));
  if (!tree) {
    std::cerr << "error: the tree did not start: " << strata::to_text(tree.error()) << '\n';
    return 1;
  }

  bool gave_up = false;
  {
    caf::scoped_actor self{sys.actors()};
    // Children are plain actors: ask the counter something. (No request timeout: in CAF 0.17
    // its stale timeout message would arrive later and restart the after() below.)
    self->request(find_child(*tree, "counter"), caf::infinite, add_atom::value, int64_t{42})
      .receive([](int64_t n) { std::cout << "counter answered " << n << '\n'; },
               [](caf::error& err) {
                 std::cerr << "counter failed: " << strata::to_text(err) << '\n';
               });
    // Run for --duration seconds, or until the whole tree gives up.
    self->monitor(*tree);
    self->receive(
      [&](const caf::down_msg& down) {
        std::cout << "root gave up: " << strata::to_text(down.reason) << '\n';
        gave_up = true;
      },
      caf::after(std::chrono::seconds(cfg.duration)) >> [] {});
  }
  if (gave_up)
    return 1;

  if (auto children = strata::which_children(*tree))
    for (auto& child : *children)
      std::cout << "root/" << child.id << ": " << to_string(child.status) << ", " << child.restarts
                << " restarts\n";
  std::cout << "shutting down\n";
  // ~system stops the tree: children right to left, each supervisor after its children.
  return 0;
}
