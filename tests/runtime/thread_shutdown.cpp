// Many thread-placed children must not hang shutdown (CAF 0.17, upstream issue #1196: a
// detached actor pushing to the actor clock after the clock thread stopped).

#include <future>

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using namespace std::chrono_literals;

namespace {

// Runs `fun` on another thread; fails (and aborts, since a hung shutdown cannot be
// cancelled) if it does not finish within `limit`.
template <class F>
void within(std::chrono::seconds limit, F fun) {
  auto done = std::async(std::launch::async, std::move(fun));
  if (done.wait_for(limit) != std::future_status::ready) {
    FAIL_CHECK("did not finish within " << limit.count() << " s: shutdown hangs");
    std::abort();
  }
  done.get();
}

using tick_atom = caf::atom_constant<caf::atom("t_tick")>;

// A thread-placed child with a pending timer: raw CAF 0.17 hangs in ~actor_system with a
// couple of thousand of these (measured: 2 of 4 runs), strata must not.
void add_ticker(config& cfg) {
  cfg.add_worker("ticker", [](caf::event_based_actor* self) -> caf::behavior {
    self->delayed_send(self, std::chrono::seconds(5), tick_atom::value);
    return {[](tick_atom) {}, [](ping_atom, int x) { return x; }};
  });
}

supervisor_spec thread_pool_spec() {
  supervisor_spec spec;
  spec.strategy = strategy::simple_one_for_one;
  auto c = child("t", "ticker");
  c.placement = placement::thread;
  // A timer per child: the kind of clock use that hung CAF 0.17's teardown.
  c.shutdown = shutdown_spec::after(5s);
  spec.children = {c};
  return spec;
}

} // namespace

TEST_CASE("a system with 2,000 thread-placed children shuts down without hanging") {
  for (int round = 0; round < 4; ++round) {
    within(120s, [] {
      fixture f{add_ticker};
      auto sup = f.sys->start_supervisor("threads", thread_pool_spec());
      REQUIRE(sup);
      for (int i = 0; i < 2000; ++i)
        REQUIRE(start_child(*sup, caf::message{}));
      auto children = which_children(*sup);
      REQUIRE(children);
      CHECK(f.ping(children->back().handle, 3) == 3);
      // No explicit stop: the system's destructor must take the tree down in order.
    });
  }
}

TEST_CASE("thread-placed children that crash and restart leave nothing behind") {
  within(120s, [] {
    fixture f;
    supervisor_spec spec;
    spec.intensity = 1000;
    auto c = child("t", "echo");
    c.placement = placement::thread;
    spec.children = {c};
    auto sup = f.sys->start_supervisor("root", spec);
    REQUIRE(sup);
    f.next_event();
    for (int i = 0; i < 200; ++i) {
      f.tell(f.child_of(*sup, "t"), crash_atom::value);
      f.wait_for(event_kind::restarted, "t");
    }
    CHECK(f.ping(f.child_of(*sup, "t"), 1) == 1);
  });
}
