// A supervisor runs a task child's init, and the exit of an idle child that does not trap
// exits, on its own thread (docs/design/supervisor.md, "Starting and stopping without a
// scheduler hop"). These tests hold the cases around it to OTP's semantics: what the child's
// init sends itself, children that trap exits, children busy when they are stopped.

#include <atomic>
#include <chrono>
#include <thread>

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using namespace std::chrono_literals;

namespace {

using tick_atom = caf::atom_constant<caf::atom("t_tick")>;
using nap_atom = caf::atom_constant<caf::atom("t_nap")>;

// Ticks handled by all "ticker" children.
std::atomic<int> ticks{0};

// Set by a "napper" child once it is inside its `nap` handler.
std::atomic<bool> napping{false};

void add_factories(config& cfg) {
  // Sends itself three ticks from its init; answers ping with the ticks handled so far.
  cfg.add_worker("ticker", [](caf::event_based_actor* self) -> caf::behavior {
    for (int i = 0; i < 3; ++i)
      self->send(self, tick_atom::value);
    return {
      [](tick_atom) { ++ticks; },
      [](ping_atom, int) { return ticks.load(); },
    };
  });
  // Traps exits and ends with the reason it was given: a cooperative child with a handler.
  cfg.add_worker("trapper", [](caf::event_based_actor* self) -> caf::behavior {
    self->set_exit_handler([self](caf::exit_msg& msg) { self->quit(msg.reason); });
    return {[](ping_atom, int x) { return x; }};
  });
  // Blocks its thread in `nap` for the given milliseconds.
  cfg.add_worker("napper", [](caf::event_based_actor*) -> caf::behavior {
    return {
      [](nap_atom, int ms) {
        napping = true;
        std::this_thread::sleep_for(std::chrono::milliseconds{ms});
      },
      [](ping_atom, int x) { return x; },
    };
  });
}

// Waits until `ticks` reaches `n`, asking `worker` (the answer comes after the ticks before
// it, all from one mailbox); fails after 10 s.
bool wait_ticks(fixture& f, const caf::actor& worker, int n) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until)
    if (auto got = f.ping(worker, 0); got && *got >= n)
      return true;
  return false;
}

} // namespace

TEST_CASE("what a child's init sends itself reaches it once it runs on its own") {
  ticks = 0;
  fixture f{add_factories};
  supervisor_spec spec;
  spec.strategy = strategy::one_for_all;
  spec.children = {child("t", "ticker"), child("e", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  CHECK(f.next_events(2) == std::vector<std::string>{"started t", "started e"});
  CHECK(wait_ticks(f, f.child_of(*sup, "t"), 3));
  // Restarted by its sibling's crash: the new ticker's init runs on the supervisor's thread
  // again, and its ticks come after.
  f.tell(f.child_of(*sup, "e"), crash_atom::value);
  CHECK(f.next_events(4)
        == std::vector<std::string>{"exited e", "exited t", "restarted t", "restarted e"});
  CHECK(wait_ticks(f, f.child_of(*sup, "t"), 6));
  CHECK(ticks == 6);
}

TEST_CASE("one_for_all keeps OTP's order when some siblings trap exits") {
  fixture f{add_factories};
  supervisor_spec spec;
  spec.strategy = strategy::one_for_all;
  spec.children = {child("a", "echo"), child("b", "trapper"), child("c", "echo"),
                   child("d", "trapper")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(4);
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  std::vector<std::string> order;
  for (size_t i = 0; i < 8; ++i) {
    auto ev = f.next_event();
    order.push_back(brief(ev));
    if (ev.kind == event_kind::exited && ev.child != "a")
      CHECK(ev.reason == "shutdown"); // a stopped sibling, trapping or not, is no crash
  }
  CHECK(order
        == std::vector<std::string>{"exited a", "exited d", "exited c", "exited b", "restarted a",
                                    "restarted b", "restarted c", "restarted d"});
  for (auto id : {"a", "b", "c", "d"})
    CHECK(f.ping(f.child_of(*sup, id), 7) == 7);
}

TEST_CASE("a child busy in a handler when it is stopped is waited for") {
  napping = false;
  fixture f{add_factories};
  supervisor_spec spec;
  spec.children = {child("n", "napper"), child("e", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  auto napper = f.child_of(*sup, "n");
  f.tell(napper, nap_atom::value, 300);
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!napping && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  REQUIRE(napping);
  // The exit waits in its mailbox behind the nap; the supervisor waits for it to end.
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(terminate_child(*sup, "n"));
  auto took = std::chrono::steady_clock::now() - started;
  auto ev = f.next_event();
  CHECK(brief(ev) == "exited n");
  CHECK(ev.reason == "shutdown");
  CHECK(took >= 100ms); // most of the 300 ms nap was still ahead
  CHECK(f.wait_down(napper) == caf::exit_reason::user_shutdown);
  CHECK(f.ping(f.child_of(*sup, "e"), 2) == 2);
}
