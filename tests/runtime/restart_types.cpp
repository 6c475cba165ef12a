// permanent, transient, temporary.

#include <condition_variable>
#include <mutex>

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;

namespace {

child_spec typed(std::string id, restart_type r) {
  auto c = child(std::move(id), "echo");
  c.restart = r;
  return c;
}

caf::actor start_tree(fixture& f, std::vector<child_spec> children,
                      strategy how = strategy::one_for_one) {
  supervisor_spec spec;
  spec.strategy = how;
  spec.intensity = 10;
  spec.children = std::move(children);
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(spec.children.size());
  return *sup;
}

// Starts "root" with one child, "inner": a supervisor of `child_spec`; returns root once
// "inner" has started.
caf::actor start_nested(fixture& f, child_spec grandchild) {
  supervisor_spec inner;
  inner.children = {std::move(grandchild)};
  supervisor_spec outer;
  outer.intensity = 10;
  outer.children = {child("inner", "sup", inner)};
  auto sup = f.sys->start_supervisor("root", outer);
  REQUIRE(sup);
  f.wait_for(event_kind::started, "inner");
  return *sup;
}

void quit_as(fixture& f, const caf::actor& who, how_to_quit how) {
  f.tell(who, quit_atom::value, static_cast<int>(how));
}

} // namespace

namespace {

// "gate": a worker whose second start blocks in its init (it runs at `thread` placement, where
// blocking is allowed) until the test opens the gate, after naming the supervisor starting it.
struct gate {
  std::mutex mtx; // guards starter and open
  std::condition_variable cv;
  caf::actor starter;
  bool open = false;
  std::atomic<int> starts{0};
};

gate the_gate;

void add_gate(config& cfg) {
  cfg.add_worker("gate", [](caf::event_based_actor* self) -> caf::behavior {
    if (the_gate.starts.fetch_add(1, std::memory_order_relaxed) + 1 == 2) {
      std::unique_lock<std::mutex> guard{the_gate.mtx};
      the_gate.starter = caf::actor_cast<caf::actor>(self->current_sender());
      the_gate.cv.notify_all();
      the_gate.cv.wait(guard, [] { return the_gate.open; });
    }
    return {[](ping_atom, int x) { return x; }};
  });
}

} // namespace

TEST_CASE("a child killed while its start is under way is started again, and its supervisor "
          "lives") {
  // "inner", a supervisor, is linked to its parent as its start begins, and answers the
  // parent's init request only once its own child runs. Killed before that, it passes `kill`
  // on to its links, which CAF makes fatal even to an actor that traps exits; an OTP
  // supervisor gets `killed` and takes it as a failed start.
  fixture f{add_gate};
  auto g = child("g", "gate");
  g.placement = placement::thread;
  auto sup = start_nested(f, g);
  // Its restart starts "g" the second time: the gate holds "inner"'s start open.
  caf::anon_send_exit(f.child_of(sup, "inner"), caf::exit_reason::kill);
  caf::actor starting;
  {
    std::unique_lock<std::mutex> guard{the_gate.mtx};
    REQUIRE(the_gate.cv.wait_for(guard, std::chrono::seconds{10},
                                 [] { return the_gate.starter != nullptr; }));
    starting = the_gate.starter;
  }
  // In its mailbox before its child's answer, which the open gate lets go.
  caf::anon_send_exit(starting, caf::exit_reason::kill);
  {
    std::lock_guard<std::mutex> guard{the_gate.mtx};
    the_gate.open = true;
  }
  the_gate.cv.notify_all();
  auto failed = f.wait_for(event_kind::start_failed, "inner");
  CHECK(failed.reason.find("killed") != std::string::npos);
  f.wait_for(event_kind::restarted, "inner");
  auto counts = count_children(sup);
  REQUIRE(counts);
  CHECK(counts->active == 1);
  CHECK(f.child_of(sup, "inner") != starting);
}

TEST_CASE("a kill that a child sends its supervisor itself ends the supervisor, as OTP's "
          "exit(Sup, kill) does") {
  // "assassin" sends the actor it is given an exit with `kill`, and lives on. A killed child
  // passes `kill` on too (the test above), but only once it has ended.
  fixture f{[](config& cfg) {
    cfg.add_worker("assassin", [](caf::event_based_actor* self) -> caf::behavior {
      return {
        [self](const caf::actor& target) { self->send_exit(target, caf::exit_reason::kill); }};
    });
  }};
  auto sup = start_nested(f, child("a", "assassin"));
  auto before = f.child_of(sup, "inner");
  auto assassin = f.child_of(before, "a");
  f.tell(assassin, before);
  // Taken as the assassin's own exit, "a" would be restarted and "inner" would live on.
  auto ev = f.next_event();
  CHECK(ev.kind == event_kind::exited);
  CHECK(ev.child == "inner");
  CHECK(ev.reason.find("kill") != std::string::npos);
  f.wait_for(event_kind::restarted, "inner");
  CHECK(f.child_of(sup, "inner") != before);
  // As in OTP, the killed supervisor's links take its children down with it: the assassin
  // does not live on, orphaned.
  CHECK(f.wait_down(assassin, std::chrono::seconds{5}) == caf::exit_reason::kill);
}

TEST_CASE("a permanent child is restarted even after a normal exit") {
  fixture f;
  auto sup = start_tree(f, {typed("p", restart_type::permanent)});
  quit_as(f, f.child_of(sup, "p"), how_to_quit::normal);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited p", "restarted p"});
}

TEST_CASE("a transient child is not restarted after normal, shutdown or {shutdown, Term}") {
  fixture f;
  auto sup = start_tree(f,
                        {typed("n", restart_type::transient), typed("s", restart_type::transient),
                         typed("t", restart_type::transient)});
  quit_as(f, f.child_of(sup, "n"), how_to_quit::normal);
  CHECK(f.next_event().reason == "normal");
  quit_as(f, f.child_of(sup, "s"), how_to_quit::shutdown);
  CHECK(f.next_event().reason == "shutdown");
  quit_as(f, f.child_of(sup, "t"), how_to_quit::shutdown_term);
  CHECK(f.next_event().reason == "shutdown: done");
  auto children = which_children(sup);
  REQUIRE(children);
  REQUIRE(children->size() == 3); // specs are kept
  for (auto& c : *children)
    CHECK(c.status == child_status::stopped);
  // And the spec can be restarted by hand.
  CHECK(restart_child(sup, "n"));
}

TEST_CASE("a transient child is restarted after an abnormal exit") {
  fixture f;
  auto sup = start_tree(f, {typed("t", restart_type::transient)});
  quit_as(f, f.child_of(sup, "t"), how_to_quit::crash);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited t", "restarted t"});
  f.tell(f.child_of(sup, "t"), crash_atom::value);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited t", "restarted t"});
}

TEST_CASE("a temporary child is never restarted and is removed") {
  fixture f;
  auto sup = start_tree(f,
                        {typed("x", restart_type::temporary), typed("y", restart_type::temporary)});
  f.tell(f.child_of(sup, "x"), crash_atom::value);
  CHECK(brief(f.next_event()) == "exited x");
  quit_as(f, f.child_of(sup, "y"), how_to_quit::normal);
  CHECK(brief(f.next_event()) == "exited y");
  CHECK(count_children(sup)->specs == 0);
}

TEST_CASE("temporary children stopped as siblings under one_for_all are removed") {
  fixture f;
  auto sup = start_tree(f,
                        {typed("a", restart_type::permanent), typed("tmp", restart_type::temporary),
                         typed("c", restart_type::permanent)},
                        strategy::one_for_all);
  f.tell(f.child_of(sup, "c"), crash_atom::value);
  CHECK(f.next_events(5)
        == std::vector<std::string>{"exited c", "exited tmp", "exited a", "restarted a",
                                    "restarted c"});
  auto children = which_children(sup);
  REQUIRE(children);
  REQUIRE(children->size() == 2);
  CHECK(children->at(0).id == "a");
  CHECK(children->at(1).id == "c");
}

TEST_CASE("temporary children stopped as siblings under rest_for_one are removed") {
  fixture f;
  auto sup = start_tree(f,
                        {typed("a", restart_type::permanent), typed("tmp", restart_type::temporary),
                         typed("c", restart_type::permanent)},
                        strategy::rest_for_one);
  f.tell(f.child_of(sup, "a"), crash_atom::value);
  CHECK(f.next_events(5)
        == std::vector<std::string>{"exited a", "exited c", "exited tmp", "restarted a",
                                    "restarted c"});
  CHECK(count_children(sup)->specs == 2);
}

TEST_CASE("one_for_all also restarts a sibling that was stopped, as OTP does") {
  fixture f;
  auto sup = start_tree(f,
                        {typed("a", restart_type::permanent), typed("t", restart_type::transient)},
                        strategy::one_for_all);
  quit_as(f, f.child_of(sup, "t"), how_to_quit::normal);
  CHECK(brief(f.next_event()) == "exited t");
  f.tell(f.child_of(sup, "a"), crash_atom::value);
  CHECK(f.next_events(3) == std::vector<std::string>{"exited a", "restarted a", "restarted t"});
}

TEST_CASE("a child killed from outside is restarted, and its supervisor lives") {
  // CAF passes a child's `kill` on to its links as a fatal exit; a supervisor must take it
  // as Erlang's `killed`: an abnormal exit of that child.
  fixture f;
  auto sup = start_tree(f,
                        {typed("t", restart_type::transient), typed("p", restart_type::permanent)});
  auto before = f.child_of(sup, "t");
  caf::anon_send_exit(before, caf::exit_reason::kill);
  auto exited = f.next_event();
  CHECK(exited.child == "t");
  CHECK(exited.reason == "killed");
  CHECK(f.next_events(1) == std::vector<std::string>{"restarted t"});
  auto after = f.child_of(sup, "t");
  CHECK(after);
  CHECK(after != before);
  // A permanent one, the same; and the supervisor still answers.
  caf::anon_send_exit(f.child_of(sup, "p"), caf::exit_reason::kill);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited p", "restarted p"});
  auto counts = count_children(sup);
  REQUIRE(counts);
  CHECK(counts->active == 2);
}
