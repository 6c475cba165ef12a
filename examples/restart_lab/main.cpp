// The restart lab: a ready-made tree that mixes the three placements and the four strategies,
// to watch how supervision behaves when children crash (README, "Restart lab"):
//
//   lab          one_for_one
//   ├── edge     simple_one_for_one   20 sessions (task; --sessions=10000 for a wide one)
//   ├── pipeline rest_for_one         source (task) → parser (thread) → sink (task)
//   ├── storage  one_for_all          shard_a (process), shard_b (process), index (task)
//   └── jobs     one_for_one          cruncher (thread), reporter (process),
//                                     flaky (task, restarted with backoff)
//
// It serves the observer (live view, /tree, /metrics) on 127.0.0.1:9100 and accepts faults
// from strata-chaos there (--strata.observer.faults is on by default here, unlike anywhere
// else); the supervision events go to restart_lab.events.jsonl for
// strata-timeline. Every placement can be changed on the command line, e.g.
// --strata.placement.sink=process, and the port and the log path as any strata setting.
//
//   restart_lab [--duration=SECONDS] [--sessions=N] [--flaky-every=MS]
//               [--strata.observer.listen=[HOST:]PORT] [--strata.event-log=FILE] ...

#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>

#include <caf/all.hpp>

#include "strata/strata.hpp"
#if STRATA_LAB_NODES
#  include "strata/nodes/provider.hpp"
#endif

#include "workers.hpp"

namespace {

class lab_config : public strata::config {
public:
  size_t duration = 0;
  int32_t sessions = 20;
  int32_t flaky_every = 7000;

  lab_config() {
    opt_group{custom_options_, "global"}
      .add(duration, "duration", "seconds to run, 0 until SIGINT or SIGTERM (default: 0)")
      .add(sessions, "sessions", "sessions started under edge (default: 20)")
      .add(flaky_every, "flaky-every", "flaky throws every this many ms, 0 never (default: 7000)");
    lab::add_factories(*this);
    set_observer_listen("127.0.0.1:9100");
    set_observer_faults(true); // the lab is for crashing: strata-chaos may inject faults
    set("strata.event-log", std::string{"restart_lab.events.jsonl"});
  }
};

caf::actor child_of(const caf::actor& sup, const std::string& id) {
  if (auto children = strata::which_children(sup))
    for (auto& child : *children)
      if (child.id == id)
        return child.handle;
  return {};
}

} // namespace

int main(int argc, char** argv) {
  lab_config cfg;
#if STRATA_LAB_NODES
  strata::nodes::install(cfg);
#endif
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "restart_lab: %s\n", strata::to_text(err).c_str());
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.sessions < 0 || cfg.flaky_every < 0) {
    std::fprintf(stderr, "restart_lab: --sessions and --flaky-every must not be negative\n");
    return 2;
  }
  // SIGINT and SIGTERM are taken by sigtimedwait below: blocked in every thread started from
  // here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  strata::system sys{cfg};
  // From here on failures return: the system's destructor stops the tree and the nodes.
  if (sys.provider_error())
    std::fprintf(stderr, "restart_lab: process placement is unavailable: %s\n",
                 strata::to_text(sys.provider_error()).c_str());
  if (auto& err = sys.observer_error())
    std::fprintf(stderr, "restart_lab: no observer: %s\n", strata::to_text(err).c_str());
  if (auto& err = sys.event_log_error())
    std::fprintf(stderr, "restart_lab: no event log: %s\n", strata::to_text(err).c_str());
  auto tree = sys.start_supervisor("lab", lab::lab_spec(cfg.flaky_every));
  if (!tree) {
    std::fprintf(stderr, "restart_lab: the tree did not start: %s\n",
                 strata::to_text(tree.error()).c_str());
    return 1;
  }
  auto edge = child_of(*tree, "edge");
  for (int32_t i = 0; i < cfg.sessions; ++i)
    if (auto s = strata::start_child(edge, caf::make_message(i)); !s) {
      std::fprintf(stderr, "restart_lab: session %d did not start: %s\n", static_cast<int>(i),
                   strata::to_text(s.error()).c_str());
      return 1;
    }
  if (auto port = sys.observer_port(); port != 0)
    std::printf("restart lab: running; live view http://127.0.0.1:%u/\n"
                "  tree:     curl -s http://127.0.0.1:%u/tree\n",
                static_cast<unsigned>(port), static_cast<unsigned>(port));
  else
    std::printf("restart lab: running (no observer)\n");
  if (auto port = sys.observer_port(); port != 0)
    std::printf("  chaos:    strata-chaos --connect=127.0.0.1:%u --target=random:lab --every=500ms "
                "--for=20s --kind=mix --seed=1\n",
                static_cast<unsigned>(port));
  std::printf("  events:   %s (strata-timeline %s -o timeline.png --summary)\n",
              cfg.event_log_path().c_str(), cfg.event_log_path().c_str());
  std::fflush(stdout);
  // Runs until SIGINT or SIGTERM, or for --duration seconds, or until the tree gives up.
  caf::scoped_actor self{sys.actors()};
  self->monitor(*tree);
  bool gave_up = false;
  auto deadline = cfg.duration > 0 ? std::time(nullptr) + static_cast<time_t>(cfg.duration) : 0;
  for (;;) {
    timespec tick{0, 200'000'000};
    if (sigtimedwait(&stop_signals, nullptr, &tick) > 0)
      break;
    if (deadline != 0 && std::time(nullptr) >= deadline)
      break;
    self->receive(
      [&](const caf::down_msg& down) {
        std::printf("restart lab: lab gave up: %s\n", strata::to_text(down.reason).c_str());
        gave_up = true;
      },
      caf::after(std::chrono::seconds(0)) >> [] {});
    if (gave_up)
      break;
  }
  // What the pipeline delivered, through its registered name (a sink restarted meanwhile
  // counts from zero again).
  if (auto sink = strata::whereis(sys.actors(), "lab.sink"))
    self->request(*sink, std::chrono::seconds(1), lab::get_atom::value)
      .receive(
        [](int64_t n) {
          std::printf("restart lab: the sink has %lld items\n", static_cast<long long>(n));
        },
        [](const caf::error&) {});
  std::printf("restart lab: shutting down\n");
  std::fflush(stdout);
  return gave_up ? 1 : 0;
}
