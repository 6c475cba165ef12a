// Intensity and period at the actor level, escalation through nested supervisors, and
// retried restarts.

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using namespace std::chrono_literals;

TEST_CASE("more restarts than the intensity make the supervisor stop all and exit shutdown") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 2;
  spec.period = 60s;
  spec.children = {child("a", "echo"), child("b", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  for (int i = 0; i < 2; ++i) {
    f.tell(f.child_of(*sup, "a"), crash_atom::value);
    CHECK(f.next_events(2) == std::vector<std::string>{"exited a", "restarted a"});
  }
  auto a = f.child_of(*sup, "a");
  f.tell(a, crash_atom::value);
  CHECK(f.next_events(4)
        == std::vector<std::string>{"exited a", "intensity_reached a", "exited b", "shutdown"});
  CHECK(f.wait_down(*sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE("the default intensity is one restart in five seconds") {
  supervisor_spec spec;
  CHECK(spec.intensity == 1);
  CHECK(spec.period == caf::timespan{5s});
  fixture f;
  spec.children = {child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited a", "restarted a"});
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  CHECK(f.next_events(3)
        == std::vector<std::string>{"exited a", "intensity_reached a", "shutdown"});
}

TEST_CASE("a one_for_all restart of every child counts once against the intensity") {
  fixture f;
  supervisor_spec spec;
  spec.strategy = strategy::one_for_all;
  spec.intensity = 1;
  spec.period = 60s;
  spec.children = {child("a", "echo"), child("b", "echo"), child("c", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(3);
  f.tell(f.child_of(*sup, "b"), crash_atom::value);
  f.wait_for(event_kind::restarted, "c");
  // One restart recorded: the supervisor is still up and every child answers.
  for (auto id : {"a", "b", "c"})
    CHECK(f.ping(f.child_of(*sup, id), 5) == 5);
  // The second restart exceeds intensity 1.
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::intensity_reached, "a");
  f.wait_for(event_kind::shutdown);
}

TEST_CASE("a nested supervisor that gives up escalates to its parent, which restarts it") {
  fixture f;
  supervisor_spec inner;
  inner.intensity = 0; // gives up at the first crash
  inner.children = {child("w", "echo")};
  supervisor_spec outer;
  outer.intensity = 5;
  outer.period = 60s;
  outer.children = {child("inner", "sup", inner)};
  auto sup = f.sys->start_supervisor("root", outer);
  REQUIRE(sup);
  f.wait_for(event_kind::started, "inner");
  auto inner_sup = f.child_of(*sup, "inner");
  auto w = f.child_of(inner_sup, "w");
  f.tell(w, crash_atom::value);
  f.wait_for(event_kind::intensity_reached, "w");
  auto ev = f.wait_for(event_kind::exited, "inner");
  CHECK(ev.supervisor == "root");
  CHECK(ev.reason == "shutdown");
  f.wait_for(event_kind::restarted, "inner");
  auto again = f.child_of(*sup, "inner");
  CHECK(again != inner_sup);
  CHECK(f.ping(f.child_of(again, "w"), 9) == 9);
}

TEST_CASE("a transient parent does not restart a child supervisor that gave up") {
  fixture f;
  supervisor_spec inner;
  inner.intensity = 0;
  inner.children = {child("w", "echo")};
  supervisor_spec outer;
  auto nested = child("inner", "sup", inner);
  nested.restart = restart_type::transient;
  outer.children = {nested};
  auto sup = f.sys->start_supervisor("root", outer);
  REQUIRE(sup);
  f.wait_for(event_kind::started, "inner");
  f.tell(f.child_of(f.child_of(*sup, "inner"), "w"), crash_atom::value);
  f.wait_for(event_kind::exited, "inner");
  auto children = which_children(*sup);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->at(0).status == child_status::stopped);
}

TEST_CASE("a failed restart is tried again through a message and counts against intensity") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 10;
  spec.period = 60s;
  spec.children = {child("x", "flaky_start")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  start_failures = 2; // the next two starts fail
  f.tell(f.child_of(*sup, "x"), crash_atom::value);
  CHECK(f.next_events(4)
        == std::vector<std::string>{"exited x", "start_failed x", "start_failed x", "restarted x"});
  CHECK(f.ping(f.child_of(*sup, "x"), 2) == 2);
}

TEST_CASE("a restart that keeps failing ends in giving up, not a loop") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 3;
  spec.period = 60s;
  spec.children = {child("x", "flaky_start")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  start_failures = 1000;
  f.tell(f.child_of(*sup, "x"), crash_atom::value);
  f.wait_for(event_kind::intensity_reached, "x");
  CHECK(f.wait_down(*sup) == caf::exit_reason::user_shutdown);
}
