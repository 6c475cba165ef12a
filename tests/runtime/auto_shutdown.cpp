// significant children and auto_shutdown.

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

namespace {

child_spec significant(std::string id, restart_type r = restart_type::transient) {
  auto c = child(std::move(id), "echo");
  c.restart = r;
  c.significant = true;
  return c;
}

void quit_normally(fixture& f, const caf::actor& who) {
  f.tell(who, quit_atom::value, static_cast<int>(how_to_quit::normal));
}

} // namespace

TEST_CASE("any_significant shuts the supervisor down when a significant child ends") {
  fixture f;
  supervisor_spec spec;
  spec.auto_shutdown = auto_shutdown::any_significant;
  spec.children = {child("plain", "echo"), significant("s1"), significant("s2")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(3);
  quit_normally(f, f.child_of(*sup, "s1"));
  CHECK(f.next_events(4)
        == std::vector<std::string>{"exited s1", "exited s2", "exited plain", "shutdown"});
  CHECK(f.wait_down(*sup) == caf::exit_reason::user_shutdown);
}

TEST_CASE("all_significant shuts down only when the last significant child ends") {
  fixture f;
  supervisor_spec spec;
  spec.auto_shutdown = auto_shutdown::all_significant;
  spec.children = {child("plain", "echo"), significant("s1", restart_type::temporary),
                   significant("s2")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(3);
  f.tell(f.child_of(*sup, "s1"), crash_atom::value); // temporary: ends for any reason
  CHECK(brief(f.next_event()) == "exited s1");
  CHECK(f.ping(f.child_of(*sup, "plain"), 1) == 1); // still up
  quit_normally(f, f.child_of(*sup, "s2"));
  CHECK(f.next_events(3) == std::vector<std::string>{"exited s2", "exited plain", "shutdown"});
}

TEST_CASE("a significant transient child that crashes is restarted, not a shutdown") {
  fixture f;
  supervisor_spec spec;
  spec.auto_shutdown = auto_shutdown::any_significant;
  spec.intensity = 5;
  spec.children = {significant("s")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  f.tell(f.child_of(*sup, "s"), crash_atom::value);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited s", "restarted s"});
}

TEST_CASE("children stopped by the supervisor never trigger auto shutdown") {
  fixture f;
  supervisor_spec spec;
  spec.auto_shutdown = auto_shutdown::any_significant;
  spec.children = {significant("s"), child("plain", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_events(2);
  CHECK_FALSE(terminate_child(*sup, "s"));
  CHECK(brief(f.next_event()) == "exited s");
  CHECK(f.ping(f.child_of(*sup, "plain"), 4) == 4);
}

TEST_CASE("a significant child is refused under auto_shutdown never") {
  fixture f;
  supervisor_spec spec;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto res = start_child(*sup, significant("s"));
  REQUIRE_FALSE(res);
  CHECK(is(error_of(res), error::invalid_spec));
}
