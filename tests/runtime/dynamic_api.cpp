// start_child, terminate_child, restart_child, delete_child, which_children, count_children.

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

namespace {

caf::actor empty_tree(fixture& f) {
  supervisor_spec spec;
  spec.intensity = 5;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  return *sup;
}

} // namespace

TEST_CASE("start_child adds a child after the others and returns its handle") {
  fixture f;
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto b = start_child(*sup, child("b", "echo"));
  REQUIRE(b);
  CHECK(f.ping(*b, 11) == 11);
  auto children = which_children(*sup);
  REQUIRE(children);
  REQUIRE(children->size() == 2);
  CHECK(children->at(1).id == "b");
  CHECK(children->at(1).handle == *b);
  CHECK(children->at(1).status == child_status::running);
}

TEST_CASE("start_child refuses a duplicate id: already_started or already_present") {
  fixture f;
  auto sup = empty_tree(f);
  REQUIRE(start_child(sup, child("a", "echo")));
  CHECK(is(error_of(start_child(sup, child("a", "echo"))), error::already_started));
  CHECK_FALSE(terminate_child(sup, "a"));
  CHECK(is(error_of(start_child(sup, child("a", "echo"))), error::already_present));
}

TEST_CASE("terminate_child stops a child but keeps its spec; restart_child starts it again") {
  fixture f;
  auto sup = empty_tree(f);
  auto a = start_child(sup, child("a", "echo"));
  REQUIRE(a);
  CHECK_FALSE(terminate_child(sup, "a"));
  CHECK(f.wait_down(*a) == caf::exit_reason::user_shutdown);
  auto children = which_children(sup);
  REQUIRE(children);
  CHECK(children->at(0).status == child_status::stopped);
  CHECK_FALSE(children->at(0).handle);
  CHECK(is(error_of(restart_child(sup, "nope")), error::not_found));
  auto again = restart_child(sup, "a");
  REQUIRE(again);
  CHECK(f.ping(*again, 2) == 2);
  CHECK(is(error_of(restart_child(sup, "a")), error::running));
}

TEST_CASE("delete_child removes only a stopped child's spec") {
  fixture f;
  auto sup = empty_tree(f);
  REQUIRE(start_child(sup, child("a", "echo")));
  CHECK(is(delete_child(sup, "a"), error::running));
  CHECK(is(delete_child(sup, "zz"), error::not_found));
  CHECK_FALSE(terminate_child(sup, "a"));
  CHECK_FALSE(delete_child(sup, "a"));
  CHECK(which_children(sup)->empty());
  CHECK(is(terminate_child(sup, "a"), error::not_found));
}

TEST_CASE("count_children counts specs, active children, supervisors and workers") {
  fixture f;
  supervisor_spec inner;
  supervisor_spec spec;
  spec.children = {child("a", "echo"), child("b", "echo"), child("s", "sup", inner)};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  CHECK_FALSE(terminate_child(*sup, "b"));
  auto counts = count_children(*sup);
  REQUIRE(counts);
  CHECK(counts->specs == 3);
  CHECK(counts->active == 2);
  CHECK(counts->supervisors == 1);
  CHECK(counts->workers == 2);
}

TEST_CASE("which_children reports restart counts and placements") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::restarted, "a");
  auto children = which_children(*sup);
  REQUIRE(children);
  CHECK(children->at(0).restarts == 1);
  CHECK(children->at(0).placement == placement::task);
  CHECK(children->at(0).type == child_type::worker);
}

TEST_CASE("the API works from inside an actor through request") {
  fixture f;
  auto sup = empty_tree(f);
  caf::expected<caf::actor> res{caf::error{}};
  (*f.self)
    ->request(sup, std::chrono::seconds(10), start_child_atom::value, child("a", "echo"))
    .receive([&](caf::actor& hdl) { res = hdl; }, [&](caf::error& err) { res = err; });
  REQUIRE(res);
  CHECK(f.ping(*res, 8) == 8);
}

TEST_CASE("a call to a dead supervisor fails instead of hanging") {
  fixture f;
  auto sup = empty_tree(f);
  CHECK_FALSE(stop(sup));
  f.wait_down(sup);
  CHECK_FALSE(which_children(sup, std::chrono::seconds(10)));
}
