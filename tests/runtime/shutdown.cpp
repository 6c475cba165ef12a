// Stopping children: brutal_kill, timeouts, infinity, order, and the supervisor's own stop.

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using namespace std::chrono_literals;

TEST_CASE("stopping a supervisor stops its children right to left") {
  fixture f;
  supervisor_spec spec;
  spec.children = {child("a", "echo"), child("b", "echo"), child("c", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(3);
  CHECK_FALSE(stop(*sup));
  CHECK(f.next_events(4)
        == std::vector<std::string>{"exited c", "exited b", "exited a", "shutdown"});
  CHECK(f.wait_down(*sup) == caf::exit_reason::normal);
}

TEST_CASE("brutal_kill kills the child unconditionally") {
  fixture f;
  supervisor_spec spec;
  auto c = child("s", "stubborn");
  c.shutdown = shutdown_spec::brutal_kill();
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  CHECK_FALSE(terminate_child(*sup, "s"));
  CHECK(f.next_event().reason == "killed");
}

TEST_CASE("a shutdown timeout kills a child that ignores the shutdown") {
  fixture f;
  supervisor_spec spec;
  auto c = child("s", "stubborn");
  c.shutdown = shutdown_spec::after(100ms);
  spec.children = {c, child("e", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(terminate_child(*sup, "s"));
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(f.next_event().reason == "killed");
  CHECK(took >= 100ms);
}

TEST_CASE("a shorter shutdown timeout after a longer one still holds") {
  // The supervisor arms one timer for its earliest shutdown deadline: stopping `e` (30 s,
  // exits at once) arms it for 30 s; `s` (100 ms, ignores the shutdown) comes later but is
  // due first, and must be killed then, not after 30 s.
  fixture f;
  supervisor_spec spec;
  auto s = child("s", "stubborn");
  s.shutdown = shutdown_spec::after(100ms);
  auto e = child("e", "echo");
  e.shutdown = shutdown_spec::after(30s);
  spec.children = {s, e};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(stop(*sup));
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(f.next_events(3) == std::vector<std::string>{"exited e", "exited s", "shutdown"});
  CHECK(took >= 100ms);
  CHECK(took < 10s);
}

TEST_CASE("a shutdown timeout lets a cooperative child exit with shutdown") {
  fixture f;
  supervisor_spec spec;
  auto c = child("e", "echo");
  c.shutdown = shutdown_spec::after(30s);
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  CHECK_FALSE(terminate_child(*sup, "e"));
  CHECK(f.next_event().reason == "shutdown");
}

TEST_CASE("infinity waits for the child however long it takes") {
  fixture f;
  supervisor_spec inner;
  inner.children = {child("w", "echo")};
  supervisor_spec spec;
  auto c = child("inner", "sup", inner);
  c.shutdown = shutdown_spec::infinity();
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  CHECK_FALSE(terminate_child(*sup, "inner"));
  // The subtree goes down completely before the nested supervisor is reported down.
  CHECK(f.next_events(3) == std::vector<std::string>{"exited w", "shutdown", "exited inner"});
}

TEST_CASE("a supervisor's exit from its parent stops its children first") {
  fixture f;
  supervisor_spec inner;
  inner.children = {child("x", "echo"), child("y", "echo")};
  supervisor_spec spec;
  spec.children = {child("inner", "sup", inner), child("z", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(4);
  CHECK_FALSE(stop(*sup));
  CHECK(f.next_events(6)
        == std::vector<std::string>{"exited z", "exited y", "exited x", "shutdown", "exited inner",
                                    "shutdown"});
}

TEST_CASE("the supervisor answers calls made while it is stopping a child") {
  fixture f;
  supervisor_spec spec;
  auto c = child("s", "stubborn");
  c.shutdown = shutdown_spec::after(200ms);
  spec.children = {c, child("e", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  f.tell(*sup, terminate_child_atom::value, std::string{"s"});
  // Queued behind the stop, answered once it is done, never lost.
  auto counts = count_children(*sup, 10s);
  REQUIRE(counts);
  CHECK(counts->active == 1);
}

TEST_CASE("calls queued when a supervisor goes down are answered with an error") {
  fixture f;
  supervisor_spec spec;
  auto c = child("s", "stubborn");
  c.shutdown = shutdown_spec::after(200ms);
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  f.tell(*sup, stop_atom::value);
  auto res = which_children(*sup, 10s);
  CHECK_FALSE(res);
}
